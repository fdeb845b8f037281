"""The studio's web app (Starlette): the page, its JSON API, and the token that guards both.

Every request needs the token: as ``?token=`` on the first visit (which sets a cookie, as
Jupyter does, and redirects to the same address without it), then from the cookie or an
``X-Studio-Token`` header. Paths come from the page relative to the folder and go through
:func:`salessim.studio.paths.inside`. Nothing here simulates: runs go to
:class:`salessim.studio.jobs.Jobs`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from salessim.errors import SalessimError, UsageError
from salessim.studio import cases, files, form, redesign
from salessim.studio.jobs import Jobs
from salessim.studio.paths import OUT, OutsideFolder, inside

COOKIE = "salessim_studio_token"
STATIC = Path(__file__).parent / "static"
#: The page runs only its own script and talks only to the studio; no site may frame it.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
#: Most replications one request may ask for (a typo of 10000 would hold the queue).
MAX_REPLICATIONS = 1000


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def create_app(root: str | Path, token: str, jobs: Jobs | None = None) -> Studio:
    """The app over folder ``root``, guarded by ``token``."""
    root = Path(root).resolve()
    queue = jobs if jobs is not None else Jobs()

    def allowed(request: Request) -> bool:
        given = request.headers.get("x-studio-token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), token.encode())

    async def guard(scope, receive, send, app):
        request = Request(scope)
        given = request.query_params.get("token")
        if given is not None and hmac.compare_digest(given.encode(), token.encode()):
            # The first visit: keep the token in a cookie, drop it from the address bar.
            rest = urlencode([(k, v) for k, v in request.query_params.multi_items()
                              if k != "token"])
            target = request.url.path + (f"?{rest}" if rest else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            await response(scope, receive, send)
            return
        if not allowed(request):
            if request.url.path.startswith("/api/"):
                response = JSONResponse({"error": "the studio's token is required"}, 403)
            else:
                response = Response("403: open the address salessim studio printed (it holds "
                                    "the access token)\n", 403, media_type="text/plain")
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    def api(handler):
        async def endpoint(request: Request) -> Response:
            try:
                body = await request.json() if request.method == "POST" else {}
                if not isinstance(body, dict):
                    raise UsageError("the request body must be a JSON object")
                return JSONResponse(await _call(handler, request, body))
            except OutsideFolder as exc:
                return JSONResponse({"error": str(exc)}, 403)
            except files.Conflict as exc:
                return JSONResponse({"error": str(exc), "conflict": True}, 409)
            except FileNotFoundError as exc:
                return JSONResponse({"error": f"no such file: {exc.filename}"}, 404)
            except KeyError as exc:
                return JSONResponse({"error": f"missing or unknown: {exc.args[0]}"}, 400)
            except (SalessimError, ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
        return endpoint

    async def _call(handler, request, body):
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(handler, request, body)

    # --- handlers (run in the thread pool: they read files, load scenarios) ----------

    def list_files(request, body):
        return {"root": str(root), "files": files.list_files(root)}

    def status(request, body):
        return {"root": str(root), "worker_pid": queue.worker_pid()}

    def read(request, body):
        return files.read_file(root, request.query_params["path"])

    def check(request, body):
        from salessim.teaching.diagram import svg

        scenario, problems = files.check_text(root, body["path"], body["text"])
        answer: dict[str, Any] = {"problems": problems, "valid": scenario is not None}
        if scenario is not None:
            answer["svg"] = svg(scenario)
            merged = files.merged_data(root, body["path"], body["text"])
            answer["knobs"] = {**form.knobs(scenario), "stages": form.stage_knobs(merged),
                               "calendar": form.calendar_knobs(merged)}
            answer["name"] = scenario.name
            answer["replications"], answer["seed"] = scenario.replications, scenario.seed
        return answer

    def save(request, body):
        return files.save_file(root, body["path"], body["text"], body.get("version"))

    def new(request, body):
        return files.new_file(root, body["path"], body.get("from"), body.get("as", "copy"))

    def complete(request, body):
        from salessim.studio.complete import completions

        return completions(str(body["text"]), int(body["line"]), int(body["column"]))

    def set_form(request, body):
        return {"text": form.set_knobs(body["text"], body["changes"])}

    def save_redesign(request, body):
        return redesign.save_redesign(root, body["base"], body["text"], body["path"])

    def _count(value: Any, default: int | None) -> int | None:
        if value in (None, ""):
            return default
        n = int(value)
        if not 2 <= n <= MAX_REPLICATIONS:
            raise UsageError(f"replications must be from 2 to {MAX_REPLICATIONS}, got {n}")
        return n

    def _loaded(rel: str, sets: list[str] | None = None):
        from salessim.scenario import load_scenario, scenario_hash

        scenario = load_scenario(inside(root, rel), sets or [])
        return scenario, scenario_hash(scenario)

    def _seed(body, scenario) -> int:
        return scenario.seed if body.get("seed") in (None, "") else int(body["seed"])

    def run(request, body):
        scenario, digest = _loaded(body["path"])
        n, seed = _count(body.get("replications"), scenario.replications), _seed(body, scenario)
        job = queue.submit("run", {"root": str(root), "path": body["path"], "replications": n,
                                   "seed": seed}, _key(digest, seed, n))
        return job.as_json()

    def compare(request, body):
        chosen = [body["baseline"], *body["redesigns"]]
        if len(chosen) < 2:
            raise UsageError("choose a baseline and at least one redesign")
        loaded = [_loaded(rel) for rel in chosen]
        n = _count(body.get("replications"), loaded[0][0].replications)
        seed = _seed(body, loaded[0][0])
        job = queue.submit("compare", {"root": str(root), "baseline": chosen[0],
                                       "redesigns": chosen[1:], "replications": n,
                                       "seed": seed},
                           _key([d for _, d in loaded], chosen, seed, n))
        return job.as_json()

    def whatif(request, body):
        sets = [f"{k}={v}" for k, v in sorted(body["values"].items())]
        for key in body["values"]:
            if not form.slider_key(key):
                raise UsageError(f"a slider sets roles.<role>.headcount, sources.<source>.rate, "
                                 f"stages.<stage>.work.mean, .delay.mean or .next.<target>, "
                                 f"got {key!r}")
        base, digest = _loaded(body["path"])
        _loaded(body["path"], sets)  # a bad value is refused here, not in the worker
        n, seed = _count(body.get("replications"), 10), _seed(body, base)
        job = queue.submit("whatif", {"root": str(root), "path": body["path"], "sets": sets,
                                      "replications": n, "seed": seed},
                           _key(digest, sets, seed, n))
        return job.as_json()

    def classroom(request, body):
        scenario, digest = _loaded(body["path"])
        n, seed = _count(body.get("replications"), 5), _seed(body, scenario)
        job = queue.submit("classroom", {"root": str(root), "path": body["path"],
                                         "replications": n, "seed": seed},
                           _key(digest, seed, n))
        return job.as_json()

    def case(request, body):
        if request.method == "GET":
            return cases.case_info(root, request.query_params["path"])
        info = cases.case_info(root, body["path"])  # a broken case.yaml is refused here
        n = _count(body.get("replications"), info["replications"])
        digests = [_loaded(rel)[1] for rel in [info["before"], *info["after"]]]
        job = queue.submit("case", {"root": str(root), "path": body["path"], "replications": n,
                                    "seed": None}, _key(digests, info["expected"], n))
        return job.as_json()

    def backtest(request, body):
        from salessim.scenario.units import parse_duration

        history = inside(root, body["history"])
        if not history.is_file():
            raise UsageError(f"no such file: {body['history']}")
        spans = {}
        for option in ("every", "horizon"):
            text = str(body.get(option) or "").strip()
            try:
                spans[option] = parse_duration(text, "day")
            except ValueError:
                spans[option] = 0.0
            if not spans[option] > 0:
                raise UsageError(f"the back-test needs {option} as a time, like '30 days', "
                                 f"got {text!r}")
        n = _count(body.get("replications"), 50)
        seed = 1 if body.get("seed") in (None, "") else int(body["seed"])
        params = {"root": str(root), "history": body["history"], **spans, "replications": n,
                  "seed": seed, "uncertainty": bool(body.get("uncertainty"))}
        version = files.version(history.read_bytes().decode("utf-8", "replace"))
        job = queue.submit("backtest", params, _key(version, params))
        return job.as_json()

    def pipelines(request, body):
        from salessim.studio.forecasting import pipeline_files

        return {"files": pipeline_files(root)}

    def forecast(request, body):
        scenario, digest = _loaded(body["path"])
        others = [_loaded(r)[1] for r in body.get("redesigns") or []]
        data = inside(root, body["pipeline"])
        if not data.is_file():
            raise UsageError(f"no such file: {body['pipeline']}")
        quota = None if body.get("quota") in (None, "") else float(body["quota"])
        n = _count(body.get("replications"), 20)
        seed = _seed(body, scenario)
        params = {"root": str(root), "path": body["path"], "pipeline": body["pipeline"],
                  "until": str(body["until"]), "redesigns": list(body.get("redesigns") or []),
                  "quota": quota, "replications": n, "seed": seed}
        version = files.version(data.read_bytes().decode("utf-8", "replace"))
        job = queue.submit("forecast", params, _key(digest, others, version, params))
        return job.as_json()

    def job_state(request, body):
        job = queue.get(request.path_params["id"])
        if job is None:
            raise UsageError(f"no such job: {request.path_params['id']}")
        return job.as_json()

    def cancel(request, body):
        job = queue.cancel(request.path_params["id"])
        if job is None:
            raise UsageError(f"no such job: {request.path_params['id']}")
        return job.as_json()

    # --- pages and files -------------------------------------------------------------

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": PAGE_CSP})

    async def raw(request: Request) -> Response:
        rel = request.path_params["path"]
        try:
            path = inside(root, rel)
        except OutsideFolder as exc:
            return Response(f"403: {exc}\n", 403, media_type="text/plain")
        if not rel.startswith(OUT + "/"):  # the scenarios themselves go through /api/file
            return Response(f"403: only the studio's outputs ({OUT}/) are served here\n", 403,
                            media_type="text/plain")
        if not path.is_file():
            return Response("404: no such file\n", 404, media_type="text/plain")
        return FileResponse(path)

    routes = [
        Route("/", index),
        Route("/files/{path:path}", raw),
        Route("/api/files", api(list_files)),
        Route("/api/file", api(read)),
        Route("/api/status", api(status)),
        Route("/api/check", api(check), methods=["POST"]),
        Route("/api/save", api(save), methods=["POST"]),
        Route("/api/form", api(set_form), methods=["POST"]),
        Route("/api/complete", api(complete), methods=["POST"]),
        Route("/api/case", api(case), methods=["GET", "POST"]),
        Route("/api/backtest", api(backtest), methods=["POST"]),
        Route("/api/new", api(new), methods=["POST"]),
        Route("/api/redesign", api(save_redesign), methods=["POST"]),
        Route("/api/run", api(run), methods=["POST"]),
        Route("/api/compare", api(compare), methods=["POST"]),
        Route("/api/whatif", api(whatif), methods=["POST"]),
        Route("/api/classroom", api(classroom), methods=["POST"]),
        Route("/api/pipelines", api(pipelines)),
        Route("/api/forecast", api(forecast), methods=["POST"]),
        Route("/api/jobs/{id}", api(job_state)),
        Route("/api/jobs/{id}/cancel", api(cancel), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        queue.close()  # the server stops: no worker left behind

    return Studio(Starlette(routes=routes, lifespan=lifespan), guard, queue)


class Studio:
    """The ASGI app: every HTTP request passes the token guard first."""

    def __init__(self, inner: Starlette, guard: Any, jobs: Jobs) -> None:
        self.inner, self.guard, self.jobs = inner, guard, jobs

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            await self.guard(scope, receive, send, self.inner)
        else:
            await self.inner(scope, receive, send)
