"""Candidates and their options, the evidence on them and the red team's challenges."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optimiser.pert import ThreePoint
from portfolio.adapters.orm import (
    CandidateRow,
    ChallengeRow,
    EvidenceRow,
    MissionRow,
    OptionRow,
    QuarterRow,
    ScoreRow,
)
from portfolio.adapters.repository._shared import (
    as_three_point,
    dumped,
    flush_versioned,
    remembered,
)
from portfolio.adapters.repository.missions import Missions
from portfolio.adapters.repository.read_cache import MISSION_CANDIDATES
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import Candidate, Challenge, Evidence, FundingOption

_CANDIDATE_COLUMNS = (
    CandidateRow.id,
    CandidateRow.key,
    CandidateRow.name,
    CandidateRow.description,
    CandidateRow.organisation,
    CandidateRow.organisation_type,
    CandidateRow.platform,
    CandidateRow.tier,
    CandidateRow.trl,
    CandidateRow.eligible_envelopes,
    CandidateRow.ncr,
    CandidateRow.treasury_approved,
    CandidateRow.commercially_sensitive,
    CandidateRow.registered_by,
)
_OPTION_COLUMNS = (
    OptionRow.candidate_id,
    OptionRow.key,
    OptionRow.name,
    OptionRow.cost_profile,
    OptionRow.cost_range,
    OptionRow.p_success,
    OptionRow.impact,
)


class Candidates:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, mission_slug: str, key: str) -> CandidateRow:
        row = self.session.scalar(
            select(CandidateRow)
            .join(MissionRow, CandidateRow.mission_id == MissionRow.id)
            .where(MissionRow.slug == mission_slug, CandidateRow.key == key)
        )
        if row is None:
            raise NotFound(f"no candidate {key} in mission {mission_slug}")
        return row

    @staticmethod
    def _to_model(row: Any, options: Iterable[Any]) -> Candidate:
        """The candidate of ``row`` with ``options`` (ORM rows or plain result rows: both name
        their columns as attributes)."""
        return Candidate(
            id=row.key,
            name=row.name,
            description=row.description,
            organisation=row.organisation,
            organisation_type=row.organisation_type,
            platform=row.platform,
            tier=row.tier,
            trl=row.trl,
            eligible_envelopes=list(row.eligible_envelopes),
            ncr=row.ncr,
            treasury_approved=row.treasury_approved,
            commercially_sensitive=row.commercially_sensitive,
            registered_by=row.registered_by,
            options=[
                FundingOption(
                    id=o.key,
                    name=o.name,
                    cost_profile=dict(o.cost_profile),
                    cost_range=as_three_point(o.cost_range),
                    p_success=o.p_success,
                    impact=ThreePoint.model_validate(o.impact),
                )
                for o in options
            ],
        )

    def get(self, mission_slug: str, key: str) -> Candidate:
        row = self.row(mission_slug, key)
        return self._to_model(row, row.options)

    def version(self, mission_slug: str, key: str) -> int:
        return self.row(mission_slug, key).version

    def all(self, mission_slug: str) -> list[Candidate]:
        """Every candidate of the mission with its options, by platform and name. Two plain
        queries (columns, not ORM objects: a mission of hundreds of candidates is read in a
        fraction of the time), sent once while the session writes nothing (``remembered``),
        and kept in this process's memory while the mission's ``candidates_token`` is the one
        they were read under (``read_cache``)."""
        return remembered(
            self.session, ("candidates", mission_slug), lambda: self._remembered(mission_slug)
        )

    def state(self, mission_slug: str) -> str | None:
        """The mission's ``candidates_token`` (with the mission's id): the database draws a new
        one whenever a candidate or an option of it is written; None before it has any."""
        key = self._token(mission_slug)
        return f"{key[0]}:{key[1]}" if key is not None else None

    def _token(self, mission_slug: str) -> tuple[int, str] | None:
        token = self.session.execute(
            select(MissionRow.id, MissionRow.candidates_token).where(
                MissionRow.slug == mission_slug
            )
        ).first()
        if token is None or token.candidates_token is None:
            return None
        return (token.id, token.candidates_token)

    def _remembered(self, mission_slug: str) -> list[Candidate]:
        # the token first: candidates read after it are at least as new as it says
        key = self._token(mission_slug)
        if key is None:
            return self._all(mission_slug)
        candidates = MISSION_CANDIDATES.get(key)
        if candidates is None:
            candidates = tuple(self._all(mission_slug))
            MISSION_CANDIDATES.put(key, candidates)
        return list(candidates)

    def _all(self, mission_slug: str) -> list[Candidate]:
        mission_id = select(MissionRow.id).where(MissionRow.slug == mission_slug)
        candidate_ids = select(CandidateRow.id).where(CandidateRow.mission_id.in_(mission_id))
        by_candidate: dict[int, list[Any]] = {}
        for option in self.session.execute(
            select(*_OPTION_COLUMNS)
            .where(OptionRow.candidate_id.in_(candidate_ids))
            .order_by(OptionRow.candidate_id, OptionRow.position)
        ):
            by_candidate.setdefault(option.candidate_id, []).append(option)
        rows = self.session.execute(
            select(*_CANDIDATE_COLUMNS)
            .where(CandidateRow.mission_id.in_(mission_id))
            .order_by(CandidateRow.platform, CandidateRow.name)
        )
        return [self._to_model(r, by_candidate.get(r.id, [])) for r in rows]

    def count(self, mission_slug: str) -> int:
        return (
            self.session.scalar(
                select(func.count(CandidateRow.id))
                .join(MissionRow, CandidateRow.mission_id == MissionRow.id)
                .where(MissionRow.slug == mission_slug)
            )
            or 0
        )

    def add(self, mission_slug: str, candidate: Candidate) -> None:
        mission = Missions(self.session).row(mission_slug)
        exists = self.session.scalar(
            select(CandidateRow.id).where(
                CandidateRow.mission_id == mission.id, CandidateRow.key == candidate.id
            )
        )
        if exists:
            raise Conflict(f"a candidate with id {candidate.id} already exists in this mission")
        row = CandidateRow(mission_id=mission.id, key=candidate.id, version=1)
        self._fill(row, candidate)
        self.session.add(row)
        self.session.flush()

    def update(self, mission_slug: str, candidate: Candidate, expected_version: int | None) -> None:
        row = self.row(mission_slug, candidate.id)
        if expected_version is not None and row.version != expected_version:
            raise Conflict("this candidate was changed by someone else since you opened it")
        removed = {o.key for o in row.options} - {o.id for o in candidate.options}
        for option in row.options:
            if option.key in removed and self.session.scalar(
                select(func.count(ScoreRow.id)).where(ScoreRow.option_id == option.id)
            ):
                raise Conflict(f"option {option.key} has council scores and cannot be removed")
        self._fill(row, candidate)
        flush_versioned(self.session)

    @staticmethod
    def _fill(row: CandidateRow, c: Candidate) -> None:
        row.name, row.description, row.organisation = c.name, c.description, c.organisation
        row.organisation_type, row.platform = c.organisation_type.value, c.platform
        row.tier, row.trl = c.tier.value, c.trl
        row.eligible_envelopes = list(c.eligible_envelopes)
        row.ncr, row.treasury_approved = c.ncr, c.treasury_approved
        row.commercially_sensitive, row.registered_by = c.commercially_sensitive, c.registered_by
        existing = {o.key: o for o in row.options}
        options = []
        for position, o in enumerate(c.options):
            orow = existing.get(o.id) or OptionRow(key=o.id)
            orow.name, orow.position = o.name, position
            orow.cost_profile, orow.cost_range = dict(o.cost_profile), dumped(o.cost_range)
            orow.p_success, orow.impact = o.p_success, o.impact.model_dump()
            options.append(orow)
        row.options = options

    def option_row(self, mission_slug: str, key: str, option: str) -> OptionRow:
        for orow in self.row(mission_slug, key).options:
            if orow.key == option:
                return orow
        raise NotFound(f"no option {option} of candidate {key}")


class EvidenceLog:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, mission_slug: str, evidence: Evidence) -> None:
        quarter = Missions(self.session).quarter_row(mission_slug, evidence.quarter)
        candidate = Candidates(self.session).row(mission_slug, evidence.candidate)
        data = evidence.model_dump(exclude={"candidate", "quarter"})
        data["kind"] = evidence.kind.value
        self.session.add(EvidenceRow(candidate_id=candidate.id, quarter_id=quarter.id, **data))

    def all(self, mission_slug: str, candidate: str | None = None) -> list[Evidence]:
        mission = Missions(self.session).row(mission_slug)
        query = (
            select(EvidenceRow, QuarterRow.label, CandidateRow.key)
            .join(QuarterRow, EvidenceRow.quarter_id == QuarterRow.id)
            .join(CandidateRow, EvidenceRow.candidate_id == CandidateRow.id)
            .where(CandidateRow.mission_id == mission.id)
            .order_by(EvidenceRow.date, EvidenceRow.id)
        )
        if candidate is not None:
            query = query.where(CandidateRow.key == candidate)
        return [
            Evidence(
                candidate=ckey,
                quarter=label,
                kind=e.kind,
                date=e.date,
                summary=e.summary,
                diagnosticity=e.diagnosticity,
                trl=e.trl,
                cost_actual=e.cost_actual,
                cost_planned=e.cost_planned,
                outcome=e.outcome,
                recorded_by=e.recorded_by,
                option=e.option,
            )
            for e, label, ckey in self.session.execute(query)
        ]


class Challenges:
    """Red-team challenges on candidates, with replies."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, mission_slug: str, challenge: Challenge) -> int:
        candidate = Candidates(self.session).row(mission_slug, challenge.candidate)
        row = ChallengeRow(candidate_id=candidate.id, **challenge.model_dump(exclude={"candidate"}))
        self.session.add(row)
        self.session.flush()
        return row.id

    def all(self, mission_slug: str, candidate: str | None = None) -> list[tuple[int, Challenge]]:
        mission = Missions(self.session).row(mission_slug)
        query = (
            select(ChallengeRow, CandidateRow.key)
            .join(CandidateRow, ChallengeRow.candidate_id == CandidateRow.id)
            .where(CandidateRow.mission_id == mission.id)
            .order_by(ChallengeRow.id)
        )
        if candidate is not None:
            query = query.where(CandidateRow.key == candidate)
        return [
            (
                r.id,
                Challenge(
                    candidate=key,
                    quarter=r.quarter,
                    author=r.author,
                    text=r.text,
                    created_at=r.created_at,
                    reply=r.reply,
                    replied_by=r.replied_by,
                    replied_at=r.replied_at,
                ),
            )
            for r, key in self.session.execute(query)
        ]

    def reply(
        self, mission_slug: str, challenge_id: int, text: str, by: str, at: dt.datetime
    ) -> Challenge:
        for cid, challenge in self.all(mission_slug):
            if cid == challenge_id:
                row = self.session.get(ChallengeRow, cid)
                assert row is not None
                row.reply, row.replied_by, row.replied_at = text, by, at
                return challenge
        raise NotFound(f"no challenge {challenge_id} in mission {mission_slug}")
