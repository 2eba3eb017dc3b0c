"""Compliance reports: aggregation in the database, exports to JSON, CSV, XLSX and PDF."""
