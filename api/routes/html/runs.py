"""The CEO's optimiser page (the form, the runs, live contracts), the comparison of runs and
each run's allocation, with downloads."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api import charts
from api.confirm import confirm_page, confirmed
from api.deps import FormDep, ManageCycle, MissionContext, RunOptimiser, UowDep, ViewMission
from api.downloads import JSON, attachment
from api.flash import redirect_done
from api.forms import (
    OBJECTIVES,
    PERCENT_FIELDS,
    parse_number,
    run_from_form,
    run_values,
    values_of,
)
from api.params import MAX_ROW_ID, RowId
from api.routes.html.report import analyses_context
from api.templating import render
from portfolio.adapters.unit_of_work import SqlUnitOfWork
from portfolio.domain import display, sample_fit
from portfolio.domain.errors import Conflict, InvalidInput, validation_errors
from portfolio.domain.model import ContractState, OptimiserRun, QuarterState, ScoringState
from portfolio.domain.money import loss_share_of, run_money
from portfolio.domain.run_policy import RunPolicy
from portfolio.services import beliefs, comparison, contracts, ledger, quarters, report_view
from portfolio.services import runs as run_service

router = APIRouter(include_in_schema=False)

StartedQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)]
RunsQuery = Annotated[list[int] | None, Query(max_length=10)]

COMPARE_LABELS = {"run": "Runs to compare"}


def _run_form_values(run: OptimiserRun) -> dict[str, Any]:
    """The optimiser form filled with the settings ``run`` was started with (a variant of it is
    one change away)."""
    values = run_values(
        run.problem.get("policy"),
        run.problem.get("scenarios"),
        run.overrides,
        # a legacy run's charge may state more than all the money: shown as 100 %
        switching_loss=min(1.0, loss_share_of(run.problem)),
    )
    values["solver"] = run.solver
    values["budget_scale"] = f"{run.budget_scale * 100:g}"
    return values


def _form_values(
    uow: SqlUnitOfWork, ctx: MissionContext, last: OptimiserRun | None, started: int | None
) -> dict[str, Any]:
    """What the form starts from: the settings of the run just started (``started``), else the
    mission's stored policy with the ``last`` run's locks and exclusions, else the last run's."""
    if last is not None and started == last.id:
        return _run_form_values(last)
    stored = uow.missions.get(ctx.slug).policy  # the CEO's policy for this mission
    if stored:
        # the locks and exclusions are the last run's (with their reasons), not policy
        last_policy = last.problem.get("policy", {}) if last else {}
        overridden = {k: last_policy.get(k, []) for k in ("locks", "exclusions")}
        values = run_values(
            {**(stored.get("policy") or {}), **overridden},
            stored.get("scenarios"),
            last.overrides if last else None,
            switching_loss=stored.get("switching_loss"),
        )
        if stored.get("solver"):
            values["solver"] = stored["solver"]
        return values
    return _run_form_values(last) if last else run_values(None, None)


def scores_notice(uow: SqlUnitOfWork, slug: str) -> dict[str, Any]:
    """Which council scores a run started now uses (``beliefs.scores_quarter``) and whether the
    current quarter's round is still open (the page warns: its scores are not used yet)."""
    quarter = quarters.current(uow, slug)
    return {
        "scores_quarter": beliefs.scores_quarter(uow, slug),
        "round_open": quarter.scoring is ScoringState.open,
        "current_label": quarter.label,
    }


def _list_context(
    uow: SqlUnitOfWork,
    ctx: MissionContext,
    *,
    started: int | None = None,
    ticked: set[int] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    runs = uow.runs.records(ctx.slug)  # without their problem files: only the last's is read
    last = uow.runs.get(ctx.slug, runs[0].id) if runs and runs[0].id is not None else None
    quarter = quarters.current(uow, ctx.slug)
    return {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "runs": runs,
        "started": started if any(r.id == started for r in runs) else None,
        "ticked": ticked or set(),
        "values": _form_values(uow, ctx, last, started),
        "objectives": OBJECTIVES,
        "percent_fields": PERCENT_FIELDS,
        "candidates": uow.candidates.all(ctx.slug),
        "quarter": quarter,
        "contracts": contracts.contract_views(uow, ctx.slug, live_only=True),
        **scores_notice(uow, ctx.slug),
        **extra,
    }


@router.get("/missions/{slug}/runs")
def run_list(
    request: Request, ctx: ViewMission, uow: UowDep, started: StartedQuery = None
) -> Response:
    """The optimiser page; ``started`` marks the run just started (the redirect after it)."""
    return render(request, "runs/list.html", _list_context(uow, ctx, started=started))


def _started_message(run: OptimiserRun) -> str:
    scenarios = (run.problem.get("scenarios") or {}).get("count")
    on = f" on {scenarios:,} scenarios" if isinstance(scenarios, int) else ""
    what_if = f" (a what-if: envelopes at {run.budget_scale * 100:g} %)" if run.what_if else ""
    return (
        f"Run {run.id} started: {display.objective_name(run.objective)}{on}{what_if}. "
        "It is at the top of the runs below."
    )


@router.post("/missions/{slug}/runs")
def start(request: Request, ctx: RunOptimiser, form: FormDep, uow: UowDep) -> Response:
    values = values_of(form)
    parsed, errors = run_from_form(values)
    if parsed is not None:
        try:
            policy = RunPolicy.model_validate(parsed["policy"])
            run_id = run_service.start_run(
                uow,
                ctx.user.username,
                ctx.slug,
                policy,
                scenarios=parsed["scenarios"],
                seed=parsed["seed"],
                solver=parsed["solver"],
                note=parsed["note"],
                overrides=parsed["overrides"],
                budget_scale=parsed["budget_scale"],
                switching_loss=parsed["switching_loss"],
            )
            uow.commit()
            request.app.state.jobs.submit(run_id)
            # back to the optimiser page, its form keeping these settings: a variant is one
            # change away (the run's own page is linked from the highlighted row)
            return redirect_done(
                request,
                f"/missions/{ctx.slug}/runs?started={run_id}#runs",
                _started_message(uow.runs.get(ctx.slug, run_id)),
            )
        except ValidationError as exc:
            errors = validation_errors(exc)
        except InvalidInput as exc:
            errors = exc.errors
        except Conflict as exc:
            errors = [("objective", str(exc))]
        uow.rollback()
    context = _list_context(
        uow, ctx, errors=errors, overrides_open=any(f.startswith("override") for f, _ in errors)
    )
    context["values"] = values
    return render(request, "runs/list.html", context, status_code=422)


END_LABELS = {
    "reason": "Reason for ending the contract",
    "break_cost": "Break cost",
    "envelope": "Envelope of the break cost",
}


def _end_consequences(
    uow: SqlUnitOfWork, slug: str, view: contracts.ContractView, values: dict[str, Any]
) -> list[str]:
    """What ending the contract does, in words, for the confirmation page."""
    name = f"{view.candidate_name} ({view.option_name})"
    lines = [
        f"The contract with {name} ends: the award is released, so later runs no longer keep "
        "it funded and may leave it out.",
    ]
    cost = str(values.get("break_cost", "")).strip()
    if cost:
        mission = uow.missions.get(slug)
        code = str(values.get("envelope", "")) or (
            view.eligible_envelopes[0] if view.eligible_envelopes else ""
        )
        year = ledger.financial_year(quarters.current_quarter(uow, slug))
        lines.append(
            f"A break cost of £{cost}m is recorded as money spent from "
            f"{display.envelope_name(code, mission.envelopes)} in {year}."
        )
    else:
        lines.append("No break cost is recorded.")
    lines.append(
        f"The reason is kept in the audit trail: “{str(values.get('reason', '')).strip()}”"
    )
    return lines


@router.post("/missions/{slug}/contracts/{contract_id}/end")
def end_contract(
    request: Request, ctx: ManageCycle, contract_id: RowId, form: FormDep, uow: UowDep
) -> Response:
    """The CEO ends a live contract from the optimiser page (reason, break cost, envelope).
    The first submit is checked and shows what ending does; the confirmation's submit ends it."""
    values = values_of(form)
    errors: list[tuple[str, str]] = []
    break_cost = parse_number(values, "break_cost", errors, required=False)
    status = 422
    if not errors:
        try:
            raw_state = str(values.get("expected_state", "live"))
            view = next(
                (
                    v
                    for v in contracts.contract_views(uow, ctx.slug)
                    if v.contract.id == contract_id
                ),
                None,
            )
            contracts.end_contract(
                uow,
                ctx.user.username,
                ctx.slug,
                contract_id,
                str(values.get("reason", "")),
                break_cost,
                envelope=str(values.get("envelope", "")) or None,
                expected_state=ContractState(raw_state)
                if raw_state in ContractState.__members__
                else ContractState.live,
            )
            assert view is not None  # end_contract found it
            name = f"{view.candidate_name} ({view.option_name})"
            if not confirmed(values):
                uow.rollback()  # checked, not done: the confirmation page asks first
                return confirm_page(
                    request,
                    title=f"End the contract with {view.candidate_name}?",
                    warning="Ending a contract cannot be undone: a new award needs a new approval.",
                    action=f"/missions/{ctx.slug}/contracts/{contract_id}/end",
                    button="End the contract",
                    cancel=f"/missions/{ctx.slug}/runs#contracts",
                    consequences=_end_consequences(uow, ctx.slug, view, values),
                    fields=values,
                    context={"mission": uow.missions.get(ctx.slug), "ctx": ctx},
                )
            uow.commit()
            return redirect_done(
                request,
                f"/missions/{ctx.slug}/runs#contracts",
                f"The contract with {name} has ended.",
            )
        except InvalidInput as exc:
            errors = exc.errors
        except Conflict as exc:
            errors, status = [("reason", str(exc))], 409
        uow.rollback()
    uow.contracts.get(ctx.slug, contract_id)  # a contract of another mission is a 404
    context = _list_context(
        uow,
        ctx,
        errors=errors,
        ending=contract_id,
        end_values=values,
        field_labels=END_LABELS,
    )
    return render(request, "runs/list.html", context, status_code=status)


def run_view(run: OptimiserRun, uow: SqlUnitOfWork, slug: str) -> dict[str, Any]:
    """What the run page shows: names for ids, funding by candidate and year, where in sample
    and out of sample disagree, and a CVaR run of the quarter that beats a P(target) run out of
    sample (``portfolio.domain.sample_fit``)."""
    names = {c["id"]: c.get("name") or c["id"] for c in run.problem.get("candidates", [])}
    option_names = {
        (c["id"], o["id"]): o.get("name") or o["id"]
        for c in run.problem.get("candidates", [])
        for o in c["options"]
    }
    years = list(run.problem.get("years", []))
    rows: dict[str, dict[str, Any]] = {}
    for f in run.funding:
        row = rows.setdefault(
            f.candidate,
            {
                "candidate": f.candidate,
                "name": names.get(f.candidate, f.candidate),
                "option": option_names.get((f.candidate, f.option), f.option),
                "by_year": dict.fromkeys(years, 0.0),
                "by_envelope": {},
                "total": 0.0,
            },
        )
        row["by_year"][f.year] = row["by_year"].get(f.year, 0.0) + f.amount
        row["by_envelope"][f.envelope] = row["by_envelope"].get(f.envelope, 0.0) + f.amount
        row["total"] += f.amount
    budgets = {e["id"]: e for e in run.problem.get("envelopes", [])}
    return {
        "run": run,
        "allocation": sorted(rows.values(), key=lambda r: -r["total"]),
        "years": years,
        "names": names,
        "envelopes": budgets,
        "policy": run.problem.get("policy", {}),
        "diagnosis": contracts.diagnosis_labels(run),
        "money": run_money(run, ledger.spent(uow, slug).total) if run.found_portfolio else None,
        "sample_gaps": sample_fit.sample_gaps(run) if run.found_portfolio else [],
        "objective_checks": sample_fit.objective_checks(run, uow.runs.all(slug, run.quarter))
        if run.found_portfolio
        else [],
    }


@router.get("/missions/{slug}/runs/compare")
def compare(request: Request, ctx: ViewMission, uow: UowDep, run: RunsQuery = None) -> Response:
    """Two to four runs side by side (``portfolio.services.comparison``). Too few or too many ticked
    shows the optimiser page again with the error and the ticks kept."""
    chosen = list(dict.fromkeys(run or []))
    refusal = comparison.count_refusal(chosen)
    if refusal is None and not all(1 <= r <= MAX_ROW_ID for r in chosen):
        refusal = "tick runs from the list"
    if refusal is not None:
        context = _list_context(
            uow,
            ctx,
            ticked=set(chosen),
            errors=[("run", refusal)],
            field_labels=COMPARE_LABELS,
        )
        return render(request, "runs/list.html", context, status_code=422)
    view = comparison.compare_runs(uow, ctx.slug, chosen)
    return render(
        request,
        "runs/compare.html",
        {
            "mission": uow.missions.get(ctx.slug),
            "ctx": ctx,
            "view": view,
            "chart": _compare_chart(view, uow.missions.get(ctx.slug).unit),
            "query": "&".join(f"run={r}" for r in chosen),
        },
    )


def _compare_chart(view: comparison.Comparison, unit: str) -> charts.Chart:
    p_target = next(m for m in view.metrics if m.key == "p_target")
    impact = next(m for m in view.metrics if m.key == "expected_impact")
    return charts.run_comparison(
        [c.label for c in view.columns],
        p_target.values,
        p_target.intervals or [None] * len(view.columns),
        impact.values,
        {row.label: row.values for row in view.platforms},
        unit,
    )


@router.get("/missions/{slug}/runs/compare/chart.svg")
def compare_chart(ctx: ViewMission, uow: UowDep, run: RunsQuery = None) -> Response:
    """The comparison's chart: P(target) with its Monte-Carlo margin, expected impact and spend
    by platform, per run."""
    chosen = list(dict.fromkeys(run or []))
    if not all(1 <= r <= MAX_ROW_ID for r in chosen):
        raise InvalidInput.single("run", "tick runs from the list")
    view = comparison.compare_runs(uow, ctx.slug, chosen)
    return Response(
        _compare_chart(view, uow.missions.get(ctx.slug).unit).svg,
        media_type="image/svg+xml",
        headers={"Cache-Control": "private, max-age=60"},
    )


@router.get("/missions/{slug}/runs/{run_id}")
def run_page(request: Request, ctx: ViewMission, run_id: RowId, uow: UowDep) -> Response:
    run = uow.runs.get(ctx.slug, run_id)
    return render(
        request,
        "runs/detail.html",
        {
            "mission": uow.missions.get(ctx.slug),
            "ctx": ctx,
            # a closed quarter records no new run and approves none
            "quarter_closed": uow.missions.quarter(ctx.slug, run.quarter).state
            is QuarterState.closed,
            **run_view(run, uow, ctx.slug),
            # its frontier, core index and price of policy (queued when it finished)
            **analyses_context(uow, ctx.slug, run, report_view.run_analyses(uow, ctx.slug, run_id)),
            "policy_names": display.problem_names(run.problem),
        },
    )


@router.post("/missions/{slug}/runs/{run_id}/rerun")
def rerun(request: Request, ctx: RunOptimiser, run_id: RowId, uow: UowDep) -> Response:
    new_id = run_service.rerun(uow, ctx.user.username, ctx.slug, run_id)
    uow.commit()
    request.app.state.jobs.submit(new_id)
    return redirect_done(
        request,
        f"/missions/{ctx.slug}/runs/{new_id}",
        f"Run {new_id} started: run {run_id}'s problem file solved again.",
    )


def _download(document: dict[str, Any], filename: str) -> Response:
    return attachment(json.dumps(document, indent=2, ensure_ascii=False) + "\n", JSON, filename)


@router.get("/missions/{slug}/runs/{run_id}/problem.json")
def problem_file(ctx: ViewMission, run_id: RowId, uow: UowDep) -> Response:
    run = uow.runs.get(ctx.slug, run_id)
    return _download(run.problem, f"{ctx.slug}-run-{run_id}-problem.json")


@router.get("/missions/{slug}/runs/{run_id}/result.json")
def result_file(ctx: ViewMission, run_id: RowId, uow: UowDep) -> Response:
    document = uow.runs.get(ctx.slug, run_id).result_document()
    if document is None:
        raise Conflict("this run has no result yet")
    return _download(document, f"{ctx.slug}-run-{run_id}-result.json")
