"""A web page and a JSON API over a trained generator (`python -m keras_cgan.serve`).

Needs the `serve` extra (`pip install -e ".[serve]"`: FastAPI and uvicorn).
`keras_cgan.server.model` loads and calls the generator,
`keras_cgan.server.app` builds the FastAPI application, and
`keras_cgan.server.loadtest` measures latency and load behaviour.
"""
