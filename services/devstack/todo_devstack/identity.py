"""The local issuer's users (:mod:`todo_devstack.issuer` serves them; its key is a jwks.Signer).

Users are kept in ``<data dir>/issuer/users.json`` so that a user's ``sub`` (the API's owner
of their todos) survives a restart of ``make dev``, as a Cognito user does. Passwords are
stored as scrypt hashes. The signing key is generated at every start and never written
down: a restart is a key rotation, which the API follows by its ``kid`` (docs/auth.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL = 254
MIN_PASSWORD = 8
MAX_PASSWORD = 256
# scrypt at a laptop's interactive cost: ~50 ms, 16 MiB.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class UserError(Exception):
    """A sign-in or sign-up refused; ``str()`` is the sentence shown on the form."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class StoreError(Exception):
    """The users file cannot be used; ``str()`` is one line naming it."""


@dataclass(frozen=True)
class User:
    email: str
    sub: str
    salt: str
    hash: str


def _hash(password: str, salt: str) -> str:
    return hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT).hex()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_new_credentials(email: str, password: str) -> None:
    if len(email) > MAX_EMAIL or not EMAIL.fullmatch(email):
        raise UserError("Enter a valid email address.")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"The password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters.")


class UserStore:
    """Users by email, saved to ``path`` after every change (None: in memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.users: dict[str, User] = _load(path) if path is not None else {}

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        rows = [asdict(user) for user in self.users.values()]
        temporary.write_text(json.dumps({"users": rows}, indent=2), encoding="utf-8")
        temporary.replace(self.path)

    def sign_up(self, email: str, password: str) -> User:
        email = normalize_email(email)
        check_new_credentials(email, password)
        if email in self.users:
            raise UserError(
                "An account with this email already exists. Sign in instead.", status=409
            )
        return self._put(email, password, sub=str(uuid.uuid4()))

    def ensure(self, email: str, password: str) -> User:
        """The user with this password, created if missing (the demo user, at start)."""
        email = normalize_email(email)
        existing = self.users.get(email)
        if existing is not None and hmac.compare_digest(
            _hash(password, existing.salt), existing.hash
        ):
            return existing
        return self._put(email, password, sub=existing.sub if existing else str(uuid.uuid4()))

    def _put(self, email: str, password: str, *, sub: str) -> User:
        salt = secrets.token_hex(16)
        user = User(email=email, sub=sub, salt=salt, hash=_hash(password, salt))
        self.users[email] = user
        self._save()
        return user

    def sign_in(self, email: str, password: str) -> User:
        user = self.users.get(normalize_email(email))
        # Hash even for an unknown email, so the answer takes as long either way.
        salt = user.salt if user else "00" * 16
        digest = _hash(password[:MAX_PASSWORD], salt)
        if user is None or not hmac.compare_digest(digest, user.hash):
            raise UserError("Incorrect email or password.", status=401)
        return user

    def by_sub(self, sub: str) -> User | None:
        return next((user for user in self.users.values() if user.sub == sub), None)


def _load(path: Path) -> dict[str, User]:
    if not path.exists():
        return {}
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["users"]
        users = [User(**row) for row in rows]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StoreError(f"{path}: not a users file ({error}); delete it") from None
    return {user.email: user for user in users}
