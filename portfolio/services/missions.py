"""Use cases. Each takes primitives or domain models plus a unit of work, so the web form, the
JSON API and the CLI all call the same function. Every change writes its audit entry in the same
transaction, and nothing is written when a rule is broken.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from pydantic import BaseModel

from portfolio.adapters.exchange import MemberRole, MissionDocument
from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput, NotFound
from portfolio.domain.model import (
    AllocationChange,
    AuditEntry,
    Candidate,
    ContractState,
    CouncilMember,
    Mission,
    QuarterState,
    Role,
    StoredAggregate,
    User,
    check_candidate_fits_mission,
)
from portfolio.services.passwords import hash_password, password_problem, verify_password

SYSTEM = "system"


def _json(model: BaseModel | None) -> dict[str, Any] | None:
    return model.model_dump(mode="json") if model is not None else None


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The top-level fields that differ, as (before, after) dictionaries."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    keys += [k for k in before if k not in after]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def record(
    uow: UnitOfWork,
    actor: str,
    mission: str | None,
    entity: str,
    entity_id: str,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Write one audit entry in the current transaction."""
    uow.audit.add(
        AuditEntry(
            at=uow.now(),
            actor=actor,
            mission=mission,
            entity=entity,
            entity_id=entity_id,
            action=action,
            before=before,
            after=after,
        )
    )


# -- users and roles -------------------------------------------------------------------------
def create_user(uow: UnitOfWork, actor: str, user: User, password: str | None) -> None:
    if password is not None and (problem := password_problem(password, user.username)):
        raise InvalidInput.single("password", problem)
    uow.users.add(user, hash_password(password) if password is not None else None)
    record(uow, actor, None, "user", user.username, "created", after=_json(user))


def update_user(uow: UnitOfWork, actor: str, user: User) -> None:
    before = _json(uow.users.get(user.username)) or {}
    uow.users.update(user)
    old, new = changed(before, _json(user) or {})
    if new:
        record(uow, actor, None, "user", user.username, "updated", old, new)
        if not user.active:
            uow.sessions.remove_for_user(user.username)
            revoke_all_api_tokens(uow, actor, user.username, "user disabled")


def set_password(
    uow: UnitOfWork,
    actor: str,
    username: str,
    password: str,
    *,
    keep_session: str | None = None,
    field: str = "password",
) -> int:
    """Set a new password (by the rules): every session ends but ``keep_session`` (the hash of
    the caller's own, when users change their own password), and every API token is deleted.
    Returns how many tokens were revoked."""
    if problem := password_problem(password, username):
        raise InvalidInput.single(field, problem)
    uow.users.set_password_hash(username, hash_password(password))
    uow.sessions.remove_for_user(username, keep=keep_session)
    record(uow, actor, None, "user", username, "password changed")
    return revoke_all_api_tokens(uow, actor, username, "password changed")


def change_own_password(
    uow: UnitOfWork,
    username: str,
    current: str,
    new: str,
    confirm: str,
    *,
    keep_session: str | None,
) -> int:
    """A signed-in user changes their own password: the current one is required, the new one
    follows the rules for new passwords; other sessions end and API tokens are revoked."""
    if not verify_password(current, uow.users.password_hash(username)):
        raise InvalidInput.single("current_password", "is not right")
    errors = []
    if problem := password_problem(new, username):
        errors.append(("new_password", problem))
    elif new == current:
        errors.append(("new_password", "must be different from the current password"))
    if new != confirm:
        errors.append(("confirm_password", "does not match the new password"))
    if errors:
        raise InvalidInput(errors)
    return set_password(uow, username, username, new, keep_session=keep_session)


def authenticate(uow: UnitOfWork, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same work done either way)."""
    user = uow.users.find(username)
    ok = verify_password(password, uow.users.password_hash(username) if user else None)
    return user if ok and user is not None and user.active else None


def assign_role(uow: UnitOfWork, actor: str, mission: str, username: str, role: Role) -> None:
    if role is Role.mission_ceo:
        others = [
            r.username
            for r in uow.missions.roles(mission)
            if r.role is Role.mission_ceo and r.username != username
        ]
        if others:
            raise Conflict(f"the mission already has a Mission CEO ({others[0]})")
    if uow.missions.assign(mission, username, role):
        record(
            uow,
            actor,
            mission,
            "role",
            f"{username}:{role.value}",
            "granted",
            after={"username": username, "role": role.value},
        )


def remove_role(uow: UnitOfWork, actor: str, mission: str, username: str, role: Role) -> None:
    if not uow.missions.unassign(mission, username, role):
        raise NotFound(f"{username} does not hold {role.value} on {mission}")
    record(
        uow,
        actor,
        mission,
        "role",
        f"{username}:{role.value}",
        "revoked",
        before={"username": username, "role": role.value},
    )


def set_council_member(uow: UnitOfWork, actor: str, mission: str, member: CouncilMember) -> None:
    before = next((m for m in uow.missions.council(mission) if m.username == member.username), None)
    uow.missions.set_council_member(mission, member)
    record(
        uow,
        actor,
        mission,
        "council_member",
        member.username,
        "updated" if before else "added",
        _json(before),
        _json(member),
    )


TOKEN_DAYS = 90  # a new API token's lifetime unless another is chosen
TOKEN_MAX_DAYS = 365


def _token_days(value: int | str | None) -> int | None:
    """A token's lifetime in days as asked for (nothing: ``TOKEN_DAYS``), or None if it breaks
    the rule: a whole number from 1 to ``TOKEN_MAX_DAYS``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return TOKEN_DAYS
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text.isdigit() or len(text) > 4 or not 1 <= int(text) <= TOKEN_MAX_DAYS:
        return None
    return int(text)


def new_api_token(
    uow: UnitOfWork,
    actor: str,
    username: str,
    name: str,
    expires_in_days: int | str | None = None,
) -> str:
    """Create an API token for ``username`` that expires after ``expires_in_days`` days (90
    unless chosen); the plain token is returned once, never stored."""
    problems = []
    if not name.strip() or len(name) > 200:
        problems.append(("name", "give the token a name of 1-200 characters"))
    days = _token_days(expires_in_days)
    if days is None:
        problems.append(
            ("expires_in_days", f"must be a whole number of days from 1 to {TOKEN_MAX_DAYS}")
        )
    if problems or days is None:
        raise InvalidInput(problems)
    token = "mp_" + secrets.token_urlsafe(32)
    now = uow.now()
    expires_at = now + dt.timedelta(days=days)
    uow.users.add_token(
        username, name.strip(), hashlib.sha256(token.encode()).hexdigest(), now, expires_at
    )
    record(
        uow,
        actor,
        None,
        "api_token",
        username,
        "created",
        after={"name": name.strip(), "expires_at": expires_at.isoformat(timespec="seconds")},
    )
    return token


def revoke_all_api_tokens(uow: UnitOfWork, actor: str, username: str, reason: str) -> int:
    """Delete all of a user's API tokens (a password change, a disabled user); how many."""
    names = uow.users.revoke_all_tokens(username)
    if names:
        record(
            uow,
            actor,
            None,
            "api_token",
            username,
            "revoked",
            before={"names": names},
            after={"reason": reason},
        )
    return len(names)


def revoke_api_token(uow: UnitOfWork, actor: str, username: str, token_id: int) -> None:
    name = uow.users.revoke_token(username, token_id)
    record(uow, actor, None, "api_token", username, "revoked", before={"name": name})


# -- missions ----------------------------------------------------------------------------------
def create_mission(uow: UnitOfWork, actor: str, mission: Mission) -> None:
    uow.missions.add(mission)
    record(uow, actor, mission.slug, "mission", mission.slug, "created", after=_json(mission))


def update_mission(
    uow: UnitOfWork, actor: str, mission: Mission, expected_version: int | None = None
) -> None:
    """Change a mission's target, deadline, years and envelopes (slug stays). Its stored
    optimiser policy is not edited here: only starting a run sets it (`runs.start_run`)."""
    before = uow.missions.get(mission.slug)
    mission = mission.with_changes(policy=before.policy)
    problems = []
    for candidate in uow.candidates.all(mission.slug):
        for field, rule in check_candidate_fits_mission(candidate, mission):
            problems.append((field, f"candidate {candidate.id}: {rule}"))
    if problems:
        envelope_years = [
            ("envelopes" if p[0] == "eligible_envelopes" else "years", p[1]) for p in problems
        ]
        raise InvalidInput(envelope_years[:10])
    uow.missions.update(mission, expected_version)
    old, new = changed(_json(before) or {}, _json(mission) or {})
    if new:
        record(uow, actor, mission.slug, "mission", mission.slug, "updated", old, new)


# -- candidates --------------------------------------------------------------------------------
#: segregation of duties: the one way ``treasury_approved`` changes is ``approvals.decide_approval``
TREASURY_ONLY = (
    "only a Treasury reviewer sets this, by approving the Mission CEO's request on the Treasury "
    "approvals page"
)


def register_candidate(
    uow: UnitOfWork, actor: str, mission_slug: str, candidate: Candidate
) -> None:
    mission = uow.missions.get(mission_slug)
    if problems := check_candidate_fits_mission(candidate, mission):
        raise InvalidInput(problems)
    if candidate.treasury_approved:
        raise InvalidInput.single("treasury_approved", TREASURY_ONLY)
    if candidate.registered_by is None and actor != SYSTEM:
        candidate = candidate.with_changes(registered_by=actor)
    uow.candidates.add(mission_slug, candidate)
    record(uow, actor, mission_slug, "candidate", candidate.id, "created", after=_json(candidate))


def update_candidate(
    uow: UnitOfWork,
    actor: str,
    mission_slug: str,
    candidate: Candidate,
    expected_version: int | None = None,
) -> None:
    mission = uow.missions.get(mission_slug)
    before = uow.candidates.get(mission_slug, candidate.id)
    problems = check_candidate_fits_mission(candidate, mission)
    if candidate.treasury_approved != before.treasury_approved:
        problems.append(("treasury_approved", TREASURY_ONLY))
    removed = {o.id for o in before.options} - {o.id for o in candidate.options}
    for contract in uow.contracts.all(mission_slug, candidate.id):
        if contract.state is ContractState.live and contract.option in removed:
            problems.append(
                (
                    "options",
                    f"option {contract.option} is under a live contract since {contract.since}: "
                    "end the contract (on the Optimiser page) before removing the option",
                )
            )
    if problems:
        raise InvalidInput(problems)
    candidate = candidate.with_changes(registered_by=before.registered_by)
    uow.candidates.update(mission_slug, candidate, expected_version)
    old, new = changed(_json(before) or {}, _json(candidate) or {})
    if new:
        record(uow, actor, mission_slug, "candidate", candidate.id, "updated", old, new)


# -- whole-mission exchange ---------------------------------------------------------------------
def export_mission(uow: UnitOfWork, slug: str) -> MissionDocument:
    """The whole mission as one document; ``import_mission`` reads it back exactly."""
    mission = uow.missions.get(slug)
    quarters = uow.missions.quarters(slug)
    runs = sorted(uow.runs.all(slug), key=lambda r: r.id or 0)
    number = {r.id: i for i, r in enumerate(runs, start=1)}  # document-local run numbers
    runs = [r.with_changes(id=number[r.id]) for r in runs]
    roles = uow.missions.roles(slug)
    council = uow.missions.council(slug)
    usernames = sorted({r.username for r in roles} | {c.username for c in council})
    return MissionDocument(
        mission=mission,
        users=[uow.users.get(u) for u in usernames],
        roles=[MemberRole(username=r.username, role=r.role) for r in roles],
        council=council,
        candidates=uow.candidates.all(slug),
        quarters=[
            q.with_changes(approved_run=number.get(q.approved_run))
            if q.approved_run is not None
            else q
            for q in quarters
        ],
        scores=uow.scores.all(slug),
        evidence=uow.evidence.all(slug),
        challenges=[c for _, c in uow.challenges.all(slug)],
        seed_questions=uow.seeds.questions(slug),
        seed_answers=uow.seeds.answers(slug),
        aggregates=uow.aggregates.all(slug),
        runs=runs,
        changes=uow.cycle.changes(slug),
        dissents=uow.cycle.dissents(slug),
        updates=uow.cycle.updates(slug),
        trajectory=uow.cycle.trajectory(slug),
        packs={q.label: pack for q in quarters if (pack := uow.missions.pack(slug, q.label))},
        audit=uow.audit.chain(slug),  # oldest first, with the seals (issue 16)
        # database ids are not part of the document: an import numbers them afresh
        spend=[e.with_changes(id=None) for e in uow.spend.all(slug)],
        contracts=[c.with_changes(id=None) for c in uow.contracts.all(slug)],
        treasury_approvals=[a.with_changes(id=None) for a in uow.approvals.all(slug)],
    )


def import_mission(uow: UnitOfWork, actor: str, document: MissionDocument) -> None:
    """Load a whole mission, all or nothing. Users not yet known are created without a password
    (an administrator sets one); existing users are left as they are."""
    slug = document.mission.slug
    if uow.missions.exists(slug):
        raise Conflict(f"a mission {slug} already exists; nothing was imported")
    _import_mission_people_and_candidates(uow, document)
    _import_council_work(uow, document)
    new_ids = _import_runs(uow, document)
    for quarter in document.quarters:
        uow.missions.set_quarter(
            slug,
            quarter.label,
            approved_run_id=new_ids.get(quarter.approved_run),
            pack=document.packs.get(quarter.label),
        )
    _import_money(uow, document)
    _import_quarterly_cycle(uow, document)
    for quarter in document.quarters:  # last, once all of a quarter's rows are in
        if quarter.state is not QuarterState.open:
            uow.missions.set_quarter(slug, quarter.label, state=quarter.state.value)
    for entry in document.audit:
        uow.audit.restore(entry)  # as exported: its seals are checked, not remade
    record(
        uow,
        actor,
        None,
        "mission",
        slug,
        "imported",
        after={
            "candidates": len(document.candidates),
            "scores": len(document.scores),
            "evidence": len(document.evidence),
            "audit_entries": len(document.audit),
        },
    )
    uow.flush()


def _import_mission_people_and_candidates(uow: UnitOfWork, document: MissionDocument) -> None:
    """The users not yet known, the mission, its roles, council and candidates, and its quarters
    (open until their runs are in: closed ones take no runs)."""
    slug = document.mission.slug
    for user in document.users:
        if uow.users.find(user.username) is None:
            uow.users.add(user, None)
    uow.missions.add(document.mission)
    for role in document.roles:
        uow.missions.assign(slug, role.username, role.role)
    for member in document.council:
        uow.missions.set_council_member(slug, member)
    for candidate in document.candidates:
        uow.candidates.add(slug, candidate)
    for quarter in document.quarters:
        uow.missions.add_quarter(
            slug, quarter.with_changes(approved_run=None, state=QuarterState.open)
        )
    uow.flush()


def _import_council_work(uow: UnitOfWork, document: MissionDocument) -> None:
    """The council's scores, evidence, challenges, seed questions and answers, and the pooled
    estimates of each quarter."""
    slug = document.mission.slug
    for score in document.scores:
        uow.scores.add(slug, score)
    for evidence in document.evidence:
        uow.evidence.add(slug, evidence)
    for challenge in document.challenges:
        uow.challenges.add(slug, challenge)
    for question in document.seed_questions:
        uow.seeds.add_question(slug, question)
    for answer in document.seed_answers:
        uow.seeds.set_answer(slug, answer)
    by_quarter: dict[str, list[StoredAggregate]] = {}
    for aggregate in document.aggregates:
        by_quarter.setdefault(aggregate.quarter, []).append(aggregate)
    for label, aggregates in by_quarter.items():
        uow.aggregates.replace(slug, label, aggregates)


def _import_runs(uow: UnitOfWork, document: MissionDocument) -> dict[int | None, int]:
    """The optimiser runs with their outcome; returns each exported run id's new id."""
    slug = document.mission.slug
    new_ids = {run.id: uow.runs.add(slug, run) for run in document.runs}
    for run in document.runs:
        uow.runs.update(
            new_ids[run.id],
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            result=run.result_document(),
            progress=run.progress,
            error=run.error,
        )
    return new_ids


def _import_money(uow: UnitOfWork, document: MissionDocument) -> None:
    """The spend ledger, the contracts and the Treasury approvals."""
    slug = document.mission.slug
    for spent in document.spend:
        uow.spend.add(slug, spent)
    for contract in document.contracts:
        uow.contracts.add(slug, contract)
    for approval in document.treasury_approvals:
        uow.approvals.add(slug, approval)


def _import_quarterly_cycle(uow: UnitOfWork, document: MissionDocument) -> None:
    """Each quarter's allocation changes, the dissents, the quarterly letters and the planned
    trajectory."""
    slug = document.mission.slug
    changes_by: dict[str, list[AllocationChange]] = {}
    for change in document.changes:
        changes_by.setdefault(change.quarter, []).append(change)
    for label, changes in changes_by.items():
        uow.cycle.set_changes(slug, label, changes)
    for dissent in document.dissents:
        uow.cycle.add_dissent(slug, dissent)
    for update in document.updates:
        uow.cycle.set_update(slug, update)
    if document.trajectory:
        uow.cycle.set_trajectory(slug, document.trajectory)
