"""Compliance reports: the document, its formats and group keys (one registry each), SQL aggregation, renderers."""
