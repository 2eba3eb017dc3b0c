"""Benchmarks for smartmon (issue #7): ``python -m bench [--quick] [--only NAME] [--db sqlite|postgresql|both]``.

Every figure is measured next to a reference taken in the same run (a bare MQTT subscriber, a plain
SQL query, an empty database, the replay tool alone), because absolute figures drift on a shared
machine. Everything runs on loopback, in bounded loops, and stops by itself.
"""
