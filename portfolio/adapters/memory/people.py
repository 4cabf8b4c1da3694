"""In-memory users, sessions, missions (roles, council, quarters) and candidates: the same
methods and the same refusals as ``portfolio/adapters/repository/`` (``NotFound``,
``Conflict``), on ``Tables``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from portfolio.adapters.memory.tables import State, Token, copied
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import (
    Candidate,
    CouncilMember,
    Mission,
    Quarter,
    Role,
    RoleAssignment,
    User,
)

#: the quarter's columns as ``set_quarter`` names them -> the model's field
QUARTER_COLUMNS = {"approved_run_id": "approved_run"}


class MemoryUsers:
    def __init__(self, state: State) -> None:
        self.s = state

    def get(self, username: str) -> User:
        return copied(self.s.t.user(username))

    def find(self, username: str) -> User | None:
        user = self.s.t.users.get(username)
        return copied(user) if user else None

    def all(self) -> list[User]:
        return [copied(self.s.t.users[u]) for u in sorted(self.s.t.users)]

    def add(self, user: User, password_hash: str | None) -> None:
        if user.username in self.s.t.users:
            raise Conflict(f"username {user.username} is already taken")
        self.s.t.users[user.username] = copied(user)
        self.s.t.passwords[user.username] = password_hash

    def update(self, user: User) -> None:
        self.s.t.user(user.username)
        self.s.t.users[user.username] = copied(user)

    def password_hash(self, username: str) -> str | None:
        return self.s.t.passwords.get(username)

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self.s.t.user(username)
        self.s.t.passwords[username] = password_hash

    def roles(self, username: str) -> list[RoleAssignment]:
        mine = [r for r in self.s.t.roles if r.username == username]
        return [copied(r) for r in sorted(mine, key=lambda r: (r.mission, r.role.value))]

    def add_token(
        self, username: str, name: str, token_hash: str, now: dt.datetime, expires_at: dt.datetime
    ) -> None:
        self.s.t.user(username)
        token_id = self.s.t.next_id("tokens")
        self.s.t.tokens[token_id] = Token(token_id, username, name, token_hash, now, expires_at)

    def tokens(self, username: str) -> list[dict[str, Any]]:
        self.s.t.user(username)
        return [
            {
                "id": t.id,
                "name": t.name,
                "created_at": t.created_at,
                "last_used_at": t.last_used_at,
                "expires_at": t.expires_at,
            }
            for t in sorted(self.s.t.tokens.values(), key=lambda t: t.id)
            if t.username == username
        ]

    def revoke_token(self, username: str, token_id: int) -> str:
        token = self.s.t.tokens.get(token_id)
        if token is None or token.username != username:
            raise NotFound("no such API token")
        del self.s.t.tokens[token_id]
        return token.name

    def revoke_all_tokens(self, username: str) -> list[str]:
        self.s.t.user(username)
        mine = [t for t in self.s.t.tokens.values() if t.username == username]
        for token in mine:
            del self.s.t.tokens[token.id]
        return [t.name for t in mine]


class MemorySessions:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, session_hash: str, username: str) -> None:
        self.s.t.user(username)
        self.s.t.sessions[session_hash] = username

    def exists(self, session_hash: str) -> bool:
        """Is the session still there (a test's question; the SQL one asks ``get``)?"""
        return session_hash in self.s.t.sessions

    def remove_for_user(self, username: str, *, keep: str | None = None) -> None:
        for session_hash, owner in list(self.s.t.sessions.items()):
            if owner == username and session_hash != keep:
                del self.s.t.sessions[session_hash]


class MemoryMissions:
    def __init__(self, state: State) -> None:
        self.s = state

    def get(self, slug: str) -> Mission:
        return copied(self.s.t.mission(slug))

    def version(self, slug: str) -> int:
        self.s.t.mission(slug)
        return self.s.t.mission_versions[slug]

    def exists(self, slug: str) -> bool:
        return slug in self.s.t.missions

    def all(self, slugs: Sequence[str] | None = None) -> list[Mission]:
        found = [m for m in self.s.t.missions.values() if slugs is None or m.slug in slugs]
        return [copied(m) for m in sorted(found, key=lambda m: m.name)]

    def add(self, mission: Mission) -> None:
        if mission.slug in self.s.t.missions:
            raise Conflict(f"a mission {mission.slug} already exists")
        self.s.t.missions[mission.slug] = copied(mission)
        self.s.t.mission_versions[mission.slug] = 1

    def update(self, mission: Mission, expected_version: int | None = None) -> None:
        self.s.t.mission(mission.slug)
        if expected_version is not None and self.version(mission.slug) != expected_version:
            raise Conflict("the mission was changed by someone else since you opened it")
        self.s.t.missions[mission.slug] = copied(mission)
        self.s.t.mission_versions[mission.slug] += 1

    # -- roles and council ------------------------------------------------------------------
    def assign(self, slug: str, username: str, role: Role) -> bool:
        self.s.t.mission(slug)
        self.s.t.user(username)
        assignment = RoleAssignment(username=username, mission=slug, role=role)
        if assignment in self.s.t.roles:
            return False
        self.s.t.roles.append(assignment)
        return True

    def unassign(self, slug: str, username: str, role: Role) -> bool:
        self.s.t.mission(slug)
        self.s.t.user(username)
        assignment = RoleAssignment(username=username, mission=slug, role=role)
        if assignment not in self.s.t.roles:
            return False
        self.s.t.roles.remove(assignment)
        return True

    def roles(self, slug: str) -> list[RoleAssignment]:
        self.s.t.mission(slug)
        return [copied(r) for r in self.s.t.roles if r.mission == slug]

    def roles_of(self, slug: str, username: str) -> set[Role]:
        return {r.role for r in self.s.t.roles if r.mission == slug and r.username == username}

    def slugs_for(self, username: str) -> list[str]:
        return sorted({r.mission for r in self.s.t.roles if r.username == username})

    def set_council_member(self, slug: str, member: CouncilMember) -> None:
        self.s.t.mission(slug)
        self.s.t.user(member.username)
        council = self.s.t.council.setdefault(slug, [])
        for i, m in enumerate(council):
            if m.username == member.username:
                council[i] = copied(member)
                return
        council.append(copied(member))

    def council(self, slug: str) -> list[CouncilMember]:
        self.s.t.mission(slug)
        return [copied(m) for m in self.s.t.council.get(slug, [])]

    # -- quarters ---------------------------------------------------------------------------
    def add_quarter(self, slug: str, quarter: Quarter) -> None:
        self.s.t.mission(slug)
        quarters = self.s.t.quarters.setdefault(slug, {})
        if quarter.label in quarters:
            raise Conflict(f"quarter {quarter.label} already exists")
        quarters[quarter.label] = copied(quarter)

    def quarters(self, slug: str) -> list[Quarter]:
        self.s.t.mission(slug)
        quarters = self.s.t.quarters.get(slug, {})
        return [copied(quarters[label]) for label in sorted(quarters)]

    def quarter(self, slug: str, label: str) -> Quarter:
        return copied(self.s.t.quarter(slug, label))

    def pack(self, slug: str, label: str) -> dict[str, Any] | None:
        self.s.t.quarter(slug, label)
        return self.s.t.packs.get((slug, label))

    def pack_digest(self, slug: str, label: str) -> str | None:
        """SHA-256 of the pack as this store holds it (its JSON, keys sorted)."""
        pack = self.pack(slug, label)
        if pack is None:
            return None
        return hashlib.sha256(json.dumps(pack, sort_keys=True).encode("utf-8")).hexdigest()

    def set_quarter(self, slug: str, label: str, **fields: Any) -> None:
        """``fields`` named as the SQL columns are (``approved_run_id``, ``pack``, …)."""
        quarter = self.s.t.quarter(slug, label)
        if "pack" in fields:
            self.s.t.packs[(slug, label)] = fields.pop("pack")
        changes = {QUARTER_COLUMNS.get(k, k): v for k, v in fields.items()}
        self.s.t.quarters[slug][label] = quarter.with_changes(**changes)

    def lock_quarter(self, slug: str, label: str) -> Quarter:
        """One unit of work at a time: nothing to lock; the quarter as stored now."""
        return self.quarter(slug, label)


class MemoryCandidates:
    def __init__(self, state: State) -> None:
        self.s = state

    def get(self, mission_slug: str, key: str) -> Candidate:
        return copied(self.s.t.candidate(mission_slug, key))

    def version(self, mission_slug: str, key: str) -> int:
        self.s.t.candidate(mission_slug, key)
        return self.s.t.candidate_versions[(mission_slug, key)]

    def all(self, mission_slug: str) -> list[Candidate]:
        found = self.s.t.candidates.get(mission_slug, {}).values()
        return [copied(c) for c in sorted(found, key=lambda c: (c.platform, c.name))]

    def state(self, mission_slug: str) -> str | None:
        """None: the fake names no states, so nothing is kept under one."""
        return None

    def count(self, mission_slug: str) -> int:
        return len(self.s.t.candidates.get(mission_slug, {}))

    def add(self, mission_slug: str, candidate: Candidate) -> None:
        self.s.t.mission(mission_slug)
        candidates = self.s.t.candidates.setdefault(mission_slug, {})
        if candidate.id in candidates:
            raise Conflict(f"a candidate with id {candidate.id} already exists in this mission")
        candidates[candidate.id] = copied(candidate)
        self.s.t.candidate_versions[(mission_slug, candidate.id)] = 1

    def update(self, mission_slug: str, candidate: Candidate, expected_version: int | None) -> None:
        before = self.s.t.candidate(mission_slug, candidate.id)
        if expected_version is not None and self.version(mission_slug, candidate.id) != (
            expected_version
        ):
            raise Conflict("this candidate was changed by someone else since you opened it")
        removed = {o.id for o in before.options} - {o.id for o in candidate.options}
        scored = {
            option
            for (slug, _, key, option, _) in self.s.t.scores
            if slug == mission_slug and key == candidate.id
        }
        for option in sorted(removed & scored):
            raise Conflict(f"option {option} has council scores and cannot be removed")
        self.s.t.candidates[mission_slug][candidate.id] = copied(candidate)
        self.s.t.candidate_versions[(mission_slug, candidate.id)] += 1
