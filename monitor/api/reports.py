"""Placeholder: filled in by the reports work."""
