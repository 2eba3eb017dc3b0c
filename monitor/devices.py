"""Provisioning devices into Mosquitto's password and ACL files (SPEC §8 ``devices provision``).

A device logs in as ``SITE.DEVICE`` and may publish only under ``P/SITE/DEVICE/`` and read its
site's alerts. Mosquitto's ``%u`` ACL patterns substitute the whole username into one topic
level, so no pattern can split ``SITE.DEVICE``: each device gets its own ``user`` block.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from pathlib import Path

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ITERATIONS = 101  # what mosquitto_passwd writes for its $7$ (PBKDF2-SHA512) hashes


def password_line(username: str, password: str, salt: bytes | None = None) -> str:
    """A Mosquitto 2 password-file line, as ``mosquitto_passwd`` would write it."""
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS)
    return f"{username}:$7${_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl_block(username: str, prefix: str, site: str, device: str) -> str:
    return (f"user {username}\n"
            f"topic write {prefix}/{site}/{device}/events\n"
            f"topic write {prefix}/{site}/{device}/status\n"
            f"topic read {prefix}/{site}/alerts\n")


def _replace_or_append(path: Path, start: str, block: str, end_blank: bool) -> None:
    """Replace the lines that belong to ``start`` (a password line or a user block), else append."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    kept, skipping = [], False
    for line in lines:
        if line.startswith(start):
            skipping = end_blank  # an ACL block runs until the next blank line
            continue
        if skipping:
            if line.strip():
                continue
            skipping = False
        kept.append(line)
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    if end_blank and kept and kept[-1].strip():
        kept.append("\n")
    path.write_text("".join(kept) + block + ("\n" if end_blank else ""))


def provision(site: str, device: str, passwd_file: Path, acl_file: Path, prefix: str) -> tuple[str, str]:
    """Add or replace the device; returns (username, password). Only the hash is written."""
    for label, value in (("site", site), ("device", device)):
        if not NAME.match(value):
            raise ValueError(f"{label} {value!r} must match [A-Za-z0-9_-]{{1,64}}")
    username = f"{site}.{device}"
    password = secrets.token_urlsafe(24)
    _replace_or_append(passwd_file, f"{username}:", password_line(username, password) + "\n", end_blank=False)
    _replace_or_append(acl_file, f"user {username}\n", acl_block(username, prefix.rstrip("/"), site, device),
                       end_blank=True)
    return username, password
