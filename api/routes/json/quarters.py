"""The quarterly cycle in the JSON API (under /api/v1): quarters and their tasks, approving a run
as the quarter's allocation, the RAG rating, dissent, the update letter, closing the quarter, and
the mission's trajectory."""

from __future__ import annotations

from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import DissentDep, ManageCycle, UowDep, ViewMission
from api.downloads import ZIP, attachment, quarter_file
from api.params import RowId
from api.routes.json.common import UtcDateTime, as_utc, utc_model, v1_router
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import NotFound
from portfolio.domain.limits import TEXT_LIMIT
from portfolio.domain.model import (
    AllocationChange,
    Dissent,
    Quarter,
    QuarterlyUpdate,
    TrajectoryPoint,
)
from portfolio.domain.rag import Rag
from portfolio.services import cycle, guide, pack_zip, publication, quarter_view, quarters

router = v1_router()


class QuarterOut(Quarter):
    approved_at: UtcDateTime | None = None
    closed_at: UtcDateTime | None = None


class DissentOut(Dissent):
    created_at: UtcDateTime


class QuarterlyUpdateOut(QuarterlyUpdate):
    published_at: UtcDateTime | None = None


class Approval(BaseModel):
    reasons: dict[str, str] = Field(
        default_factory=dict,
        description="candidate -> reason for its change (each start, scale up, scale down and "
        "stop needs one; a continue needs none)",
    )
    contracted: list[str] = Field(
        default_factory=list,
        description="funded candidates to contract now (a live contract stays as it is; naming "
        "its candidate again moves the contract to the option this run funds)",
    )


class RagOverride(BaseModel):
    rag: Rag | None = None
    reason: str = Field("", description=f"the justification, at most {TEXT_LIMIT:,} characters")


class DissentText(BaseModel):
    text: str = Field(min_length=1, description=f"at most {TEXT_LIMIT:,} characters")


class UpdateText(BaseModel):
    body: str = Field(min_length=1, max_length=40_000)
    publish: bool = False


class QuarterView(BaseModel):
    quarter: QuarterOut
    changes: list[AllocationChange]
    dissents: list[DissentOut]
    update: QuarterlyUpdateOut | None


def _quarter_view(uow: SqlUnitOfWork, slug: str, label: str) -> QuarterView:
    update = uow.cycle.update(slug, label)
    dissents = uow.cycle.dissents(slug, label)
    return QuarterView(
        quarter=QuarterOut.model_validate(uow.missions.quarter(slug, label).model_dump()),
        changes=uow.cycle.changes(slug, label),
        dissents=[DissentOut.model_validate(d.model_dump()) for d in dissents],
        update=QuarterlyUpdateOut.model_validate(update.model_dump()) if update else None,
    )


@router.get("/missions/{slug}/quarters", response_model=list[QuarterOut])
def quarter_list(ctx: ViewMission, uow: UowDep) -> list[Quarter]:
    return uow.missions.quarters(ctx.slug)


@router.get("/missions/{slug}/quarters/{label}", response_model=QuarterView)
def quarter(ctx: ViewMission, label: str, uow: UowDep) -> QuarterView:
    """A quarter: state, approved run, RAG, changes with reasons, dissent and the update."""
    if label not in {q.label for q in uow.missions.quarters(ctx.slug)}:
        raise NotFound(f"no quarter {label}")
    return _quarter_view(uow, ctx.slug, label)


@router.get("/missions/{slug}/quarter", response_model=QuarterView)
def current_quarter(ctx: ViewMission, uow: UowDep) -> QuarterView:
    """The current quarter (the menu's "This quarter"), as ``.../quarters/{label}`` gives it:
    state, approved run, RAG, changes with reasons, dissent and the update. 409 before the
    mission has a quarter."""
    return _quarter_view(uow, ctx.slug, quarters.current_quarter(uow, ctx.slug))


QuarterEvidenceOut = utc_model(quarter_view.QuarterEvidence)


@router.get("/missions/{slug}/quarters/{label}/evidence", response_model=QuarterEvidenceOut)
def quarter_evidence(ctx: ViewMission, label: str, uow: UowDep) -> quarter_view.QuarterEvidence:
    """The evidence recorded in a quarter, newest first, with the names of the candidates it
    is about, and whether the quarter is the current one (where new evidence is recorded)."""
    view = quarter_view.quarter_evidence(uow, ctx.slug, label)
    return as_utc(quarter_view.QuarterEvidence, view)


@router.get(
    "/missions/{slug}/quarters/{label}/audit-pack.zip",
    response_class=Response,
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the audit pack",
        }
    },
)
def audit_pack(ctx: ViewMission, label: str, uow: UowDep) -> Response:
    """A closed quarter's audit pack, one zip: the pack (pack.json: everything that decided the
    quarter), the problem and result files of its approved run, the pack's hash chained to the
    previous quarter's (hash.txt), and the update letter. 409 while the quarter is open."""
    quarter_view.quarter_of(uow, ctx.slug, label)
    return attachment(
        pack_zip.audit_pack_zip(uow, ctx.slug, label),
        ZIP,
        quarter_file(ctx.slug, label, "audit-pack.zip"),
    )


@router.post("/missions/{slug}/runs/{run_id}/approve", response_model=QuarterView)
def approve_run(ctx: ManageCycle, run_id: RowId, body: Approval, uow: UowDep) -> QuarterView:
    """Approve a run as the current quarter's allocation (each start, scale and stop needs a
    reason)."""
    cycle.approve_run(
        uow,
        ctx.user.username,
        ctx.slug,
        run_id,
        reasons=body.reasons,
        contracted=set(body.contracted),
    )
    uow.commit()
    return _quarter_view(uow, ctx.slug, uow.runs.get(ctx.slug, run_id).quarter)


@router.post("/missions/{slug}/quarter/rag", response_model=QuarterView)
def override_rag(ctx: ManageCycle, body: RagOverride, uow: UowDep) -> QuarterView:
    cycle.override_rag(uow, ctx.user.username, ctx.slug, body.rag, body.reason)
    uow.commit()
    return _quarter_view(uow, ctx.slug, quarters.current_quarter(uow, ctx.slug))


@router.post("/missions/{slug}/quarter/dissent", response_model=QuarterView)
def add_dissent(ctx: DissentDep, body: DissentText, uow: UowDep) -> QuarterView:
    cycle.add_dissent(uow, ctx.user.username, ctx.roles, ctx.slug, body.text)
    uow.commit()
    return _quarter_view(uow, ctx.slug, quarters.current_quarter(uow, ctx.slug))


@router.get("/missions/{slug}/quarter/draft-update")
def draft_update(ctx: ManageCycle, uow: UowDep) -> dict[str, str]:
    """The letter the product drafts for the current quarter."""
    label = quarters.current_quarter(uow, ctx.slug)
    return {"quarter": label, "body": publication.draft_letter(uow, ctx.slug, label)}


@router.put("/missions/{slug}/quarter/update", response_model=QuarterView)
def save_update(ctx: ManageCycle, body: UpdateText, uow: UowDep) -> QuarterView:
    publication.save_update(uow, ctx.user.username, ctx.slug, body.body, publish=body.publish)
    uow.commit()
    return _quarter_view(uow, ctx.slug, quarters.current_quarter(uow, ctx.slug))


@router.post("/missions/{slug}/quarter/close", response_model=QuarterView)
def close_quarter(ctx: ManageCycle, uow: UowDep) -> QuarterView:
    """Close the current quarter into its audit pack and open the next."""
    closed = cycle.close_quarter(uow, ctx.user.username, ctx.slug)
    uow.commit()
    return _quarter_view(uow, ctx.slug, closed.label)


@router.get("/missions/{slug}/trajectory", response_model=list[TrajectoryPoint])
def trajectory(ctx: ViewMission, uow: UowDep) -> list[TrajectoryPoint]:
    return uow.cycle.trajectory(ctx.slug)


@router.put("/missions/{slug}/trajectory", response_model=list[TrajectoryPoint])
def set_trajectory(
    ctx: ManageCycle, body: list[TrajectoryPoint], uow: UowDep
) -> list[TrajectoryPoint]:
    cycle.set_trajectory(uow, ctx.user.username, ctx.slug, body)
    uow.commit()
    return uow.cycle.trajectory(ctx.slug)


@router.get("/missions/{slug}/quarters/{label}/tasks", response_model=guide.QuarterTasks)
def quarter_tasks(ctx: ViewMission, label: str, uow: UowDep) -> guide.QuarterTasks:
    """The quarter's tasks in order (evidence, scoring round, runs, comparison, approval,
    delivery confidence, update letter, publish, close), each with its status (not_started,
    in_progress, completed, cannot_start), why it cannot start yet, a link and a detail line.
    The label may be written ``2026-27 Q3`` or ``2026-27-Q3``."""
    return guide.quarter_tasks(uow, ctx.slug, guide.label_from(label))
