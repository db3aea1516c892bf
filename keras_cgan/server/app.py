"""The FastAPI application: the page, the JSON API and one-line errors.

Endpoints (JSON in and out; `/docs` has the schema):

* `GET /`: the page (its script and style are package data, no CDN);
* `POST /v1/generate`: a grid, one row per class;
* `POST /v1/interpolate`: rows morphing class `from` into class `to`;
* `POST /v1/walk`: a latent walk, one row per class;
* `GET /v1/model`: the served model's metadata; `GET /healthz`.

Pictures come back as a PNG (`"format": "png"`) or as float arrays
`[N, H, W, C]` in [0, 1] (`"format": "array"`). Every bad request gets a 4xx
with a one-line JSON body `{"error": "<field>: <problem>", "field": "<field>"}`.
"""

import json
import logging
import secrets
import time
from importlib import resources
from typing import Literal, Optional, Union

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

LOG = logging.getLogger("keras_cgan.serve")
MAX_BODY_BYTES = 64 * 1024
MAX_SEED = 2**32 - 1
STATIC_FILES = {  # URL -> (package file, media type): nothing else is served.
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
    "/static/favicon.svg": ("favicon.svg", "image/svg+xml"),
}

ClassRef = Union[StrictInt, StrictStr]
Format = Literal["png", "array"]


class RequestError(ValueError):
    """A request that passed the schema but names something out of range."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    seed: Optional[int] = Field(
        None,
        ge=0,
        le=MAX_SEED,
        description="Noise seed (same seed, same picture); omit for fresh noise.",
    )
    format: Format = Field("png", description="png: one grid picture; array: floats [N, H, W, C].")
    scale: int = Field(2, ge=1, le=8, description="PNG pixels per image pixel.")
    labels: bool = Field(True, description="PNG: draw the class name left of each row.")


class GenerateBody(_Body):
    classes: list[ClassRef] = Field(
        ..., min_length=1, description="Class ids or names, one grid row each.", examples=[[3, 7]]
    )
    per_class: int = Field(1, ge=1, description="Images per class (grid columns).")
    shared_noise: bool = Field(
        False,
        description="Column c uses the same noise in every row (rows = classes, columns = noise).",
    )
    layout: Literal["rows", "columns"] = Field(
        "rows",
        description="PNG: rows = one row per class; columns = one column per class, read "
        'left to right ("2026" as a year). Arrays are always class-major.',
    )


class InterpolateBody(_Body):
    from_: ClassRef = Field(..., alias="from", description="Class at mix 0.")
    to: ClassRef = Field(..., description="Class at mix 1.")
    steps: int = Field(10, ge=1, description="Evenly spaced mixes from 0 to 1 (ignored with t).")
    t: Optional[list[float]] = Field(
        None, min_length=1, description="Explicit mixes in [0, 1], e.g. [0.25] for one frame."
    )
    rows: int = Field(1, ge=1, description="Noise vectors, one row each.")


class WalkBody(_Body):
    classes: list[ClassRef] = Field(
        ..., min_length=1, description="Class ids or names, one row each."
    )
    steps: int = Field(10, ge=2, description="Points along the noise path (columns).")


def _error(status, field, message):
    text = " ".join(f"{field}: {message}".split())[:300]
    return JSONResponse({"error": text, "field": field}, status_code=status)


_UNION_TAGS = ("int", "str")  # pydantic's names of a union's members in `loc`


def _field(loc):
    parts = [str(p) for p in loc if p not in ("body", "query", "path") + _UNION_TAGS]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() and out else (f".{p}" if out else p)
    return out or "body"


def _validation_handler(request, exc):
    first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid request"}
    field = _field(first.get("loc", ("body",)))
    message = first.get("msg", "invalid value")
    if first.get("type") == "json_invalid":
        field, message = "body", "is not valid JSON"
    elif first.get("type") == "missing":
        message = "is required"
    elif any(p in _UNION_TAGS for p in first.get("loc", ())):
        message = "must be a class id (a whole number) or a class name (a string)"
    elif first.get("type") == "extra_forbidden":
        message = "is not a known field (see /docs)"
    return _error(422, field, message)


def _resolve_class(model, value, field):
    if isinstance(value, bool):
        raise RequestError(field, f"{value!r} is not a class id or name")
    if isinstance(value, int):
        if not 0 <= value < model.num_classes:
            raise RequestError(field, f"{value} is not a class id in 0..{model.num_classes - 1}")
        return value
    text = value.strip()
    lowered = [n.lower() for n in model.class_names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    if text.isdigit() and int(text) < model.num_classes:
        return int(text)
    shown = ", ".join(model.class_names[:12]) + (", ..." if model.num_classes > 12 else "")
    raise RequestError(field, f"{value[:40]!r} is not a class name (classes: {shown})")


def _check_count(count, limit, field):
    if count > limit:
        raise RequestError(
            field,
            f"the request asks for {count} images, more than the limit of {limit} (--max_images)",
        )


def _picture(model, images, rows, row_labels, body, seed, model_ms, extra=None):
    """The response: a PNG grid or arrays, with the seed used and a Server-Timing header."""
    started = time.perf_counter()
    cols = len(images) // rows
    headers = {"X-Seed": str(seed), "X-Rows": str(rows), "X-Cols": str(cols)}
    if body.format == "png":
        from keras_cgan.server.model import encode_png

        png = encode_png(images, rows, row_labels if body.labels else None, scale=body.scale)
        headers["Server-Timing"] = _timing(model_ms, started)
        return Response(png, media_type="image/png", headers=headers)
    from keras_cgan.server.model import images_json

    payload = {"shape": list(images.shape), "rows": rows, "cols": cols, "seed": seed}
    payload.update(extra or {})
    text = json.dumps(payload).encode()
    # The pixels are spliced in as pre-built JSON text (see images_json).
    body = b'{"images": ' + images_json(images) + b", " + text[1:]
    headers["Server-Timing"] = _timing(model_ms, started)
    return Response(body, media_type="application/json", headers=headers)


def _timing(model_ms, encode_started):
    """A Server-Timing header: model time (under the lock) and encoding time, in ms."""
    encode_ms = (time.perf_counter() - encode_started) * 1000.0
    return f"model;dur={model_ms:.2f}, encode;dur={encode_ms:.2f}"


def _seed(body):
    return body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1)


def create_app(model, max_images=400):
    """The FastAPI application serving `model`.

    Args:
        model: A `keras_cgan.server.model.ServedModel` (loaded once, shared).
        max_images: Most images one request may ask for.

    Returns:
        A `fastapi.FastAPI` app (run it with uvicorn, or test it with TestClient).
    """
    app = FastAPI(
        title="keras_cgan generator",
        description="Draw digits (or any class) from a trained conditional GAN generator.",
        version=str(model.metadata.get("keras_cgan_version", "")),
    )
    app.state.model = model
    app.state.max_images = int(max_images)
    page = resources.files("keras_cgan.server").joinpath("static", "index.html").read_bytes()
    static = {
        url: (resources.files("keras_cgan.server").joinpath("static", name).read_bytes(), media)
        for url, (name, media) in STATIC_FILES.items()
    }
    app.add_exception_handler(RequestValidationError, _validation_handler)

    @app.exception_handler(RequestError)
    def _request_error(request, exc):
        return _error(422, exc.field, str(exc).split(": ", 1)[1])

    @app.exception_handler(StarletteHTTPException)
    def _http_error(request, exc):  # 404, 405, ...: the same one-line shape.
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 400:  # FastAPI could not decode the body.
            return _error(400, "body", f"cannot be read ({detail})")
        return _error(exc.status_code, "path", f"{request.method} {request.url.path}: {detail}")

    @app.exception_handler(Exception)
    def _internal_error(request, exc):  # Logged in full; the client gets one line.
        LOG.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, "server", f"internal error ({type(exc).__name__}); see the server log")

    @app.middleware("http")
    async def _log_and_limit(request: Request, call_next):
        start = time.perf_counter()
        length = request.headers.get("content-length")
        if request.method == "POST" and length is None:
            # A chunked body would bypass the size cap below.
            response = _error(411, "body", "needs a Content-Length header")
        elif length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            response = _error(413, "body", f"is larger than {MAX_BODY_BYTES} bytes")
        else:
            response = await call_next(request)
        LOG.info(
            "%s %s %d %.1f ms",
            request.method,
            request.url.path,
            response.status_code,
            (time.perf_counter() - start) * 1000.0,
        )
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index():
        return HTMLResponse(page)

    for url, (content, media) in static.items():
        app.add_api_route(
            url,
            (lambda c=content, m=media: Response(c, media_type=m)),
            methods=["GET"],
            include_in_schema=False,
        )

    @app.get("/healthz", summary="Liveness: the model is loaded")
    def healthz():
        return {"status": "ok"}

    @app.get("/v1/model", summary="The served model's metadata")
    def model_info():
        return dict(model.info(), max_images=app.state.max_images)

    @app.post(
        "/v1/generate",
        summary="A grid: one row per class, per_class images each",
        responses={200: {"content": {"image/png": {}}}},
    )
    def generate(body: GenerateBody):
        _check_count(len(body.classes) * body.per_class, app.state.max_images, "per_class")
        classes = [_resolve_class(model, c, f"classes[{i}]") for i, c in enumerate(body.classes)]
        seed = _seed(body)
        started = time.perf_counter()
        images = model.grid(classes, body.per_class, seed, shared_noise=body.shared_noise)
        model_ms = (time.perf_counter() - started) * 1000.0
        labels = [model.class_names[c] for c in classes]
        if body.layout == "columns" and body.format == "png":
            shape = images.shape[1:]
            images = images.reshape((len(classes), body.per_class) + shape).swapaxes(0, 1)
            images = images.reshape((-1,) + shape)
            return _picture(model, images, body.per_class, None, body, seed, model_ms)
        return _picture(
            model, images, len(classes), labels, body, seed, model_ms, {"classes": classes}
        )

    @app.post(
        "/v1/interpolate",
        summary="Morph class `from` into class `to` with the noise fixed along each row",
        responses={200: {"content": {"image/png": {}}}},
    )
    def interpolate(body: InterpolateBody):
        start = _resolve_class(model, body.from_, "from")
        end = _resolve_class(model, body.to, "to")
        # Counted before any array is made: steps=10**9 must not allocate.
        _check_count(body.rows, app.state.max_images, "rows")
        field, count = ("t", len(body.t)) if body.t is not None else ("steps", body.steps)
        _check_count(count * body.rows, app.state.max_images, field)
        if body.t is not None:
            for i, t in enumerate(body.t):
                if not 0.0 <= t <= 1.0:
                    raise RequestError(f"t[{i}]", f"{t} is not a mix weight in [0, 1]")
            mixes = list(body.t)
        else:
            mixes = np.linspace(0.0, 1.0, body.steps).tolist()
        seed = _seed(body)
        started = time.perf_counter()
        images = model.interpolate(start, end, mixes, body.rows, seed)
        model_ms = (time.perf_counter() - started) * 1000.0
        return _picture(model, images, body.rows, None, body, seed, model_ms, {"t": mixes})

    @app.post(
        "/v1/walk",
        summary="A latent walk: the noise moves along a great circle, each row's class fixed",
        responses={200: {"content": {"image/png": {}}}},
    )
    def walk(body: WalkBody):
        _check_count(len(body.classes) * body.steps, app.state.max_images, "steps")
        classes = [_resolve_class(model, c, f"classes[{i}]") for i, c in enumerate(body.classes)]
        seed = _seed(body)
        started = time.perf_counter()
        images = model.walk(classes, body.steps, seed)
        model_ms = (time.perf_counter() - started) * 1000.0
        labels = [model.class_names[c] for c in classes]
        return _picture(
            model, images, len(classes), labels, body, seed, model_ms, {"classes": classes}
        )

    return app
