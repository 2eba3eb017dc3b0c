"""Plain-data builders shared by the pure-core tests."""
from __future__ import annotations

from datetime import timedelta

from monitor.core.standards import Goal, StartCandidate, Standard


def greet_standard(**overrides) -> Standard:
    """Greet seated guests within 2 minutes (goal 95 % a week), unless told otherwise."""
    fields = dict(
        id="greet-seated-guests",
        name="Greet seated guests",
        description="A server speaks to every newly seated table within 2 minutes.",
        start=(StartCandidate("seated"),),
        stop=("greeted",),
        goal=Goal(0.95, "week"),
        within=timedelta(minutes=2),
    )
    fields.update(overrides)
    return Standard(**fields)
