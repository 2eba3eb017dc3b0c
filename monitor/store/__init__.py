"""Storage: tables, the database handle, migrations and the audit hash chain."""
