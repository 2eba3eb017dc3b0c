"""Who is asking: bearer tokens (devices, scripts) and login sessions (people), bound to roles."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from functools import lru_cache

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from monitor.core.messages import MessageError, msg
from monitor.core.roles import ROLES
from monitor.store.models import Token, User, WebSession

ANY = ROLES


@dataclass(frozen=True)
class Identity:
    name: str
    role: str
    sites: frozenset[str] | None = None  # None: every site
    #: what a login session opened with this identity stays bound to (see monitor.api.sessions)
    user_id: int | None = None
    token_id: str | None = None
    credential: str | None = None  # bootstrap admin: "admin-token" or "admin-password"

    def may(self, roles: Sequence[str]) -> bool:
        return self.role == "admin" or self.role in roles


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise MessageError(msg("unknown role {role}; choose one of {roles}", role=repr(role), roles=", ".join(ROLES)))
    return role


def create_token(session: Session, role: str, sites: Sequence[str] = (), name: str = "") -> tuple[Token, str]:
    """Store a new token's hash and return the secret, which is never stored."""
    secret = "smk_" + secrets.token_urlsafe(32)
    token = Token(id=secrets.token_hex(6), name=name or role, role=check_role(role), sites=list(sites),
                  secret_hash=_digest(secret), created_at=datetime.now(timezone.utc))
    session.add(token)
    return token, secret


def revoke_token(session: Session, token_id: str) -> bool:
    """Revoke a token and end, in the same transaction, every login session opened with it."""
    token = session.get(Token, token_id)
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = datetime.now(timezone.utc)
    session.execute(delete(WebSession).where(WebSession.token_id == token_id))
    return True


def identify_token(session: Session, secret: str, admin_token: str = "") -> Identity | None:
    if admin_token and hmac.compare_digest(secret.encode(), admin_token.encode()):
        return Identity("admin-token", "admin", credential="admin-token")
    token = session.scalar(select(Token).where(Token.secret_hash == _digest(secret), Token.revoked_at.is_(None)))
    if token is None:
        return None
    return token_identity(token)


def token_identity(token: Token) -> Identity:
    return Identity(f"token:{token.name}", token.role, frozenset(token.sites) if token.sites else None,
                    token_id=token.id)


def create_user(session: Session, name: str, role: str, password: str) -> User:
    if len(password) < 8:
        raise MessageError(msg("a password needs at least 8 characters"))
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise MessageError(msg("user {name} already exists", name=repr(name)))
    user = User(name=name, role=check_role(role), password_hash=generate_password_hash(password),
                created_at=datetime.now(timezone.utc))
    session.add(user)
    return user


def remove_user(session: Session, name: str) -> bool:
    """Delete a login and end its sessions at once (same transaction)."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        return False
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.delete(user)
    return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash made like every stored one, for names that match no user (see check_login)."""
    return generate_password_hash(secrets.token_urlsafe(16))


def check_login(session: Session, name: str, password: str, admin_password: str = "") -> Identity | None:
    if name == "admin" and admin_password and hmac.compare_digest(password.encode(), admin_password.encode()):
        return Identity("admin", "admin", credential="admin-password")
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        # The same hashing work as a wrong password, so the answer's timing tells no one which
        # names exist (SPEC §6).
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user_identity(user)


def user_identity(user: User) -> Identity:
    return Identity(user.name, user.role, user_id=user.id)
