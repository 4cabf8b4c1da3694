"""Password hashing (argon2id via pwdlib) and the password rules."""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources

from pwdlib import PasswordHash

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHash.recommended()
# A verify against this hash keeps the time of a login for an unknown user the same as a real one.
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")


@cache
def common_passwords() -> frozenset[str]:
    """The 20,000 most common passwords, bundled (see portfolio/data/COMMON-PASSWORDS.txt)."""
    data = resources.files("portfolio").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 1024:
        return "must be at most 1024 characters"
    lowered = password.strip().lower()
    if lowered in common_passwords():
        return "is one of the most common passwords; choose one that is harder to guess"
    if username and username.lower() in lowered:
        return "must not contain the username"
    if len(set(password)) < 4:
        return "is too repetitive; use more different characters"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)
