"""``python -m monitor lint [PATH…]``: validate standards files and show static SMART findings.

Made for CI: validation errors print as ``FILE:LINE:COL: message`` (editors and CI annotations
jump to them) and exit 1; so does a static SMART ``fail`` (SPEC §8). The files given are checked
as one set, as the service loads them: catalogues merge and ids must be unique across them, so
lint the whole standards directory rather than one file of it.
"""
from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Sequence, TextIO

from monitor.core.smart import CRITERIA, Status, static_findings, static_grade
from monitor.core.standards import StandardSet
from monitor.loader import Problem, StandardsError, load_set, read_text

DEFAULT_PATHS = ("standards",)


def main(paths: Sequence[str], today: date | None = None, out: TextIO | None = None) -> int:
    """Lint files and directories (each ``*.yaml`` directly inside); 0 clean, 1 on any error or fail."""
    today = today or date.today()
    out = out or sys.stdout  # looked up now, not at import: the CLI's stdout may be redirected
    texts, problems = _collect(paths or DEFAULT_PATHS)
    standard_set = None
    try:
        standard_set = load_set(texts)
    except StandardsError as exc:
        problems.extend(exc.problems)
    if problems or standard_set is None:
        for problem in sorted(problems):
            print(problem, file=out)
        print(f"{len(problems)} problem(s): the standards were not loaded.", file=out)
        return 1
    return _report(standard_set, today, out)


def _collect(paths: Sequence[str]) -> tuple[dict[str, tuple[str, int]], list[Problem]]:
    """Texts by the name to show (as given on the command line), each file once."""
    texts: dict[str, tuple[str, int]] = {}
    problems: list[Problem] = []
    seen: set[Path] = set()
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            files = [(os.path.join(arg, p.name), p) for p in sorted(path.glob("*.yaml")) if p.is_file()]
            if not files:
                problems.append(Problem(arg, 1, 1, "no *.yaml files in this directory"))
        elif path.is_file():
            files = [(arg, path)]
        else:
            problems.append(Problem(arg, 1, 1, "no such file or directory"))
            files = []
        for shown, file_path in files:
            if file_path.resolve() in seen:
                continue
            seen.add(file_path.resolve())
            try:
                texts[shown] = (read_text(file_path, shown), 1)
            except StandardsError as exc:
                problems.extend(exc.problems)
    return texts, problems


def _report(standard_set: StandardSet, today: date, out: TextIO) -> int:
    catalogue = standard_set.catalogue
    grades: list[Status] = []
    for standards_file in standard_set.files:
        print(standards_file.name, file=out)
        for standard in standards_file.standards:
            criteria = static_findings(standard, catalogue, today)
            grade = static_grade(criteria)
            grades.append(grade)
            print(f"  {standard.id}: {grade}", file=out)
            for name in CRITERIA:
                for status, finding in criteria[name].issues:
                    print(f"    {name} {status}: {finding}", file=out)
                for suggestion in criteria[name].suggestions:
                    print(f"      suggestion: {suggestion}", file=out)
    failed = sum(1 for g in grades if g is Status.FAIL)
    warned = sum(1 for g in grades if g is Status.WARN)
    print(f"{len(grades)} standard(s) in {len(standard_set.files)} file(s): {failed} fail, {warned} warn "
          "(static checks; achievable needs stored events: python -m monitor smart)", file=out)
    return 1 if failed else 0
