"""The FastAPI application: routers, static assets, security headers, and the one place where
domain errors become HTTP answers (JSON under /api/v1, an error page elsewhere)."""

from __future__ import annotations

import gc
import secrets
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.body_limit import BodySizeLimit
from api.deps import CsrfFailed, LoginRequired, SecondFactorRequired, csrf_protect
from api.jobs import JobRunner
from api.routes.html import (
    admin,
    approvals,
    auth,
    candidates,
    council,
    council_members,
    cycle,
    finance,
    history,
    imports,
    missions,
    public,
    report,
    runs,
    spend,
)
from api.routes.json import approvals as approvals_api
from api.routes.json import candidates as candidates_api
from api.routes.json import contracts as contracts_api
from api.routes.json import council as council_api
from api.routes.json import finance as finance_api
from api.routes.json import history as history_api
from api.routes.json import missions as missions_api
from api.routes.json import public as public_api
from api.routes.json import quarters as quarters_api
from api.routes.json import report as report_api
from api.routes.json import runs as runs_api
from api.routes.json import spend as spend_api
from api.routes.json import users as users_api
from api.security import log_event
from api.settings import Settings
from api.templating import STATIC_DIR, render
from optimiser.errors import ProblemError
from portfolio.adapters import database
from portfolio.adapters.security_log import SecurityEventKind
from portfolio.adapters.unit_of_work import STALE, session_factory
from portfolio.domain.errors import Conflict, InvalidInput, PortfolioError, validation_errors

#: every router, in the order requests are matched (the HTML pages, then the JSON API)
ROUTERS = (
    auth.router,
    missions.router,
    candidates.router,
    council.router,
    council_members.router,
    cycle.router,
    public.router,
    imports.router,
    report.router,
    runs.router,
    approvals.router,
    spend.router,
    finance.router,
    history.router,
    admin.router,
    # the JSON API (/api/v1): one router per resource
    users_api.router,
    missions_api.router,
    candidates_api.router,
    history_api.router,
    runs_api.router,
    council_api.router,
    quarters_api.router,
    contracts_api.router,
    approvals_api.router,
    spend_api.router,
    finance_api.router,
    report_api.router,
    public_api.router,
)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(
    settings: Settings | None = None, *, migrate: bool = True, shared: bool = False
) -> FastAPI:
    """Build the app for ``settings`` (from the environment by default); the database is
    migrated to the newest schema on start-up. ``shared``: one of several processes serving the
    database (``serve --workers N``), which leaves analyses left unfinished alone at start-up
    (another live process may be computing them; ``serve`` failed those of a stopped server
    before starting the processes)."""
    settings = settings or Settings.from_env()
    engine = database.make_engine(settings.database_url)
    if migrate:
        database.upgrade(engine)

    # every unit of work on these sessions seals the history with the server's key
    factory = session_factory(engine, settings.history_key())
    jobs = JobRunner(
        factory,
        inline=settings.run_jobs_inline,
        database_url=engine.url.render_as_string(hide_password=False),
        auto_analyses=settings.auto_analyses,
    )
    jobs.recover(analyses=not shared)
    jobs.catch_up()  # the latest approved allocations' analyses, if they never had them

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        jobs.start()  # take queued runs (left by a stopped server too) from the shared queue
        yield
        jobs.shutdown()
        engine.dispose()

    app = FastAPI(
        title="Mission Portfolio API",
        version="1",
        description="Missions, candidates, users and the audit trail of Mission Portfolio. "
        "Authenticate with the web session (and send its CSRF token in X-CSRF-Token on "
        "changes) or with `Authorization: Bearer <API token>`. A versioned resource (a "
        "mission, a candidate, your own scores of a candidate) is sent with an `ETag`; change "
        "it with `If-Match: <that ETag>` (428 without it, 412 when it was changed since).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(csrf_protect)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = factory
    app.state.jobs = jobs

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)

    _install_handlers(app)
    # inside the security headers (added after it), so a 413 carries them too
    app.add_middleware(
        BodySizeLimit, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes
    )
    _install_security_headers(app)
    return app


def create_worker_app() -> FastAPI:
    """The app of each process of ``mission-portfolio serve --workers N`` (uvicorn's factory,
    ``api.app:create_worker_app``): the settings ``serve`` was given (``Settings.for_workers``),
    on the database ``serve`` has migrated and recovered already (``shared``)."""
    app = create_app(Settings.from_workers(), migrate=False, shared=True)
    settle_heap()
    return app


COLLECTOR_THRESHOLDS = (5_000, 10, 20)
"""The garbage collector's thresholds in a server process (Python's are 700, 10, 10): a young
collection every 5,000 net allocations, so most of a request's objects are gone before one comes
and are never promoted, and a full collection at most every 20 middle ones. Measured over 1,800
views of nine pages of the large mission (``benchmarks/README.md``, "Fourth measurement"): mean
43 → 32 ms, p95 93 → 46 ms, p99 109 → 55 ms, for 301 MB of memory at most against 253."""


def settle_heap() -> None:
    """Take what a server process holds for its whole life out of the garbage collector's
    sight, and collect less often (``COLLECTOR_THRESHOLDS``): collect once, then move every
    object alive now (the modules, the routes, the templates, the ORM's mappers: about 300,000
    objects) into its permanent generation.

    Python's collector walks every tracked object on each full collection. In a server those
    come every few requests (each request's objects that live through a young collection are
    promoted), and at the size of a large programme one took 120 ms, so one page view in ten
    waited for it (``benchmarks/README.md``). Objects made later are still collected as usual.
    Only for a process that serves until it stops (``serve``, the benchmarks that stand for it):
    an object frozen here that later becomes cyclic garbage is never collected, which would leak
    in a process that builds app after app, as the test suite does."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def _install_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        nonce = secrets.token_urlsafe(16)
        request.state.csp_nonce = nonce
        response = await call_next(request)
        if response.headers.get("content-type", "").startswith("image/svg+xml"):
            # a chart shown through <img>: no scripts at all, its own styles only
            response.headers["Content-Security-Policy"] = (
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
            )
        else:
            response.headers["Content-Security-Policy"] = (
                f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
                "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
                "frame-ancestors 'none'"
            )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    template = {403: "errors/403.html", 404: "errors/404.html"}.get(status, "errors/error.html")
    return render(
        request,
        template,
        {"status": status, "title": title, "message": message},
        status_code=status,
    )


def _api_error(
    status: int,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The JSON body of every error answer under /api/v1 (``ApiError``)."""
    return JSONResponse(
        {"detail": detail, "errors": errors or []}, status_code=status, headers=headers
    )


async def _login_required(request: Request, exc: LoginRequired) -> Response:
    if is_api(request):
        detail = str(exc) or "authentication required"
        return _api_error(401, detail, headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


async def _second_factor_required(request: Request, exc: SecondFactorRequired) -> Response:
    if is_api(request):
        return _api_error(403, "turn on two-factor authentication on your account page first")
    return RedirectResponse("/account?setup=2fa#two-factor", status_code=303)


async def _invalid_input(request: Request, exc: InvalidInput) -> Response:
    if is_api(request):
        return _api_error(422, str(exc), [{"field": f, "rule": r} for f, r in exc.errors])
    return _error_page(request, 422, "There is a problem with what was sent", str(exc))


async def _problem_error(request: Request, exc: ProblemError) -> Response:
    """The problem built from the request does not hold together (e.g. a run's policy names a
    candidate the mission does not have): the caller's input, so a 422, never a 500."""
    errors = [{"field": path or "document", "rule": rule} for path, rule in exc.errors]
    detail = "; ".join(f"{e['field']}: {e['rule']}" for e in errors)
    if is_api(request):
        return _api_error(422, detail, errors)
    return _error_page(request, 422, "There is a problem with what was sent", detail)


_ERROR_TITLES = {
    403: "You do not have access to this",
    404: "Page not found",
    409: "This change clashes with the current state",
}


async def _portfolio_error(request: Request, exc: PortfolioError) -> Response:
    """A domain error carries its status (403, 404, 409…); a refusal is logged."""
    if exc.status == 403:
        auth = getattr(request.state, "auth", None)
        await run_in_threadpool(
            log_event,
            request,
            SecurityEventKind.csrf_refused
            if isinstance(exc, CsrfFailed)
            else SecurityEventKind.forbidden,
            auth.user.username if auth is not None and auth.user is not None else None,
            str(exc),
        )
    if is_api(request):
        return _api_error(exc.status, str(exc))
    return _error_page(request, exc.status, _ERROR_TITLES.get(exc.status, "Error"), str(exc))


async def _request_invalid(request: Request, exc: RequestValidationError) -> Response:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        errors.append(
            {
                "field": ".".join(loc) or "body",
                "rule": str(err.get("msg", "")).removeprefix("Value error, "),
            }
        )
    detail = "; ".join(f"{e['field']}: {e['rule']}" for e in errors)
    if is_api(request):
        return _api_error(422, detail, errors)
    return _error_page(request, 422, "There is a problem with the request", detail)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if is_api(request):
        return _api_error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
    title = {404: "Page not found", 413: "What was sent is too large"}.get(exc.status_code, "Error")
    return _error_page(request, exc.status_code, title, str(exc.detail))


async def _stale_data(request: Request, exc: StaleDataError) -> Response:
    """A concurrent writer changed the row first (its version moved on) during a flush the
    service did not wrap: a 409 like any other clash, never a 500."""
    return await _portfolio_error(request, Conflict(STALE))


async def _storage_error(request: Request, exc: DBAPIError) -> Response:
    """The database cannot store changes (read-only, full, busy): a 503 that says so, never a
    bare "Internal Server Error". Any other database error stays a 500."""
    problem = database.storage_problem(exc)
    if problem is None:
        raise exc
    if problem == database.BUSY:
        message, headers = f"{problem}: try again in a moment.", {"Retry-After": "5"}
    else:
        message = f"{problem}: changes cannot be saved. Contact the administrator."
        headers = {}
    if is_api(request):
        return _api_error(503, message, headers=headers)
    response = _error_page(request, 503, "Changes cannot be saved just now", message)
    response.headers.update(headers)
    return response


#: the one place where errors become HTTP answers: JSON under /api/v1, a page elsewhere
_HANDLERS: tuple[tuple[type[Exception], Callable[[Request, Any], Awaitable[Response]]], ...] = (
    (LoginRequired, _login_required),
    (SecondFactorRequired, _second_factor_required),
    (InvalidInput, _invalid_input),
    (ProblemError, _problem_error),
    (PortfolioError, _portfolio_error),
    (RequestValidationError, _request_invalid),
    (StarletteHTTPException, _http_error),
    (StaleDataError, _stale_data),
    (DBAPIError, _storage_error),
)


def _install_handlers(app: FastAPI) -> None:
    for exc_class, handler in _HANDLERS:
        app.add_exception_handler(exc_class, handler)


__all__ = ["create_app", "validation_errors"]
