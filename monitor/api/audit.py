"""GET /audit/verify (SPEC §6, §7): re-hash the live rows against the hash chain, then derive every
clock and alert row again from the chained rows (monitor/verification.py).

``?head=HASH`` (the chain head a report names) also checks that the chain still contains it.
"""
from __future__ import annotations

import re

from flask import jsonify, request

from monitor.i18n import current_translator
from monitor.api import api, require, runtime
from monitor.core.messages import msg
from monitor.errors import ApiError
from monitor import verification

_HASH = re.compile(r"[0-9a-f]{64}")


@api.get("/audit/verify")
@require("auditor")
def audit_verify():
    expected = request.args.get("head") or None
    if expected is not None and not _HASH.fullmatch(expected):
        raise ApiError(400, "bad_request", msg("head must be a chain head: 64 lowercase hex digits"),
                       {"parameter": "head"})
    rt = runtime()
    result = verification.verify(rt.db, skew=rt.config.engine.clock_skew_tolerance, expect_head=expected)
    return jsonify(result.to_json(current_translator()))
