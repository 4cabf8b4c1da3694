"""The spend ledger in the web: the Spend page (every entry, and per envelope and year the budget,
what was spent and what is left), the form that records one entry, and the CSV import."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import FormDep, MissionContext, RecordSpend, UowDep, ViewMission
from api.downloads import CSV, attachment, uploaded_file
from api.flash import redirect_done
from api.forms import values_of
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain.errors import Conflict, InvalidInput
from portfolio.domain.model import SpendEntry
from portfolio.services import csvio, ledger, ledger_io
from portfolio.services.ledger_view import ledger_view

router = APIRouter(include_in_schema=False)


#: the form's option select sends ``candidate/option``, so an option is always chosen under its
#: own candidate
OPTION_SEPARATOR = "/"


def _context(uow: SqlUnitOfWork, ctx: MissionContext, **extra: Any) -> dict[str, Any]:
    view = ledger_view(uow, ctx.slug)
    mission = uow.missions.get(ctx.slug)
    candidates = uow.candidates.all(ctx.slug)
    return {
        "mission": mission,
        "ctx": ctx,
        "view": view,
        "candidates": candidates,
        "envelopes": {e.id: e.name for e in mission.envelopes},
        "candidate_choices": [(c.id, c.name) for c in candidates],
        "option_groups": [
            (c.name, [(f"{c.id}{OPTION_SEPARATOR}{o.id}", o.name) for o in c.options])
            for c in candidates
        ],
        "envelope_choices": [(e.id, e.name) for e in mission.envelopes],
        "year_choices": [(y, y) for y in mission.years if view.year is not None and y <= view.year],
        "field_labels": ledger.FIELD_LABELS,
        "columns": [(c, ledger_io.COLUMN_DOCS[c]) for c in ledger_io.COLUMNS],
        "limits": {"bytes": csvio.MAX_BYTES, "rows": csvio.MAX_ROWS},
        **extra,
    }


def _recorded_message(uow: SqlUnitOfWork, slug: str, entry: SpendEntry) -> str:
    """The message after recording: what was recorded, as people name it."""
    candidate = uow.candidates.get(slug, entry.candidate)
    option = next((o.name for o in candidate.options if o.id == entry.option), entry.option)
    envelope = next(
        (e.name for e in uow.missions.get(slug).envelopes if e.id == entry.envelope),
        entry.envelope,
    )
    return (
        f"Spend recorded: £{entry.amount:,.2f}m on {candidate.name} ({option}) "
        f"from {envelope} in {entry.year}."
    )


@router.get("/missions/{slug}/spend")
def spend_page(request: Request, ctx: ViewMission, uow: UowDep) -> Response:
    return render(request, "spend/ledger.html", _context(uow, ctx))


def _form_entry(values: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The entry's fields from the form, and the candidate whose option was chosen when that is
    not the candidate chosen (the option select names its candidate too)."""
    given = {f: values.get(f, "") for f in ledger_io.FIELDS}
    chosen_under = None
    option = str(given["option"])
    if OPTION_SEPARATOR in option:
        owner, given["option"] = option.split(OPTION_SEPARATOR, 1)
        if owner != given["candidate"]:
            chosen_under, given["option"] = owner, ""  # never recorded: see the message below
    return given, chosen_under


@router.post("/missions/{slug}/spend")
def record_spend(request: Request, ctx: RecordSpend, form: FormDep, uow: UowDep) -> Response:
    values = values_of(form)
    given, chosen_under = _form_entry(values)
    try:
        (entry,) = ledger_io.record_given(uow, ctx.user.username, ctx.slug, [given], source="form")
        uow.commit()
        return redirect_done(
            request,
            f"/missions/{ctx.slug}/spend#spend-{entry.id}",
            _recorded_message(uow, ctx.slug, entry),
        )
    except InvalidInput as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = [("candidate", str(exc))]
    uow.rollback()
    if chosen_under is not None:
        names = {c.id: c.name for c in uow.candidates.all(ctx.slug)}
        mismatch = (
            f"the option chosen is one of {names.get(chosen_under, chosen_under)}'s: choose one "
            f"of {names.get(str(given['candidate']), 'the candidate')}'s options"
        )
        errors = [(f, mismatch if f == "option" else r) for f, r in errors]
    return render(
        request,
        "spend/ledger.html",
        _context(uow, ctx, errors=errors, values=values),
        status_code=422,
    )


@router.get("/missions/{slug}/spend/import")
def import_page(request: Request, ctx: RecordSpend, uow: UowDep) -> Response:
    return render(request, "spend/import.html", _context(uow, ctx))


@router.get("/missions/{slug}/spend/template.csv")
def template(ctx: RecordSpend, uow: UowDep) -> Response:
    view = ledger_view(uow, ctx.slug)
    mission = uow.missions.get(ctx.slug)
    text = ledger_io.template(mission, uow.candidates.all(ctx.slug), view.year or "")
    return attachment(text, CSV, "spend-template.csv")


@router.post("/missions/{slug}/spend/import")
async def import_spend(request: Request, ctx: RecordSpend, form: FormDep, uow: UowDep) -> Response:
    data = await uploaded_file(form)
    if data is None:
        errors = [("file", "choose a CSV file to upload")]
    else:
        try:
            done = ledger_io.import_csv(uow, ctx.user.username, ctx.slug, data)
            uow.commit()
            return redirect_done(request, f"/missions/{ctx.slug}/spend#ledger", done.message)
        except InvalidInput as exc:
            errors = exc.errors
        except Conflict as exc:
            errors = [("file", str(exc))]
        uow.rollback()
    return render(request, "spend/import.html", _context(uow, ctx, errors=errors), status_code=422)
