"""The pages of each role, one module per role (inspector, supervisor, auditor), each with `router` and `NAV`
(the role's navigation links: (label, path) pairs, shown by base.html in that order)."""
