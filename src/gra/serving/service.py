"""The BentoML service: `/predict`, `/predict_batch`, `/info` and the web page at `/`.

The HTTP surface is a FastAPI app mounted on the BentoML service, which gives full control of
multipart parsing, size limits and error bodies (every refusal is JSON with a 4xx status);
BentoML supplies the workers, `/readyz` `/livez` `/metrics`, the model store and the bento.

Run it with `gra serve`, or `bentoml serve gra.serving.service:GRA`, or `bentoml serve` of a
built bento (`bentoml build` packs the current champion, `gra:latest`, into it).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from importlib import resources
from pathlib import Path

import bentoml
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from gra.config import load_settings
from gra.errors import error_body
from gra.monitoring.log import InferenceLog
from gra.registry import Champion, current_tag
from gra.serving.http_limits import BodyLimit
from gra.serving.predictor import InputRejected, Predictor
from gra.serving.uploads import spooled_upload

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

SETTINGS = load_settings(os.environ.get("GRA_PARAMS", "params.yaml"))
SERVE = SETTINGS.serve
_MULTIPART_OVERHEAD = 64 * 1024

app = FastAPI(title="GRA: gender and age from voice", redoc_url=None)


def _request_limit(path: str) -> int | None:
    if path.rstrip("/") == "/predict":
        return SERVE.max_upload_bytes + _MULTIPART_OVERHEAD
    if path.rstrip("/") == "/predict_batch":
        return SERVE.max_upload_bytes * SERVE.max_batch_files + _MULTIPART_OVERHEAD
    return None


app.add_middleware(BodyLimit, limit_for_path=_request_limit)


def _error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(error_body(message, code, status), status_code=status)


@app.exception_handler(InputRejected)
async def _rejected(_: Request, exc: InputRejected) -> JSONResponse:
    return _error(exc.status, str(exc), exc.code)


@app.exception_handler(RequestValidationError)
async def _malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
    return _error(
        400,
        "send the recording as multipart/form-data in the field 'audio' "
        "(curl -F audio=@clip.mp3 http://HOST:PORT/predict)",
        "bad_request",
    )


@app.exception_handler(HTTPException)
async def _http(_: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 400 and "multipart" in str(exc.detail).lower():
        # Starlette's parser says only "Invalid multipart data" (a part's headers too long,
        # a broken boundary, ...): say what a client can do about it.
        return _error(
            400,
            f"the upload could not be read as multipart/form-data ({exc.detail}); send the "
            "recording in the field 'audio' with a file name under 1,000 characters "
            "(curl -F audio=@clip.mp3 http://HOST:PORT/predict)",
            "bad_multipart",
        )
    codes = {413: "too_large", 404: "not_found", 405: "method_not_allowed"}
    return _error(exc.status_code, str(exc.detail), codes.get(exc.status_code, "http_error"))


@app.exception_handler(Exception)
async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    # A bug, not the client's fault: say so in JSON; the worker keeps serving.
    return _error(500, f"internal error ({type(exc).__name__}); see the server log", "internal")


@bentoml.service(
    name="gra",
    workers=SERVE.workers,
    traffic={"timeout": 300},
    endpoints={"readyz": "/readyz", "livez": "/livez"},
)
@bentoml.asgi_app(app, path="/")
class GRA:
    # The champion pointer at start-up: a running service keeps the model it loaded, a
    # restarted one serves the pointer's, a bento the one it was built with (_served_model).
    champion = bentoml.models.BentoModel(
        current_tag(SETTINGS.gate.model_name) or f"{SETTINGS.gate.model_name}:latest"
    )

    def __init__(self) -> None:
        import torch
        from threadpoolctl import threadpool_limits

        # Each worker process predicts on several threads; one BLAS/torch thread per request
        # avoids oversubscribing the cores the other workers use.
        torch.set_num_threads(1)
        threadpool_limits(limits=1)
        model = _served_model(self)
        bundle = Champion.from_directory(Path(model.path), str(model.tag))
        self.predictor = Predictor(bundle, SERVE, batching=SERVE.adaptive_batching)
        self.page = resources.files("gra.serving").joinpath("ui/index.html").read_text()
        self._warm_up()
        # After the warm-up, which is not an answer to anyone.
        self.predictor.log = InferenceLog.from_settings(SETTINGS.monitoring)

    def _warm_up(self) -> None:
        """Run one prediction on a synthetic voice (2 s the VAD accepts, so every stage runs;
        shipped as warmup.wav, made by gra.data.demo.speech_like) so the first client does not
        pay for lazy imports, JIT and first-call set-up."""
        clip = resources.files("gra.serving").joinpath("warmup.wav").read_bytes()
        self.predictor.predict_many([clip])

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(self) -> HTMLResponse:
        return HTMLResponse(self.page)

    @app.get("/ui", response_class=HTMLResponse, include_in_schema=False)
    def ui(self) -> HTMLResponse:
        return HTMLResponse(self.page)

    @app.get("/info")
    def info(self) -> dict:
        """The model behind the answers, its classes and the service's limits."""
        return self.predictor.describe()

    @app.post("/predict")
    def predict(self, audio: list[UploadFile] = File(...)) -> dict:
        """One recording (multipart field `audio`) -> gender and age group."""
        if len(audio) > 1:
            raise InputRejected(
                f"{len(audio)} files were sent in the field 'audio'; /predict answers for one "
                "recording: send several to /predict_batch",
                400,
                "one_file_only",
            )
        with spooled_upload(audio[0].file, SERVE.max_upload_bytes) as path:
            return self.predictor.predict(path, origin="http")

    @app.post("/predict_batch")
    def predict_batch(self, audio: list[UploadFile] = File(...)) -> list[dict]:
        """Several recordings (repeat the field `audio`) -> one result each, in order, with its
        `index` and `filename`. A file that cannot be used gets an error object in its place."""
        if len(audio) > SERVE.max_batch_files:
            raise InputRejected(
                f"{len(audio)} files sent; at most {SERVE.max_batch_files} per request "
                "(serve.max_batch_files)",
                413,
                "too_many_files",
            )
        results: list[dict | InputRejected | None] = [None] * len(audio)
        with contextlib.ExitStack() as stack:
            paths, index = [], []
            for i, upload in enumerate(audio):
                try:
                    paths.append(
                        stack.enter_context(spooled_upload(upload.file, SERVE.max_upload_bytes))
                    )
                    index.append(i)
                except InputRejected as exc:
                    results[i] = exc
            answers = self.predictor.predict_many(paths, origin="http_batch")
            for i, result in zip(index, answers, strict=True):
                results[i] = result
        return [
            {"index": i, "filename": _client_name(upload)}
            | (r.to_dict() if isinstance(r, InputRejected) else r)
            for i, (upload, r) in enumerate(zip(audio, results, strict=True))
        ]


def _client_name(upload: UploadFile) -> str | None:
    """The file name the client gave, echoed so batch entries can be matched (never a path we
    use; cut to 255 characters)."""
    return upload.filename[:255] if upload.filename else None


def _served_model(service: GRA) -> bentoml.Model:
    """The model a bento was built with (pinned in bento.yaml); outside a bento, the current
    champion. BentoML itself would resolve `gra:latest` again when a bento starts."""
    bento = getattr(GRA, "bento", None)
    if bento is not None:
        for info in bento.info.services:
            if info.name == GRA.name and info.models:
                return bentoml.models.get(info.models[0].tag)
    return service.champion


# Registered after every route above, so it only catches what none of them matches. BentoML
# hands a request to this app only when one of its routes matches, and would answer anything
# else with a plain-text 404; with this catch-all every unknown route gets a JSON error too.
@app.api_route(
    "/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
async def _no_such_route(request: Request, path: str) -> JSONResponse:
    # A route whose path matches but not the method answers partially (Starlette's own test).
    others = [r for r in app.routes if getattr(r, "endpoint", None) is not _no_such_route]
    if any(route.matches(request.scope)[0] != Match.NONE for route in others):
        raise HTTPException(405, f"{request.method} is not allowed on /{path}")
    raise HTTPException(
        404,
        f"no route {request.method} /{path}: the service answers POST /predict, "
        "POST /predict_batch, GET /info and the page at GET /",
    )
