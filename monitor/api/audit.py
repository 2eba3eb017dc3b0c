"""Placeholder: filled in by the audit work."""
