"""Dict-backed repositories: the harness's store and the reference for the contract suite."""
