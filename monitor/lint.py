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
from typing import Callable, Sequence, TextIO

from monitor.core.messages import Message, msg
from monitor.core.smart import CRITERIA, CRITERION_WORDS, STATUS_WORDS, Status, static_findings, static_grade
from monitor.core.standards import StandardSet
from monitor.i18n import environment_tag, translator
from monitor.loader import Problem, StandardsError, load_set, read_text

DEFAULT_PATHS = ("standards",)


def main(paths: Sequence[str], today: date | None = None, out: TextIO | None = None,
         language: str | None = None) -> int:
    """Lint files and directories (each ``*.yaml`` directly inside); 0 clean, 1 on any error or fail.

    Messages are in ``language`` (default: the environment's, ``LC_ALL``/``LANG``); the
    ``FILE:LINE:COL:`` prefix stays as it is, for editors and CI annotations.
    """
    today = today or date.today()
    out = out or sys.stdout  # looked up now, not at import: the CLI's stdout may be redirected
    words = translator(language or environment_tag())
    texts, problems = _collect(paths or DEFAULT_PATHS)
    standard_set = None
    try:
        standard_set = load_set(texts)
    except StandardsError as exc:
        problems.extend(exc.problems)
    if problems or standard_set is None:
        for problem in sorted(problems):
            print(problem.render(words), file=out)
        print(words(msg("{count} problem(s): the standards were not loaded.", count=len(problems))), file=out)
        return 1
    return _report(standard_set, today, out, words)


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
                problems.append(Problem(arg, 1, 1, msg("no *.yaml files in this directory")))
        elif path.is_file():
            files = [(arg, path)]
        else:
            problems.append(Problem(arg, 1, 1, msg("no such file or directory")))
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


def _report(standard_set: StandardSet, today: date, out: TextIO, words: Callable[[Message], str]) -> int:
    catalogue = standard_set.catalogue
    grades: list[Status] = []
    for standards_file in standard_set.files:
        print(standards_file.name, file=out)
        for standard in standards_file.standards:
            criteria = static_findings(standard, catalogue, today)
            grade = static_grade(criteria)
            grades.append(grade)
            print(f"  {standard.id}: {words(STATUS_WORDS[grade])}", file=out)
            for name in CRITERIA:
                for status, finding in criteria[name].issues:
                    print(f"    {words(CRITERION_WORDS[name])} {words(STATUS_WORDS[status])}: {words(finding)}", file=out)
                for suggestion in criteria[name].suggestions:
                    print("      " + words(msg("suggestion: {text}", text=suggestion)), file=out)
    failed = sum(1 for g in grades if g is Status.FAIL)
    warned = sum(1 for g in grades if g is Status.WARN)
    print(words(msg("{standards} standard(s) in {files} file(s): {failed} fail, {warned} warn (static checks; "
                    "achievable needs stored events: python -m monitor smart)", standards=len(grades),
                    files=len(standard_set.files), failed=failed, warned=warned)), file=out)
    return 1 if failed else 0
