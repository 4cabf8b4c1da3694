"""The council's scores, seed questions and answers, and the pooled estimates frozen when
a scoring round closed."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portfolio.adapters.orm import (
    AggregateRow,
    CandidateRow,
    OptionRow,
    QuarterRow,
    ScoreRow,
    SeedAnswerRow,
    SeedQuestionRow,
    UserRow,
)
from portfolio.adapters.repository._shared import as_three_point, dumped
from portfolio.adapters.repository.candidates import Candidates
from portfolio.adapters.repository.missions import Missions
from portfolio.adapters.repository.read_cache import QUARTER_SCORES
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import (
    Score,
    ScoreStatus,
    SeedAnswer,
    SeedQuestion,
    StoredAggregate,
    SubmittedP,
)


def _seed_question(row: SeedQuestionRow) -> SeedQuestion:
    """A seed question; a true value stored before values were checked (NaN, an infinity, out of
    range, not above 0 on the log scale) reads as not yet known, so it can be recorded again."""
    fields = {"id": row.key, "question": row.question, "unit": row.unit, "scale": row.scale}
    try:
        return SeedQuestion(**fields, realization=row.realization)
    except ValidationError:
        return SeedQuestion(**fields, realization=None)


_SCORE_COLUMNS = (
    ScoreRow.status,
    ScoreRow.not_competent,
    ScoreRow.p_success,
    ScoreRow.cost,
    ScoreRow.impact,
    ScoreRow.trl,
    ScoreRow.confidence,
    ScoreRow.rationale,
)
"""What ``Scores.all`` reads of each score besides its quarter, option and member."""


def _scores_of(mission_id: int, *columns: Any) -> Select[Any]:
    """``columns`` of the mission's scores with their quarter, option, candidate and member
    joined, in the order the scores were made."""
    return (
        select(*columns)
        .join(QuarterRow, ScoreRow.quarter_id == QuarterRow.id)
        .join(OptionRow, ScoreRow.option_id == OptionRow.id)
        .join(CandidateRow, OptionRow.candidate_id == CandidateRow.id)
        .join(UserRow, ScoreRow.user_id == UserRow.id)
        .where(QuarterRow.mission_id == mission_id)
        .order_by(ScoreRow.id)
    )


class Scores:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._ids: dict[tuple[str, ...], int] = {}

    def _id(self, key: tuple[str, ...]) -> int:
        """Row ids of quarters, options and users, looked up once per unit of work."""
        if key not in self._ids:
            kind, slug, *rest = key
            if kind == "quarter":
                self._ids[key] = Missions(self.session).quarter_row(slug, rest[0]).id
            elif kind == "option":
                self._ids[key] = Candidates(self.session).option_row(slug, rest[0], rest[1]).id
            else:
                self._ids[key] = Missions(self.session)._user(rest[0]).id
        return self._ids[key]

    def version_of(self, mission_slug: str, quarter: str, member: str, candidate: str) -> int:
        """A number that changes whenever the member's scores of the candidate change."""
        total = self.session.scalar(
            select(func.coalesce(func.sum(ScoreRow.version), 0))
            .join(OptionRow, ScoreRow.option_id == OptionRow.id)
            .join(CandidateRow, OptionRow.candidate_id == CandidateRow.id)
            .where(
                ScoreRow.quarter_id == self._id(("quarter", mission_slug, quarter)),
                ScoreRow.user_id == self._id(("user", mission_slug, member)),
                CandidateRow.key == candidate,
            )
        )
        return int(total or 0)

    def replace_drafts(
        self, mission_slug: str, scores: Sequence[Score], expected_version: int | None = None
    ) -> str | None:
        """Write one member's scores of one candidate (a Score per option, all of the same
        member, quarter and candidate) over their drafts. None when written, else why nothing
        may be written: ``"submitted"`` (a stored score is submitted, and submitted scores are
        final) or ``"changed"`` (the stored scores are not at ``expected_version``, the
        ``version_of`` the caller read, or changed while this was being written).

        Each stored row is replaced by ``UPDATE … WHERE id = … AND status = 'draft' AND
        version = <the version read>`` and its row count checked; a missing row is inserted
        under the unique key (quarter, option, member). Check and write are one statement, so of
        concurrent writers at most one turns a draft into a submission and the others change
        nothing (a database trigger refuses any change to a submitted score as well)."""
        if not scores:
            return None
        first = scores[0]
        quarter_id = self._id(("quarter", mission_slug, first.quarter))
        user_id = self._id(("user", mission_slug, first.member))
        option_ids = {
            s.option: self._id(("option", mission_slug, s.candidate, s.option)) for s in scores
        }
        stored = {
            option_id: (row_id, version, status)
            for row_id, option_id, version, status in self.session.execute(
                select(ScoreRow.id, ScoreRow.option_id, ScoreRow.version, ScoreRow.status).where(
                    ScoreRow.quarter_id == quarter_id,
                    ScoreRow.user_id == user_id,
                    ScoreRow.option_id.in_(list(option_ids.values())),
                )
            )
        }
        if any(status == ScoreStatus.submitted.value for _, _, status in stored.values()):
            return "submitted"
        if expected_version is not None and expected_version != sum(
            version for _, version, _ in stored.values()
        ):
            return "changed"
        for score in scores:
            option_id = option_ids[score.option]
            if option_id not in stored:
                self.session.add(
                    ScoreRow(
                        quarter_id=quarter_id,
                        option_id=option_id,
                        user_id=user_id,
                        version=1,
                        **self._values(score),
                    )
                )
                try:
                    self.session.flush()
                except IntegrityError:  # a concurrent first save of the same score won
                    return "changed"
                continue
            row_id, version, _ = stored[option_id]
            written = self.session.execute(
                update(ScoreRow)
                .where(
                    ScoreRow.id == row_id,
                    ScoreRow.status == ScoreStatus.draft.value,
                    ScoreRow.version == version,
                )
                .values(version=ScoreRow.version + 1, **self._values(score))
                .execution_options(synchronize_session="fetch")
            )
            if written.rowcount != 1:  # type: ignore[attr-defined]
                now = self.session.scalar(select(ScoreRow.status).where(ScoreRow.id == row_id))
                return "submitted" if now == ScoreStatus.submitted.value else "changed"
        return None

    @staticmethod
    def _values(score: Score) -> dict[str, Any]:
        return {
            "status": score.status.value,
            "not_competent": score.not_competent,
            "p_success": score.p_success,
            "cost": dumped(score.cost),
            "impact": dumped(score.impact),
            "trl": score.trl,
            "confidence": score.confidence.value if score.confidence else None,
            "rationale": score.rationale,
        }

    def add(self, mission_slug: str, score: Score) -> None:
        self.session.add(
            ScoreRow(
                quarter_id=self._id(("quarter", mission_slug, score.quarter)),
                option_id=self._id(("option", mission_slug, score.candidate, score.option)),
                user_id=self._id(("user", mission_slug, score.member)),
                version=1,
                **self._values(score),
            )
        )

    def all(
        self,
        mission_slug: str,
        quarter: str | None = None,
        member: str | None = None,
        candidates: Collection[str] | None = None,
    ) -> list[Score]:
        """The mission's scores (of one quarter, of one member, of some candidates, if given),
        in the order they were made. A whole quarter's, as the scoring page and the live
        aggregates read them, comes from this process's memory while the quarter's
        ``scores_token`` is the one it was read under (``read_cache``)."""
        mission_id = Missions(self.session).row(mission_slug).id
        if quarter is None or member is not None or candidates is not None:
            return self._read(mission_id, quarter, member, candidates)
        # the token first: scores read after it are at least as new as it says
        key = self._token(mission_id, quarter)
        if key is None:
            return self._read(mission_id, quarter, None, None)
        scores = QUARTER_SCORES.get(key)
        if scores is None:
            scores = tuple(self._read(mission_id, quarter, None, None))
            QUARTER_SCORES.put(key, scores)
        return list(scores)

    def state(self, mission_slug: str, quarter: str) -> str | None:
        """The quarter's ``scores_token`` (with the quarter's id): the database draws a new one
        whenever any of its scores is written; None before it has any."""
        key = self._token(Missions(self.session).row(mission_slug).id, quarter)
        return f"{key[0]}:{key[1]}" if key is not None else None

    def _token(self, mission_id: int, quarter: str) -> tuple[int, str] | None:
        token = self.session.execute(
            select(QuarterRow.id, QuarterRow.scores_token).where(
                QuarterRow.mission_id == mission_id, QuarterRow.label == quarter
            )
        ).first()
        if token is None or token.scores_token is None:
            return None
        return (token.id, token.scores_token)

    def _read(
        self,
        mission_id: int,
        quarter: str | None,
        member: str | None,
        candidates: Collection[str] | None,
    ) -> list[Score]:
        query = _scores_of(
            mission_id,
            *_SCORE_COLUMNS,
            QuarterRow.label,
            CandidateRow.key.label("candidate"),
            OptionRow.key.label("option"),
            UserRow.username,
        )
        if quarter is not None:
            query = query.where(QuarterRow.label == quarter)
        if member is not None:
            query = query.where(UserRow.username == member)
        if candidates is not None:
            query = query.where(CandidateRow.key.in_(list(candidates)))
        # columns, not ORM objects: a quarter of a large mission has thousands of scores
        return [
            Score(
                member=s.username,
                quarter=s.label,
                candidate=s.candidate,
                option=s.option,
                status=s.status,
                not_competent=s.not_competent,
                p_success=s.p_success,
                cost=as_three_point(s.cost),
                impact=as_three_point(s.impact),
                trl=s.trl,
                confidence=s.confidence,
                rationale=s.rationale,
            )
            for s in self.session.execute(query)
        ]

    def submitted_p(self, mission_slug: str, candidates: Collection[str]) -> list[SubmittedP]:
        """The submitted p of ``candidates``' options (not "not competent"), in the order they
        were made: five columns of each score, where ``all`` builds the whole score with its
        three-points (the council's record reads every round's, tens of thousands)."""
        mission_id = Missions(self.session).row(mission_slug).id
        rows = self.session.execute(
            _scores_of(
                mission_id,
                UserRow.username,
                QuarterRow.label,
                CandidateRow.key,
                OptionRow.key,
                ScoreRow.p_success,
            ).where(
                ScoreRow.status == ScoreStatus.submitted.value,
                ScoreRow.not_competent.is_(False),
                ScoreRow.p_success.is_not(None),
                CandidateRow.key.in_(list(candidates)),
            )
        )
        return [SubmittedP(m, q, c, o, p) for m, q, c, o, p in rows if p is not None]

    def submitted_members(self, mission_slug: str, quarter: str) -> list[str]:
        """The members who have submitted any score in ``quarter``'s round, by username,
        without reading the scores."""
        quarter_id = Missions(self.session).quarter_row(mission_slug, quarter).id
        return list(
            self.session.scalars(
                select(UserRow.username)
                .where(
                    UserRow.id.in_(
                        select(ScoreRow.user_id).where(
                            ScoreRow.quarter_id == quarter_id,
                            ScoreRow.status == ScoreStatus.submitted.value,
                        )
                    )
                )
                .order_by(UserRow.username)
            )
        )


class Seeds:
    """Seed questions of a mission and the members' quantile answers."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _question_row(self, mission_slug: str, key: str) -> SeedQuestionRow:
        mission = Missions(self.session).row(mission_slug)
        row = self.session.scalar(
            select(SeedQuestionRow).where(
                SeedQuestionRow.mission_id == mission.id, SeedQuestionRow.key == key
            )
        )
        if row is None:
            raise NotFound(f"no seed question {key} in mission {mission_slug}")
        return row

    def questions(self, mission_slug: str) -> list[SeedQuestion]:
        mission = Missions(self.session).row(mission_slug)
        rows = self.session.scalars(
            select(SeedQuestionRow)
            .where(SeedQuestionRow.mission_id == mission.id)
            .order_by(SeedQuestionRow.id)
        )
        return [_seed_question(r) for r in rows]

    def add_question(self, mission_slug: str, question: SeedQuestion) -> None:
        mission = Missions(self.session).row(mission_slug)
        if any(q.id == question.id for q in self.questions(mission_slug)):
            raise Conflict(f"a seed question {question.id} already exists")
        self.session.add(
            SeedQuestionRow(
                mission_id=mission.id,
                key=question.id,
                question=question.question,
                unit=question.unit,
                scale=question.scale,
                realization=question.realization,
            )
        )
        self.session.flush()

    def update_question(self, mission_slug: str, question: SeedQuestion) -> None:
        row = self._question_row(mission_slug, question.id)
        row.question, row.unit, row.scale = question.question, question.unit, question.scale
        row.realization = question.realization

    def answers(self, mission_slug: str) -> list[SeedAnswer]:
        mission = Missions(self.session).row(mission_slug)
        rows = self.session.execute(
            select(SeedAnswerRow, SeedQuestionRow.key, UserRow.username)
            .join(SeedQuestionRow, SeedAnswerRow.question_id == SeedQuestionRow.id)
            .join(UserRow, SeedAnswerRow.user_id == UserRow.id)
            .where(SeedQuestionRow.mission_id == mission.id)
            .order_by(SeedAnswerRow.id)
        )
        answers = []
        for a, key, username in rows:
            try:
                answers.append(
                    SeedAnswer(question=key, member=username, q5=a.q5, q50=a.q50, q95=a.q95)
                )
            except ValidationError:  # stored before values were bounded: unusable, left out
                continue
        return answers

    def set_answer(self, mission_slug: str, answer: SeedAnswer) -> None:
        question = self._question_row(mission_slug, answer.question)
        user = Missions(self.session)._user(answer.member)
        row = self.session.scalar(
            select(SeedAnswerRow).where(
                SeedAnswerRow.question_id == question.id, SeedAnswerRow.user_id == user.id
            )
        )
        if row is None:
            row = SeedAnswerRow(question_id=question.id, user_id=user.id)
            self.session.add(row)
        row.q5, row.q50, row.q95 = answer.q5, answer.q50, answer.q95
        self.session.flush()


class Aggregates:
    """Pooled estimates frozen when a scoring round closed."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def replace(self, mission_slug: str, quarter: str, aggregates: list[StoredAggregate]) -> None:
        quarter_row = Missions(self.session).quarter_row(mission_slug, quarter)
        self.session.execute(delete(AggregateRow).where(AggregateRow.quarter_id == quarter_row.id))
        candidates = Candidates(self.session)
        for agg in aggregates:
            option = candidates.option_row(mission_slug, agg.candidate, agg.option)
            self.session.add(
                AggregateRow(
                    quarter_id=quarter_row.id,
                    option_id=option.id,
                    method=agg.method.value,
                    data=agg.data,
                )
            )
        self.session.flush()

    def _query(self, mission_id: int) -> Select[str, dict[str, Any], str, str, str]:
        # columns, not ORM objects: the dashboard reads every option's latest aggregate
        return (
            select(
                AggregateRow.method,
                AggregateRow.data,
                QuarterRow.label,
                CandidateRow.key,
                OptionRow.key,
            )
            .join(QuarterRow, AggregateRow.quarter_id == QuarterRow.id)
            .join(OptionRow, AggregateRow.option_id == OptionRow.id)
            .join(CandidateRow, OptionRow.candidate_id == CandidateRow.id)
            .where(QuarterRow.mission_id == mission_id)
            .order_by(QuarterRow.label, AggregateRow.id)
        )

    def _models(self, query: Select[str, dict[str, Any], str, str, str]) -> list[StoredAggregate]:
        return [
            StoredAggregate(quarter=label, candidate=ckey, option=okey, method=method, data=data)
            for method, data, label, ckey, okey in self.session.execute(query)
        ]

    def all(self, mission_slug: str, quarter: str | None = None) -> list[StoredAggregate]:
        query = self._query(Missions(self.session).row(mission_slug).id)
        if quarter is not None:
            query = query.where(QuarterRow.label == quarter)
        return self._models(query)

    def quarters(self, mission_slug: str) -> list[str]:
        """The labels of the quarters that froze aggregates, in time order (labels sort so),
        without reading the aggregates themselves."""
        mission_id = Missions(self.session).row(mission_slug).id
        return list(
            self.session.scalars(
                select(QuarterRow.label)
                .where(QuarterRow.mission_id == mission_id)
                .where(QuarterRow.id.in_(select(AggregateRow.quarter_id).distinct()))
                .order_by(QuarterRow.label)
            )
        )

    def latest(self, mission_slug: str) -> list[StoredAggregate]:
        """Each option's aggregate of the latest quarter that froze one (quarter labels sort
        in time order), in the order of ``all``."""
        mission_id = Missions(self.session).row(mission_slug).id
        newest = (
            select(AggregateRow.option_id, func.max(QuarterRow.label).label("label"))
            .join(QuarterRow, AggregateRow.quarter_id == QuarterRow.id)
            .where(QuarterRow.mission_id == mission_id)
            .group_by(AggregateRow.option_id)
            .subquery()
        )
        return self._models(
            self._query(mission_id).join(
                newest,
                and_(
                    newest.c.option_id == AggregateRow.option_id,
                    newest.c.label == QuarterRow.label,
                ),
            )
        )
