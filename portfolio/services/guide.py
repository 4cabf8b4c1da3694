"""The quarter's tasks, in the order the Mission CEO does them (the GOV.UK task-list pattern):
record evidence, close the council's scoring round, run the optimiser, compare runs, approve an
allocation, confirm delivery confidence, write the update letter, publish it, close the quarter.

Each task's status comes from what is stored, through the rules that already decide the cycle
(``quarters``, ``council``, ``cycle``): nothing here decides whether something may be done, it
only says what the state is, why a task cannot start yet, and where to do it. The quarter home,
the JSON API and the command line all read ``quarter_tasks``.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import quote

from pydantic import BaseModel, Field, computed_field

from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import (
    OptimiserRun,
    Quarter,
    QuarterState,
    ScoringState,
    next_quarter,
)
from portfolio.domain.rag import RAG_LABELS
from portfolio.services import beliefs, council, cycle, quarters


class TaskStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    completed = "completed"
    cannot_start = "cannot_start"


class Task(BaseModel):
    """One task of the quarter, as the quarter home lists it."""

    key: str = Field(
        description="evidence, scoring, runs, comparison, approval, rag, letter, publish or close"
    )
    title: str
    status: TaskStatus
    reason: str | None = Field(None, description="why it cannot start yet (cannot_start only)")
    link: str | None = Field(None, description="where to do it (a path of the web interface)")
    detail: str = Field("", description="one line on where it stands")


class QuarterTasks(BaseModel):
    """The task list of one quarter of a mission."""

    mission: str
    quarter: str
    state: QuarterState
    current: bool = Field(description="whether this is the quarter being worked on")
    tasks: list[Task]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def completed(self) -> int:
        """How many of the tasks are completed."""
        return sum(1 for t in self.tasks if t.status is TaskStatus.completed)


def quarter_url(slug: str, label: str) -> str:
    """The quarter home's path."""
    return f"/missions/{slug}/quarters/{quote(label)}"


def public_update_url(slug: str, label: str) -> str:
    """Where a published update of quarter ``label`` is public."""
    return f"/missions/{slug}/updates/{label.replace(' ', '-')}"


def label_from(text: str) -> str:
    """A quarter label as typed on a command line or in a URL (``2026-27-Q3`` or ``2026-27 Q3``)."""
    return text.strip().replace("-Q", " Q")


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _percent(value: object) -> str:
    return f"{float(value) * 100:.1f} %" if isinstance(value, int | float) else "–"


def quarter_tasks(uow: SqlUnitOfWork, slug: str, label: str) -> QuarterTasks:
    """The tasks of quarter ``label`` of mission ``slug``, each with its status and link."""
    all_quarters = uow.missions.quarters(slug)
    found = [q for q in all_quarters if q.label == label]
    if not found:
        raise NotFound(f"no quarter {label}")
    quarter = found[0]
    try:
        current = quarters.current_quarter(uow, slug) == label
    except Conflict:
        current = False
    closed = quarter.state is QuarterState.closed
    home = quarter_url(slug, label)
    runs = uow.runs.all(slug, label)  # newest first
    tasks = [
        _evidence(uow, slug, label, closed, home),
        _scoring(uow, slug, quarter, closed),
        _runs(uow, slug, quarter, runs, closed),
        _comparison(slug, quarter, runs, closed),
        _approval(uow, slug, quarter, runs, home),
        *_letter_and_rating(uow, slug, quarter, home),
        _close(uow, slug, quarter, home),
    ]
    return QuarterTasks(
        mission=slug, quarter=label, state=quarter.state, current=current, tasks=tasks
    )


def _evidence(uow: SqlUnitOfWork, slug: str, label: str, closed: bool, home: str) -> Task:
    n = sum(1 for e in uow.evidence.all(slug) if e.quarter == label)
    recorded = f"{_plural(n, 'piece')} of evidence recorded this quarter"
    if closed or n:
        status, detail = TaskStatus.completed, recorded if n else "No evidence was recorded"
        if not closed:
            detail += "; more can be recorded until the quarter closes"
    else:
        status, detail = TaskStatus.not_started, "No evidence recorded this quarter yet"
    return Task(
        key="evidence",
        title="Record evidence",
        status=status,
        link=f"{home}/evidence",
        detail=detail,
    )


def _scoring(uow: SqlUnitOfWork, slug: str, quarter: Quarter, closed: bool) -> Task:
    link = f"/missions/{slug}/scoring"
    if council.round_over(quarter):
        detail = (
            "Closed: its scores feed the optimiser"
            if quarter.scoring is ScoringState.closed
            else "The quarter closed with the round still open"
        )
        return Task(
            key="scoring",
            title="Close the scoring round",
            status=TaskStatus.completed,
            link=link,
            detail=detail,
        )
    if quarter.scoring is ScoringState.not_opened:
        return Task(
            key="scoring",
            title="Close the scoring round",
            status=TaskStatus.not_started,
            link=link,
            detail="The council's scoring round is not open yet: open it for the council to "
            "score, then close it",
        )
    submitted = uow.scores.submitted_members(slug, quarter.label)
    members = len(uow.missions.council(slug))
    return Task(
        key="scoring",
        title="Close the scoring round",
        status=TaskStatus.in_progress,
        link=link,
        detail=f"Open: {len(submitted)} of {_plural(members, 'council member')} have submitted "
        f"scores. Until it closes, runs use {_scores_used(uow, slug)}",
    )


def _scores_used(uow: SqlUnitOfWork, slug: str) -> str:
    """Whose council scores a run started now uses (``beliefs.scores_quarter``), in words."""
    label = beliefs.scores_quarter(uow, slug)
    return f"the scores of {label}" if label else "the estimates registered with the candidates"


def _finished(runs: list[OptimiserRun]) -> list[OptimiserRun]:
    return [r for r in runs if r.found_portfolio]


def _runs(
    uow: SqlUnitOfWork, slug: str, quarter: Quarter, runs: list[OptimiserRun], closed: bool
) -> Task:
    finished, active = _finished(runs), [r for r in runs if r.active]
    summary = f"{_plural(len(runs), 'run')} this quarter, {len(finished)} found a portfolio" + (
        f", {len(active)} still solving" if active else ""
    )
    if closed or (finished and not active):
        status = TaskStatus.completed
    elif runs:
        status = TaskStatus.in_progress
        if not finished and not active:
            summary += ": change the policy and run again"
    else:
        status, summary = TaskStatus.not_started, "No runs yet this quarter"
    if not closed and not council.round_over(quarter):
        summary += f". The scoring round is still open: runs use {_scores_used(uow, slug)}"
    return Task(
        key="runs",
        title="Run the optimiser",
        status=status,
        link=f"/missions/{slug}/runs",
        detail=summary,
    )


def _comparison(slug: str, quarter: Quarter, runs: list[OptimiserRun], closed: bool) -> Task:
    finished = _finished(runs)
    if len(finished) < 2:
        so_far = f"{len(finished)} so far" if finished else "none so far"
        if closed:
            return Task(
                key="comparison",
                title="Compare runs",
                status=TaskStatus.completed,
                detail=f"Fewer than two runs found a portfolio ({so_far}): nothing to compare",
            )
        return Task(
            key="comparison",
            title="Compare runs",
            status=TaskStatus.cannot_start,
            reason=f"Needs at least two finished runs of this quarter ({so_far})",
        )
    latest = sorted(r.id or 0 for r in finished[:2])
    link = f"/missions/{slug}/runs/compare?run={latest[1]}&run={latest[0]}"
    decided = quarter.approved_run is not None
    return Task(
        key="comparison",
        title="Compare runs",
        status=TaskStatus.completed if decided else TaskStatus.not_started,
        link=link,
        detail=f"{_plural(len(finished), 'run')} found a portfolio: compare them side by side "
        "before approving one",
    )


def _approval(
    uow: SqlUnitOfWork, slug: str, quarter: Quarter, runs: list[OptimiserRun], home: str
) -> Task:
    if quarter.approved_run is not None:
        run = uow.runs.get(slug, quarter.approved_run)
        when = f" on {quarter.approved_at:%d %b %Y}" if quarter.approved_at else ""
        return Task(
            key="approval",
            title="Approve an allocation",
            status=TaskStatus.completed,
            link=f"{home}#approved",
            detail=f"Run {run.id} approved by {quarter.approved_by}{when}: P(target) "
            f"{_percent(run.p_target)}",
        )
    approvable = [r for r in runs if cycle.approval_refusal(uow, slug, r) is None]
    if not approvable:
        return Task(
            key="approval",
            title="Approve an allocation",
            status=TaskStatus.cannot_start,
            reason="Needs a run on the real budgets that found a portfolio",
        )
    latest = approvable[0]
    return Task(
        key="approval",
        title="Approve an allocation",
        status=TaskStatus.not_started,
        link=f"/missions/{slug}/runs/{latest.id}",
        detail=f"{_plural(len(approvable), 'run')} on the real budgets can be approved; the "
        f"latest is run {latest.id}",
    )


def _letter_and_rating(uow: SqlUnitOfWork, slug: str, quarter: Quarter, home: str) -> list[Task]:
    """Delivery confidence, the update letter and publishing it: all need an approved
    allocation (the rating is computed from it, the letter drafted from it)."""
    if quarter.approved_run is None:
        needs = "Needs an approved allocation"
        return [
            Task(
                key="rag",
                title="Confirm delivery confidence (RAG)",
                status=TaskStatus.cannot_start,
                reason=f"{needs}: the rating is computed from its P(target)",
            ),
            Task(
                key="letter",
                title="Write the update letter",
                status=TaskStatus.cannot_start,
                reason=f"{needs}: the letter is drafted from it",
            ),
            Task(
                key="publish",
                title="Publish the update",
                status=TaskStatus.cannot_start,
                reason=f"{needs} and its update letter",
            ),
        ]
    update = uow.cycle.update(slug, quarter.label)
    published = update is not None and update.published
    closed = quarter.state is QuarterState.closed
    shown = quarter.rag_shown
    rating = RAG_LABELS[shown] if shown else "not computed"
    if quarter.rag_override and quarter.rag:
        rating += f", overridden by the Mission CEO (computed: {RAG_LABELS[quarter.rag]})"
    elif shown:
        rating += ", computed from P(target)"
    saved = closed or published or cycle.rating_saved(uow, slug, quarter.label)
    rag = Task(
        key="rag",
        title="Confirm delivery confidence (RAG)",
        status=TaskStatus.completed if saved else TaskStatus.not_started,
        link=f"{home}#rag",
        detail=rating if saved else f"{rating}: keep it or override it with a justification",
    )
    public = public_update_url(slug, quarter.label)
    if published:
        assert update is not None
        when = f" on {update.published_at:%d %b %Y}" if update.published_at else ""
        letter_status, letter_detail = TaskStatus.completed, f"Published{when}"
        publish = Task(
            key="publish",
            title="Publish the update",
            status=TaskStatus.completed,
            link=public,
            detail=f"Public at {public}{when}",
        )
    else:
        if update is not None:
            letter_status, letter_detail = TaskStatus.in_progress, "A draft is saved"
        else:
            letter_status = TaskStatus.not_started
            letter_detail = "A draft is written from the quarter's data: read it and edit it"
        publish = Task(
            key="publish",
            title="Publish the update",
            status=TaskStatus.not_started,
            link=f"{home}#update",
            detail=f"The update becomes public at {public} and cannot be withdrawn",
        )
    letter = Task(
        key="letter",
        title="Write the update letter",
        status=letter_status,
        link=f"{home}#update",
        detail=letter_detail,
    )
    return [rag, letter, publish]


def _close(uow: SqlUnitOfWork, slug: str, quarter: Quarter, home: str) -> Task:
    if quarter.state is QuarterState.closed:
        when = f" on {quarter.closed_at:%d %b %Y}" if quarter.closed_at else ""
        return Task(
            key="close",
            title="Close the quarter",
            status=TaskStatus.completed,
            link=f"{home}#close",
            detail=f"Closed{when} into its audit pack",
        )
    refusal = cycle.close_refusal(uow, slug, quarter)
    if refusal is not None:
        return Task(
            key="close",
            title="Close the quarter",
            status=TaskStatus.cannot_start,
            reason=refusal[:1].upper() + refusal[1:],
        )
    return Task(
        key="close",
        title="Close the quarter",
        status=TaskStatus.not_started,
        link=f"{home}#close",
        detail=f"Freezes the quarter into its audit pack and opens {next_quarter(quarter.label)}",
    )
