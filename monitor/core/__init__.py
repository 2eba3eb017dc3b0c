"""The pure domain core: standards, durations, calendars, clocks and SMART checks.

Nothing in this package imports Flask, SQLAlchemy or paho, so every rule here is tested with
plain data and an explicit ``now``.
"""
