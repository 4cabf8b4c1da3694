"""Password hashing (argon2id via pwdlib) and the password rules."""

from __future__ import annotations

from pwdlib import PasswordHash

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHash.recommended()
# A verify against this hash keeps the time of a login for an unknown user the same as a real one.
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 1024:
        return "must be at most 1024 characters"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)
