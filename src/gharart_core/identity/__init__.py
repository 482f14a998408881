"""Identity: accounts, users, handles, members, tokens and the authorization policy."""
