"""Starts the server: load the model once, bind the socket, then serve until Ctrl-C."""

import logging
import socket
import sys

from keras_cgan.server.model import ServedModel, ServeError, load_generator


def _bind(host, port):
    """A listening socket, bound before serving so a busy port is a one-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ServeError(f"--host={host}: cannot resolve it ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    # proto must be IPPROTO_TCP (not 0): asyncio then sets TCP_NODELAY on each
    # connection; without it small responses wait ~40 ms for a delayed ACK.
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise ServeError(
            f"cannot listen on {host}:{port} ({e.strerror}): choose another --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _configure_log():
    log = logging.getLogger("keras_cgan.serve")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def load_served_model(path):
    """Loads `--model` (see `load_generator`) and warms it up: a `ServedModel`."""
    generator, served = load_generator(path)
    model = ServedModel(generator, served)
    model.warm_up()
    return model


def serve(model_path, host="127.0.0.1", port=8000, max_images=400, announce=print):
    """Serves the page and the API for `model_path` until interrupted.

    Every check (FastAPI installed, model loadable, port free) happens before
    the server listens, each failing with one line.

    Args:
        model_path: A run folder, an export folder or a `.keras` file.
        host: Address to bind (127.0.0.1: this machine only).
        port: TCP port; 0 picks a free one (the announced URL shows it).
        max_images: Most images one request may ask for.
        announce: Called with the one-line "serving ..." message once listening.

    Raises:
        KerasCganError: a missing extra, an unloadable model or a busy port.
    """
    if max_images < 1:
        raise ServeError(f"--max_images={max_images}: it must be at least 1")
    try:
        import uvicorn

        from keras_cgan.server.app import create_app
    except ImportError as e:
        raise ServeError(
            f'the server needs the serve extra ({e.name} is missing): pip install -e ".[serve]"'
        ) from None
    model = load_served_model(model_path)
    app = create_app(model, max_images=max_images)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    _configure_log()
    config = uvicorn.Config(app, access_log=False, log_level="warning", timeout_graceful_shutdown=2)
    announce(
        f"keras_cgan: serving {model.source} on http://{shown_host}:{bound_port}  (Ctrl-C stops)"
    )
    sys.stdout.flush()
    uvicorn.Server(config).run(sockets=[sock])
