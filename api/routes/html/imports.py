"""CSV import of candidates and council scores: documented columns, templates to download, every
row validated and every error reported by row and column, nothing written unless all pass."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import FormDep, ImportScores, MissionContext, RegisterCandidate, UowDep, ViewMission
from api.downloads import CSV, attachment, uploaded_file
from api.flash import redirect_done
from api.permissions import Perm
from api.templating import render
from portfolio.adapters.csv import candidates as candidates_file
from portfolio.adapters.csv import scores as scores_file
from portfolio.adapters.csv.table import MAX_BYTES, MAX_ROWS
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.services import imports

router = APIRouter(include_in_schema=False)


def _context(uow: SqlUnitOfWork, ctx: MissionContext, **extra: Any) -> dict[str, Any]:
    mission = uow.missions.get(ctx.slug)
    return {
        "mission": mission,
        "ctx": ctx,
        "candidate_columns": [
            (c, candidates_file.column_doc(c))
            for c in candidates_file.candidate_columns(mission.years)
        ],
        "score_columns": [(c, scores_file.COLUMN_DOCS[c]) for c in scores_file.SCORE_COLUMNS],
        "limits": {"bytes": MAX_BYTES, "rows": MAX_ROWS},
        **extra,
    }


@router.get("/missions/{slug}/import")
def import_page(request: Request, ctx: ViewMission, uow: UowDep) -> Response:
    return render(request, "imports/import.html", _context(uow, ctx))


@router.get("/missions/{slug}/import/candidates-template.csv")
def candidates_template(ctx: ViewMission, uow: UowDep) -> Response:
    return attachment(
        candidates_file.candidates_template(uow.missions.get(ctx.slug).years),
        CSV,
        "candidates-template.csv",
    )


@router.get("/missions/{slug}/import/scores-template.csv")
def scores_template(ctx: ViewMission) -> Response:
    return attachment(scores_file.scores_template(), CSV, "scores-template.csv")


@router.post("/missions/{slug}/import/candidates")
async def import_candidates(
    request: Request, ctx: RegisterCandidate, form: FormDep, uow: UowDep
) -> Response:
    data = await uploaded_file(form)
    return _run(
        request,
        uow,
        ctx,
        "candidates",
        data,
        lambda d: imports.import_candidates(uow, ctx.user.username, ctx.slug, d),
    )


@router.post("/missions/{slug}/import/scores")
async def import_scores(
    request: Request, ctx: ImportScores, form: FormDep, uow: UowDep
) -> Response:
    data = await uploaded_file(form)
    return _run(
        request,
        uow,
        ctx,
        "scores",
        data,
        lambda d: imports.import_scores(
            uow,
            ctx.user.username,
            ctx.slug,
            d,
            may_import_for_others=ctx.can(Perm.import_scores_for_others),
        ),
    )


def _run(
    request: Request,
    uow: SqlUnitOfWork,
    ctx: MissionContext,
    kind: str,
    data: bytes | None,
    action: Any,
) -> Response:
    if data is None:
        errors = [("file", "choose a CSV file to upload")]
    else:
        try:
            summary = action(data)
            uow.commit()
            # the banner opens the page where what was imported shows
            done = "candidates" if kind == "candidates" else "scoring"
            return redirect_done(request, f"/missions/{ctx.slug}/{done}", summary.message)
        except InvalidInput as exc:
            errors = exc.errors
        except Conflict as exc:
            errors = [("file", str(exc))]
        uow.rollback()
    return render(
        request,
        "imports/import.html",
        _context(uow, ctx, errors=errors, kind=kind),
        status_code=422,
    )
