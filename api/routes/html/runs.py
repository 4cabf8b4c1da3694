"""The CEO's optimiser form, the list of runs and each run's allocation, with downloads."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import FormDep, MissionAccess, MissionContext, UowDep
from api.forms import (
    OBJECTIVES,
    PERCENT_FIELDS,
    parse_number,
    run_from_form,
    run_values,
    values_of,
)
from api.params import MAX_ROW_ID, RowId
from api.permissions import Perm
from api.templating import render
from portfolio import contracts, cycle, ledger, quarters
from portfolio import runs as run_service
from portfolio.errors import Conflict, InvalidInput, validation_errors
from portfolio.model import ContractState, OptimiserRun, QuarterState
from portfolio.money import loss_share_of, run_money
from portfolio.run_policy import RunPolicy
from portfolio.unit_of_work import SqlUnitOfWork

router = APIRouter(include_in_schema=False)

ViewMission = Annotated[MissionContext, Depends(MissionAccess(Perm.view_mission))]
RunOptimiser = Annotated[MissionContext, Depends(MissionAccess(Perm.run_optimiser))]
ManageCycle = Annotated[MissionContext, Depends(MissionAccess(Perm.manage_cycle))]


def _list_context(uow: SqlUnitOfWork, ctx: MissionContext, **extra: Any) -> dict[str, Any]:
    runs = uow.runs.all(ctx.slug)
    last = runs[0] if runs else None
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
    else:
        values = run_values(
            last.problem.get("policy") if last else None,
            last.problem.get("scenarios") if last else None,
            last.overrides if last else None,
            # a legacy run's charge may state more than all the money: shown as 100 %
            switching_loss=min(1.0, loss_share_of(last.problem)) if last else None,
        )
    quarter = quarters.current(uow, ctx.slug)
    return {
        "mission": uow.missions.get(ctx.slug),
        "ctx": ctx,
        "runs": runs,
        "values": values,
        "objectives": OBJECTIVES,
        "percent_fields": PERCENT_FIELDS,
        "candidates": uow.candidates.all(ctx.slug),
        "quarter": quarter,
        "contracts": contracts.contract_views(uow, ctx.slug, live_only=True),
        **extra,
    }


@router.get("/missions/{slug}/runs")
def run_list(request: Request, ctx: ViewMission, uow: UowDep) -> Response:
    return render(request, "runs/list.html", _list_context(uow, ctx))


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
            return RedirectResponse(f"/missions/{ctx.slug}/runs/{run_id}", status_code=303)
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


@router.post("/missions/{slug}/contracts/{contract_id}/end")
def end_contract(
    request: Request, ctx: ManageCycle, contract_id: RowId, form: FormDep, uow: UowDep
) -> Response:
    """The CEO ends a live contract from the optimiser page (reason, break cost, envelope)."""
    values = values_of(form)
    errors: list[tuple[str, str]] = []
    break_cost = parse_number(values, "break_cost", errors, required=False)
    status = 422
    if not errors:
        try:
            raw_state = str(values.get("expected_state", "live"))
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
            uow.commit()
            return RedirectResponse(f"/missions/{ctx.slug}/runs#contracts", status_code=303)
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
    """What the run page shows: names for ids, funding by candidate and year."""
    names = {c["id"]: c.get("name") or c["id"] for c in run.problem.get("candidates", [])}
    option_names = {
        (c["id"], o["id"]): o.get("name") or o["id"]
        for c in run.problem.get("candidates", [])
        for o in c["options"]
    }
    years = list(run.problem.get("years", []))
    rows: dict[str, dict[str, Any]] = {}
    for f in (run.result or {}).get("funding", []):
        row = rows.setdefault(
            f["candidate"],
            {
                "candidate": f["candidate"],
                "name": names.get(f["candidate"], f["candidate"]),
                "option": option_names.get((f["candidate"], f["option"]), f["option"]),
                "by_year": dict.fromkeys(years, 0.0),
                "by_envelope": {},
                "total": 0.0,
            },
        )
        row["by_year"][f["year"]] = row["by_year"].get(f["year"], 0.0) + f["amount"]
        row["by_envelope"][f["envelope"]] = row["by_envelope"].get(f["envelope"], 0.0) + f["amount"]
        row["total"] += f["amount"]
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
    }


@router.get("/missions/{slug}/runs/compare")
def compare(
    request: Request,
    ctx: ViewMission,
    uow: UowDep,
    run: Annotated[list[int] | None, Query(max_length=10)] = None,
) -> Response:
    """Two runs side by side: what each funds, spend, P(target), CVaR; differences marked."""
    chosen = list(dict.fromkeys(run or []))
    if len(chosen) != 2 or not all(1 <= r <= MAX_ROW_ID for r in chosen):
        raise InvalidInput.single("run", "tick exactly two runs to compare")
    a, b = (uow.runs.get(ctx.slug, r) for r in chosen)
    names = {c.id: c.name for c in uow.candidates.all(ctx.slug)}
    ha, hb = cycle.holdings(a), cycle.holdings(b)
    rows = [
        {
            "candidate": c,
            "name": names.get(c, c),
            "a": ha.get(c),
            "b": hb.get(c),
            "differs": (ha.get(c) or ("", 0))[0] != (hb.get(c) or ("", 0))[0]
            or abs((ha.get(c) or ("", 0.0))[1] - (hb.get(c) or ("", 0.0))[1]) > 1e-6,
        }
        for c in sorted(set(ha) | set(hb), key=lambda c: names.get(c, c))
    ]

    def metrics(r: OptimiserRun) -> dict[str, Any]:
        result = r.result or {}
        oos = (result.get("metrics") or {}).get("out_of_sample") or {}
        return {
            "status": r.status,
            "objective": r.objective,
            "spend": (result.get("spend") or {}).get("total"),
            "p_target": oos.get("p_target"),
            "expected_impact": oos.get("expected_impact"),
            "cvar_shortfall": oos.get("cvar_shortfall"),
            "p_overrun": oos.get("p_overrun"),
            "expected_overspend": oos.get("expected_overspend"),
            "funded": len(cycle.holdings(r)),
        }

    policy_keys = sorted(set(a.problem.get("policy", {})) | set(b.problem.get("policy", {})))
    policy_rows = [
        (k, a.problem.get("policy", {}).get(k), b.problem.get("policy", {}).get(k))
        for k in policy_keys
    ]
    return render(
        request,
        "runs/compare.html",
        {
            "mission": uow.missions.get(ctx.slug),
            "ctx": ctx,
            "a": a,
            "b": b,
            "rows": rows,
            "ma": metrics(a),
            "mb": metrics(b),
            "policy_rows": [r for r in policy_rows if r[1] != r[2]],
        },
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
        },
    )


@router.post("/missions/{slug}/runs/{run_id}/rerun")
def rerun(request: Request, ctx: RunOptimiser, run_id: RowId, uow: UowDep) -> Response:
    new_id = run_service.rerun(uow, ctx.user.username, ctx.slug, run_id)
    uow.commit()
    request.app.state.jobs.submit(new_id)
    return RedirectResponse(f"/missions/{ctx.slug}/runs/{new_id}", status_code=303)


def _download(document: dict[str, Any], filename: str) -> Response:
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/missions/{slug}/runs/{run_id}/problem.json")
def problem_file(ctx: ViewMission, run_id: RowId, uow: UowDep) -> Response:
    run = uow.runs.get(ctx.slug, run_id)
    return _download(run.problem, f"{ctx.slug}-run-{run_id}-problem.json")


@router.get("/missions/{slug}/runs/{run_id}/result.json")
def result_file(ctx: ViewMission, run_id: RowId, uow: UowDep) -> Response:
    run = uow.runs.get(ctx.slug, run_id)
    if run.result is None:
        raise Conflict("this run has no result yet")
    return _download(run.result, f"{ctx.slug}-run-{run_id}-result.json")
