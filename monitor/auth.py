"""Who is asking: bearer tokens (devices, scripts) and login sessions (people), bound to roles."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from monitor.store.models import Token, User

ROLES = ("device", "manager", "operations", "auditor", "admin")
ANY = ROLES


@dataclass(frozen=True)
class Identity:
    name: str
    role: str
    sites: frozenset[str] | None = None  # None: every site

    def may(self, roles: Sequence[str]) -> bool:
        return self.role == "admin" or self.role in roles


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return role


def create_token(session: Session, role: str, sites: Sequence[str] = (), name: str = "") -> tuple[Token, str]:
    """Store a new token's hash and return the secret, which is never stored."""
    secret = "smk_" + secrets.token_urlsafe(32)
    token = Token(id=secrets.token_hex(6), name=name or role, role=check_role(role), sites=list(sites),
                  secret_hash=_digest(secret), created_at=datetime.now(timezone.utc))
    session.add(token)
    return token, secret


def revoke_token(session: Session, token_id: str) -> bool:
    token = session.get(Token, token_id)
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = datetime.now(timezone.utc)
    return True


def identify_token(session: Session, secret: str, admin_token: str = "") -> Identity | None:
    if admin_token and hmac.compare_digest(secret.encode(), admin_token.encode()):
        return Identity("admin-token", "admin")
    token = session.scalar(select(Token).where(Token.secret_hash == _digest(secret), Token.revoked_at.is_(None)))
    if token is None:
        return None
    return Identity(f"token:{token.name}", token.role, frozenset(token.sites) if token.sites else None)


def create_user(session: Session, name: str, role: str, password: str) -> User:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise ValueError(f"user {name!r} already exists")
    user = User(name=name, role=check_role(role), password_hash=generate_password_hash(password),
                created_at=datetime.now(timezone.utc))
    session.add(user)
    return user


def check_login(session: Session, name: str, password: str, admin_password: str = "") -> Identity | None:
    if name == "admin" and admin_password and hmac.compare_digest(password.encode(), admin_password.encode()):
        return Identity("admin", "admin")
    user = session.scalar(select(User).where(User.name == name))
    if user is None or not check_password_hash(user.password_hash, password):
        return None
    return Identity(user.name, user.role)
