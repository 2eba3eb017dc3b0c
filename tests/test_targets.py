"""A changed target with a description that still names the old one is found, in English and Chinese."""
from __future__ import annotations


import pytest

from monitor.core.targets import stale_descriptions
from monitor.loader import load_set

FILE = """\
events: {{a: A starts, b: B stops}}
standards:
  - id: s
    name: Serve
    description: {description}
    start: a
    stop: b
    within: {within}
    goal: {{ratio: 0.9, per: day}}
"""


def standards(description: str, within: str):
    return load_set({"f.yaml": (FILE.format(description=description, within=within), 1)}).standards


@pytest.mark.parametrize("description, old, new, stale", [
    ("Served within 2 minutes.", "2m", "3m", "2 minutes"),
    ("Served within 2 min.", "2m", "5m", "2 min"),
    ("Served within 120 seconds.", "2m", "3m", "120 seconds"),
    ("Served within 1 hour.", "1h", "2h", "1 hour"),
    ("2分钟内上菜。", "2m", "3m", "2分钟"),
    ("Served within 2 minutes.", "2m", "2m", None),         # target unchanged
    ("Served within 3 minutes.", "2m", "3m", None),         # text already says the new one
    ("Served within 12 minutes.", "2m", "3m", None),        # "12" is not "2"
    ("Served promptly.", "2m", "3m", None),                 # names no target at all
])
def test_a_stale_target_in_the_text_is_named(description, old, new, stale):
    warnings = stale_descriptions(standards(description, old), standards(description, new))
    if stale is None:
        assert warnings == []
    else:
        assert [str(w) for w in warnings] == [f"s: the target changed from {old} to {new}, but the text still says “{stale}”"]


def test_a_new_standard_is_not_compared_with_anything():
    assert stale_descriptions([], standards("Served within 2 minutes.", "3m")) == []
