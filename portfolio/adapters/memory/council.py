"""In-memory council records: scores (a submitted score is final), evidence, red-team
challenges, seed questions and answers, and the pooled estimates frozen when a round closed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from portfolio.adapters.memory.tables import State, StoredScore, copied
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import (
    Challenge,
    Evidence,
    Score,
    ScoreStatus,
    SeedAnswer,
    SeedQuestion,
    StoredAggregate,
    SubmittedP,
)


class MemoryScores:
    def __init__(self, state: State) -> None:
        self.s = state

    def _check(self, slug: str, score: Score) -> tuple[str, str, str, str, str]:
        """The score's key, once its quarter, option and member are known to exist."""
        self.s.t.quarter(slug, score.quarter)
        self.s.t.option(slug, score.candidate, score.option)
        self.s.t.user(score.member)
        return (slug, score.quarter, score.candidate, score.option, score.member)

    def version_of(self, mission_slug: str, quarter: str, member: str, candidate: str) -> int:
        """A number that changes whenever the member's scores of the candidate change."""
        self.s.t.quarter(mission_slug, quarter)
        self.s.t.user(member)
        return sum(
            stored.version
            for (slug, label, key, _, who), stored in self.s.t.scores.items()
            if (slug, label, key, who) == (mission_slug, quarter, candidate, member)
        )

    def replace_drafts(
        self, mission_slug: str, scores: Sequence[Score], expected_version: int | None = None
    ) -> str | None:
        """As ``repository.Scores.replace_drafts``: None when written, else ``"submitted"`` (a
        stored score is submitted: final) or ``"changed"`` (not at ``expected_version``)."""
        keys = [self._check(mission_slug, s) for s in scores]
        stored = {key: self.s.t.scores[key] for key in keys if key in self.s.t.scores}
        if any(s.score.status is ScoreStatus.submitted for s in stored.values()):
            return "submitted"
        if expected_version is not None and expected_version != sum(
            s.version for s in stored.values()
        ):
            return "changed"
        for key, score in zip(keys, scores, strict=True):
            version = stored[key].version + 1 if key in stored else 1
            self.s.t.scores[key] = StoredScore(version, copied(score))
        return None

    def add(self, mission_slug: str, score: Score) -> None:
        key = self._check(mission_slug, score)
        if key in self.s.t.scores:
            raise Conflict("the change clashes with data already stored")
        self.s.t.scores[key] = StoredScore(1, copied(score))

    def all(
        self,
        mission_slug: str,
        quarter: str | None = None,
        member: str | None = None,
        candidates: Collection[str] | None = None,
    ) -> list[Score]:
        """The mission's scores (of one quarter, of one member, of some candidates, if given),
        in the order they were made."""
        self.s.t.mission(mission_slug)
        return [
            copied(stored.score)
            for (slug, label, *_), stored in self.s.t.scores.items()
            if slug == mission_slug
            and (quarter is None or label == quarter)
            and (member is None or stored.score.member == member)
            and (candidates is None or stored.score.candidate in candidates)
        ]

    def state(self, mission_slug: str, quarter: str) -> str | None:
        """None: the fake names no states, so nothing is kept under one."""
        return None

    def submitted_p(self, mission_slug: str, candidates: Collection[str]) -> list[SubmittedP]:
        """The submitted p of ``candidates``' options, in the order they were made."""
        return [
            SubmittedP(s.member, s.quarter, s.candidate, s.option, s.p_success)
            for s in self.all(mission_slug, candidates=candidates)
            if s.status is ScoreStatus.submitted and not s.not_competent and s.p_success is not None
        ]

    def submitted_members(self, mission_slug: str, quarter: str) -> list[str]:
        """The members who have submitted any score in ``quarter``'s round, by username."""
        return sorted(
            {s.member for s in self.all(mission_slug, quarter) if s.status is ScoreStatus.submitted}
        )


class MemoryEvidence:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, mission_slug: str, evidence: Evidence) -> None:
        self.s.t.quarter(mission_slug, evidence.quarter)
        self.s.t.candidate(mission_slug, evidence.candidate)
        self.s.t.evidence.setdefault(mission_slug, []).append(copied(evidence))

    def all(self, mission_slug: str, candidate: str | None = None) -> list[Evidence]:
        self.s.t.mission(mission_slug)
        found = [
            copied(e)
            for e in self.s.t.evidence.get(mission_slug, [])
            if candidate is None or e.candidate == candidate
        ]
        return sorted(found, key=lambda e: e.date)  # stable: in the order recorded within a day


class MemoryChallenges:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, mission_slug: str, challenge: Challenge) -> int:
        self.s.t.candidate(mission_slug, challenge.candidate)
        challenge_id = self.s.t.next_id("challenges")
        self.s.t.challenges.setdefault(mission_slug, {})[challenge_id] = copied(challenge)
        return challenge_id

    def all(self, mission_slug: str, candidate: str | None = None) -> list[tuple[int, Challenge]]:
        self.s.t.mission(mission_slug)
        return [
            (cid, copied(c))
            for cid, c in sorted(self.s.t.challenges.get(mission_slug, {}).items())
            if candidate is None or c.candidate == candidate
        ]

    def reply(
        self, mission_slug: str, challenge_id: int, text: str, by: str, at: dt.datetime
    ) -> Challenge:
        """Store the reply; the challenge as it was before it."""
        challenges = self.s.t.challenges.get(mission_slug, {})
        if challenge_id not in challenges:
            raise NotFound(f"no challenge {challenge_id} in mission {mission_slug}")
        before = challenges[challenge_id]
        challenges[challenge_id] = before.with_changes(reply=text, replied_by=by, replied_at=at)
        return copied(before)


class MemorySeeds:
    def __init__(self, state: State) -> None:
        self.s = state

    def _question(self, mission_slug: str, key: str) -> SeedQuestion:
        self.s.t.mission(mission_slug)
        found = self.s.t.seed_questions.get(mission_slug, {}).get(key)
        if found is None:
            raise NotFound(f"no seed question {key} in mission {mission_slug}")
        return found

    def questions(self, mission_slug: str) -> list[SeedQuestion]:
        self.s.t.mission(mission_slug)
        return [copied(q) for q in self.s.t.seed_questions.get(mission_slug, {}).values()]

    def add_question(self, mission_slug: str, question: SeedQuestion) -> None:
        self.s.t.mission(mission_slug)
        questions = self.s.t.seed_questions.setdefault(mission_slug, {})
        if question.id in questions:
            raise Conflict(f"a seed question {question.id} already exists")
        questions[question.id] = copied(question)

    def update_question(self, mission_slug: str, question: SeedQuestion) -> None:
        self._question(mission_slug, question.id)
        self.s.t.seed_questions[mission_slug][question.id] = copied(question)

    def answers(self, mission_slug: str) -> list[SeedAnswer]:
        self.s.t.mission(mission_slug)
        return [
            copied(a) for (slug, _, _), a in self.s.t.seed_answers.items() if slug == mission_slug
        ]

    def set_answer(self, mission_slug: str, answer: SeedAnswer) -> None:
        self._question(mission_slug, answer.question)
        self.s.t.user(answer.member)
        self.s.t.seed_answers[(mission_slug, answer.question, answer.member)] = copied(answer)


class MemoryAggregates:
    def __init__(self, state: State) -> None:
        self.s = state

    def replace(self, mission_slug: str, quarter: str, aggregates: list[StoredAggregate]) -> None:
        self.s.t.quarter(mission_slug, quarter)
        for agg in aggregates:
            self.s.t.option(mission_slug, agg.candidate, agg.option)
        kept = [a for a in self.s.t.aggregates.get(mission_slug, []) if a.quarter != quarter]
        self.s.t.aggregates[mission_slug] = kept + [copied(a) for a in aggregates]

    def all(self, mission_slug: str, quarter: str | None = None) -> list[StoredAggregate]:
        self.s.t.mission(mission_slug)
        found = [
            copied(a)
            for a in self.s.t.aggregates.get(mission_slug, [])
            if quarter is None or a.quarter == quarter
        ]
        return sorted(found, key=lambda a: a.quarter)

    def quarters(self, mission_slug: str) -> list[str]:
        """The quarters that froze aggregates, in time order."""
        self.s.t.mission(mission_slug)
        return sorted({a.quarter for a in self.s.t.aggregates.get(mission_slug, [])})

    def latest(self, mission_slug: str) -> list[StoredAggregate]:
        """Each option's aggregate of the latest quarter that froze one."""
        every = self.all(mission_slug)
        newest = {(a.candidate, a.option): a.quarter for a in every}  # in quarter order
        return [a for a in every if newest[(a.candidate, a.option)] == a.quarter]
