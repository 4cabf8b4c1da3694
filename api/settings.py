"""Deployment settings, read from the environment; unsafe values are refused at start-up."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from portfolio.adapters.database import DEFAULT_DB_PATH, sqlite_url


def _flag(name: str, *, default: bool) -> bool:
    """An on/off environment variable: 1/true/yes/on turn it on, anything else off; ``default``
    when unset or empty."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "on")


#: the environment variable that passes ``serve --workers N``'s settings to its processes
WORKER_SETTINGS = "MP_WORKER_SETTINGS"


class Settings(BaseModel):
    database_url: str = Field(default_factory=lambda: sqlite_url(DEFAULT_DB_PATH))
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(48))
    session_idle_minutes: int = Field(60, ge=1)
    session_absolute_hours: int = Field(12, ge=1)
    require_2fa: bool = Field(
        False, description="every user must turn on two-factor authentication (TOTP)"
    )
    max_upload_bytes: int = Field(5_000_000, ge=1024)
    max_body_bytes: int = Field(
        1_000_000, ge=1024, description="any request body but an upload (api/body_limit.py)"
    )
    run_jobs_inline: bool = False
    auto_analyses: bool = Field(
        default_factory=lambda: _flag("MP_AUTO_ANALYSES", default=True),
        description="when a run finds a portfolio, queue its frontier, core index and price of "
        "policy on the analysis thread (MP_AUTO_ANALYSES=0 turns it off)",
    )

    @field_validator("secret_key")
    @classmethod
    def _strong(cls, value: str) -> str:
        if len(value) < 32:
            raise ValueError("MP_SECRET_KEY must be at least 32 characters")
        return value

    def history_key(self) -> bytes | None:
        """The key that seals the audit trail and the audit packs (HMAC-SHA-256, issue 16):
        derived from ``MP_SECRET_KEY``, never stored in the database, so the history cannot be
        recomputed from the database alone. None when no secret key was configured: the random
        per-process default could never be checked again, so the history is then chained but
        not sealed (``mission-portfolio verify`` says so). Keep MP_SECRET_KEY stable: entries
        sealed under another key no longer verify."""
        if "secret_key" not in self.model_fields_set:
            return None
        return hmac.new(
            self.secret_key.encode("utf-8"),
            b"mission-portfolio/services/history-seal/v1",
            hashlib.sha256,
        ).digest()

    def for_workers(self) -> str:
        """These settings for the processes of ``serve --workers N``, as the value of the
        environment variable ``WORKER_SETTINGS``: every value, the secret key too (every process
        must sign sessions and messages alike, even with a generated key), and which were
        configured (``history_key`` seals the history only with a configured key)."""
        return json.dumps(
            {"values": self.model_dump(mode="json"), "configured": sorted(self.model_fields_set)}
        )

    @classmethod
    def from_workers(cls) -> Settings:
        """The settings ``for_workers`` passed on; from the environment as usual without them."""
        passed = os.environ.get(WORKER_SETTINGS)
        if not passed:
            return cls.from_env()
        data = json.loads(passed)
        checked = cls.model_validate(data["values"])
        return cls.model_construct(_fields_set=set(data["configured"]), **checked.model_dump())

    @classmethod
    def from_env(cls, db_path: str | Path | None = None) -> Settings:
        """Settings from ``DATABASE_URL``, ``MP_SECRET_KEY`` and friends; ``db_path`` (the
        ``--db`` option) wins over ``DATABASE_URL``."""
        values: dict[str, object] = {}
        if db_path is not None:
            values["database_url"] = sqlite_url(db_path)
        elif os.environ.get("DATABASE_URL"):
            values["database_url"] = os.environ["DATABASE_URL"]
        if os.environ.get("MP_SECRET_KEY"):
            values["secret_key"] = os.environ["MP_SECRET_KEY"]
        if os.environ.get("MP_REQUIRE_2FA"):
            values["require_2fa"] = os.environ["MP_REQUIRE_2FA"].lower() in ("1", "true", "yes")
        if os.environ.get("MP_MAX_BODY_BYTES"):
            values["max_body_bytes"] = os.environ["MP_MAX_BODY_BYTES"]
        if os.environ.get("MP_SESSION_IDLE_MINUTES"):
            values["session_idle_minutes"] = os.environ["MP_SESSION_IDLE_MINUTES"]
        return cls.model_validate(values)
