"""Links area: versioned short links, rules, bulk import/export, health checks, rollback (SPEC §4)."""
