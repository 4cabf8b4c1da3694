"""A second factor for local accounts: TOTP (RFC 6238, authenticator apps) with single-use
recovery codes. Secrets are generated here; recovery codes are stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

import pyotp

from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.services.missions import record

ISSUER = "Mission Portfolio"
RECOVERY_CODES = 10


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def enabled(uow: SqlUnitOfWork, username: str) -> bool:
    return uow.users.totp(username)[1]


def begin_setup(uow: SqlUnitOfWork, username: str) -> tuple[str, str]:
    """A new secret for ``username`` (not active until confirmed): (secret, otpauth URI)."""
    if enabled(uow, username):
        raise Conflict("two-factor authentication is already on; turn it off first")
    secret = pyotp.random_base32()
    uow.users.set_totp(username, secret, False, [])
    return secret, pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def pending_secret(uow: SqlUnitOfWork, username: str) -> str | None:
    secret, on, _ = uow.users.totp(username)
    return secret if secret and not on else None


def confirm_setup(uow: SqlUnitOfWork, username: str, code: str) -> list[str]:
    """Turn the second factor on once the user proves their app works; returns the recovery
    codes (shown once)."""
    secret, on, _ = uow.users.totp(username)
    if on or secret is None:
        raise Conflict("start the set-up first")
    if not pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), valid_window=1):
        raise InvalidInput.single("code", "the code is not right; check your app's clock")
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    uow.users.set_totp(username, secret, True, [_hash(c) for c in codes])
    record(uow, username, None, "user", username, "two-factor authentication on")
    return codes


def verify(uow: SqlUnitOfWork, username: str, code: str) -> bool:
    """Check a TOTP code or a recovery code (which is then used up)."""
    secret, on, recovery = uow.users.totp(username)
    if not on or secret is None:
        return False
    cleaned = code.strip().replace(" ", "")
    if cleaned.isdigit() and pyotp.TOTP(secret).verify(cleaned, valid_window=1):
        return True
    digest = _hash(cleaned)
    for stored in recovery:
        if secrets.compare_digest(stored, digest):
            uow.users.set_totp(username, secret, True, [c for c in recovery if c != stored])
            record(
                uow,
                username,
                None,
                "user",
                username,
                "recovery code used",
                after={"recovery_codes_left": len(recovery) - 1},
            )
            return True
    return False


def disable(uow: SqlUnitOfWork, actor: str, username: str, code: str | None) -> None:
    """Turn the second factor off: the user with a current code, or an administrator."""
    if code is not None and not verify(uow, username, code):
        raise InvalidInput.single("code", "the code is not right")
    uow.users.set_totp(username, None, False, [])
    uow.sessions.remove_for_user(username)
    record(uow, actor, None, "user", username, "two-factor authentication off")
