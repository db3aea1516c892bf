"""The serving API in-process (FastAPI TestClient): every endpoint and every error."""

import io
import json
import logging
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

try:
    import fastapi  # noqa: F401
except ImportError:
    pytest.fail("these tests need the serve extra: pip install -e '.[serve,test]'", pytrace=False)
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from helpers import make_tiny_gan, one_error_line, run_cli  # noqa: E402
from keras_cgan import export  # noqa: E402
from keras_cgan.loading import GanGenerator  # noqa: E402
from keras_cgan.server.app import MAX_BODY_BYTES, STATIC_FILES, create_app  # noqa: E402
from keras_cgan.server.model import ServedModel, load_generator  # noqa: E402
from keras_cgan.server.run import load_served_model  # noqa: E402


@pytest.fixture(scope="module")
def served(served_export):
    return load_served_model(served_export)


@pytest.fixture(scope="module")
def client(served):
    with TestClient(create_app(served, max_images=400)) as c:
        yield c


def _png(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return np.asarray(image)


def _array(response):
    assert response.status_code == 200, response.text
    body = response.json()
    images = np.asarray(body["images"], np.float32)
    assert list(images.shape) == body["shape"]
    return images, body


def _assert_one_line_error(response, status, field):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "field"}, body
    assert body["field"] == field, body
    assert "\n" not in body["error"] and body["error"].startswith(f"{field}: "), body
    assert len(body["error"]) < 300


def test_healthz_and_model(client, served_export):
    assert client.get("/healthz").json() == {"status": "ok"}
    info = client.get("/v1/model").json()
    assert info["source"] == served_export
    assert (info["latent_dim"], info["num_classes"]) == (8, 10)
    assert info["class_names"] == [str(i) for i in range(10)]
    assert info["image_shape"] == [28, 28, 1]
    assert info["training_config"]["arch"] == "mlp"
    assert info["training_config"]["epochs"] == 1
    assert info["max_images"] == 400


def test_page_and_static_files_are_the_packages_own(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for url in STATIC_FILES:
        assert url in page.text
        response = client.get(url)
        assert response.status_code == 200, url
        # Nothing may come from the internet: no absolute URLs in what the page
        # loads (an XML namespace is a name, never fetched).
        content = re.sub(rb'xmlns="[^"]*"', b"", response.content)
        assert not re.search(rb"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", content), url
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", page.text)
    for path in (
        "/static/index.html",
        "/static/../setup.py",
        "/static/%2e%2e/setup.py",
        "/etc/passwd",
    ):
        _assert_one_line_error(client.get(path), 404, "path")
    _assert_one_line_error(client.get("/v1/generate"), 405, "path")


def test_generate_png_is_a_labelled_grid(client):
    image = _png(client.post("/v1/generate", json={"classes": [3, 7], "per_class": 4, "seed": 1}))
    # compose_grid: 2 px padding per tile, a 28 px label column, 2x scale.
    assert image.shape == (2 * (2 * 30 + 2), 2 * (28 + 4 * 30 + 2))
    timing = client.post("/v1/generate", json={"classes": [3], "seed": 1}).headers["Server-Timing"]
    assert re.fullmatch(r"model;dur=[0-9.]+, encode;dur=[0-9.]+", timing), timing
    bigger = _png(
        client.post(
            "/v1/generate",
            json={"classes": [3], "per_class": 4, "seed": 1, "scale": 4, "labels": False},
        )
    )
    assert bigger.shape == (4 * (30 + 2), 4 * (4 * 30 + 2))


def test_columns_layout_reads_classes_left_to_right(client):
    body = {"classes": [2, 0, 2, 6], "per_class": 3, "seed": 1, "labels": False, "scale": 1}
    rows = _png(client.post("/v1/generate", json=body))
    columns = _png(client.post("/v1/generate", json=dict(body, layout="columns")))
    assert rows.shape == (4 * 30 + 2, 3 * 30 + 2) and columns.shape == (3 * 30 + 2, 4 * 30 + 2)

    # Tile (r, c) of one is tile (c, r) of the other: the same images, transposed.
    def tile(img, r, c):
        return img[2 + 30 * r : 30 * (r + 1), 2 + 30 * c : 30 * (c + 1)]

    for r in range(4):
        for c in range(3):
            np.testing.assert_array_equal(tile(rows, r, c), tile(columns, c, r))
    assert np.abs(tile(rows, 0, 0).astype(int) - tile(rows, 1, 0)).max() > 0


def test_generate_array_matches_the_export(client, served_export):
    images, body = _array(
        client.post(
            "/v1/generate", json={"classes": [3, 7], "per_class": 4, "seed": 5, "format": "array"}
        )
    )
    assert images.shape == (8, 28, 28, 1) and body["seed"] == 5 and body["classes"] == [3, 7]
    assert 0.0 <= images.min() and images.max() <= 1.0
    expected = export.ExportedGenerator(served_export).generate(np.repeat([3, 7], 4), seed=5)
    np.testing.assert_allclose(images, expected, atol=1e-6)


def test_same_seed_same_picture_new_seed_new_picture(client):
    def post(**extra):
        return client.post("/v1/generate", json={"classes": [2, 0, 2, 6], **extra})

    assert post(seed=11).content == post(seed=11).content
    assert post(seed=11).content != post(seed=12).content
    fresh = post()
    seed = int(fresh.headers["X-Seed"])
    assert post(seed=seed).content == fresh.content
    assert post().headers["X-Seed"] != fresh.headers["X-Seed"] or post().content != fresh.content


def test_classes_change_the_picture(client):
    a = _array(client.post("/v1/generate", json={"classes": [1], "seed": 3, "format": "array"}))[0]
    b = _array(client.post("/v1/generate", json={"classes": [8], "seed": 3, "format": "array"}))[0]
    assert np.abs(a - b).max() > 1e-3


def test_shared_noise_gives_one_style_per_column(client):
    def rows(shared):
        body = {
            "classes": [4, 4],
            "per_class": 3,
            "seed": 9,
            "format": "array",
            "shared_noise": shared,
        }
        images = _array(client.post("/v1/generate", json=body))[0]
        return images[:3], images[3:]

    top, bottom = rows(True)
    np.testing.assert_array_equal(top, bottom)
    top, bottom = rows(False)
    assert np.abs(top - bottom).max() > 1e-3


def test_interpolate_ends_are_the_two_classes(client):
    strip, body = _array(
        client.post(
            "/v1/interpolate", json={"from": 3, "to": 8, "steps": 5, "seed": 4, "format": "array"}
        )
    )
    assert strip.shape == (5, 28, 28, 1) and body["t"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    # Same seed, one noise row: generate draws the same noise vector.
    for cls, end in ((3, strip[0]), (8, strip[-1])):
        single = _array(
            client.post("/v1/generate", json={"classes": [cls], "seed": 4, "format": "array"})
        )[0]
        np.testing.assert_allclose(end, single[0], atol=1e-5)
    frame = _array(
        client.post(
            "/v1/interpolate",
            json={"from": "3", "to": 8, "t": [0.25], "seed": 4, "format": "array"},
        )
    )[0]
    np.testing.assert_allclose(frame[0], strip[1], atol=1e-5)
    rows = _png(
        client.post("/v1/interpolate", json={"from": 3, "to": 8, "steps": 6, "rows": 2, "seed": 4})
    )
    assert rows.shape == (2 * (2 * 30 + 2), 2 * (6 * 30 + 2))  # no labels


def test_walk_moves_the_noise_and_keeps_the_class(client):
    images, body = _array(
        client.post("/v1/walk", json={"classes": [1, 5], "steps": 4, "seed": 2, "format": "array"})
    )
    assert images.shape == (8, 28, 28, 1) and body["rows"] == 2 and body["cols"] == 4
    assert np.abs(images[0] - images[3]).max() > 1e-3  # the noise moved
    assert np.abs(images[0] - images[4]).max() > 1e-3  # the class differs
    again = _array(
        client.post("/v1/walk", json={"classes": [1, 5], "steps": 4, "seed": 2, "format": "array"})
    )
    np.testing.assert_array_equal(images, again[0])
    _png(client.post("/v1/walk", json={"classes": [1], "steps": 3}))


BAD_REQUESTS = [
    ("/v1/generate", {"classes": [3, 10]}, "classes[1]"),
    ("/v1/generate", {"classes": [-1]}, "classes[0]"),
    ("/v1/generate", {"classes": ["seven"]}, "classes[0]"),
    ("/v1/generate", {"classes": [True]}, "classes[0]"),
    ("/v1/generate", {"classes": []}, "classes"),
    ("/v1/generate", {"classes": "37"}, "classes"),
    ("/v1/generate", {}, "classes"),
    ("/v1/generate", {"classes": [3], "per_class": 0}, "per_class"),
    ("/v1/generate", {"classes": [3], "per_class": "many"}, "per_class"),
    ("/v1/generate", {"classes": [3, 7], "per_class": 201}, "per_class"),
    ("/v1/generate", {"classes": [3], "per_class": 10**30}, "per_class"),
    ("/v1/generate", {"classes": [3], "seed": -1}, "seed"),
    ("/v1/generate", {"classes": [3], "seed": 2**32}, "seed"),
    ("/v1/generate", {"classes": [3], "format": "gif"}, "format"),
    ("/v1/generate", {"classes": [3], "scale": 100}, "scale"),
    ("/v1/generate", {"classes": [3], "layout": "diagonal"}, "layout"),
    ("/v1/generate", {"classes": [3], "colour": "red"}, "colour"),
    ("/v1/interpolate", {"from": 3, "to": 12}, "to"),
    ("/v1/interpolate", {"from": "x", "to": 2}, "from"),
    ("/v1/interpolate", {"to": 2}, "from"),
    ("/v1/interpolate", {"from": 3, "to": 8, "steps": 401}, "steps"),
    ("/v1/interpolate", {"from": 3, "to": 8, "steps": 10**12}, "steps"),
    ("/v1/interpolate", {"from": 3, "to": 8, "rows": 10**12}, "rows"),
    ("/v1/interpolate", {"from": 3, "to": 8, "t": [0.5, 1.5]}, "t[1]"),
    ("/v1/walk", {"classes": [3], "steps": 10**12}, "steps"),
    ("/v1/interpolate", {"from": 3, "to": 8, "t": []}, "t"),
    ("/v1/interpolate", {"from": 3, "to": 8, "t": [0.5], "rows": 401}, "rows"),
    ("/v1/interpolate", {"from": 3, "to": 8, "t": [0.5] * 5, "rows": 100}, "t"),
    ("/v1/walk", {"classes": [3], "steps": 1}, "steps"),
    ("/v1/walk", {"classes": [1, 2, 3], "steps": 200}, "steps"),
    ("/v1/walk", {"classes": [11]}, "classes[0]"),
]


@pytest.mark.parametrize("url,body,field", BAD_REQUESTS)
def test_bad_requests_get_one_line_naming_the_field(client, url, body, field):
    _assert_one_line_error(client.post(url, json=body), 422, field)


def test_malformed_and_oversized_bodies(client):
    headers = {"Content-Type": "application/json"}
    _assert_one_line_error(
        client.post("/v1/generate", content=b'{"classes": [3', headers=headers), 422, "body"
    )
    _assert_one_line_error(
        client.post("/v1/generate", content=b"[1, 2]", headers=headers), 422, "body"
    )
    huge = json.dumps({"classes": [1] * (MAX_BODY_BYTES // 2)})
    _assert_one_line_error(client.post("/v1/generate", content=huge, headers=headers), 413, "body")


def test_max_images_is_configurable(served):
    with TestClient(create_app(served, max_images=5)) as small:
        assert small.get("/v1/model").json()["max_images"] == 5
        assert small.post("/v1/generate", json={"classes": [1], "per_class": 5}).status_code == 200
        _assert_one_line_error(
            small.post("/v1/generate", json={"classes": [1], "per_class": 6}), 422, "per_class"
        )


def test_class_names_from_the_metadata(served_export, tmp_path):
    named = str(tmp_path / "named")
    shutil.copytree(served_export, named)
    meta_path = os.path.join(named, export.METADATA_PATH)
    with open(meta_path) as f:
        meta = json.load(f)
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    meta["class_names"] = names
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    with TestClient(create_app(load_served_model(named))) as c:
        assert c.get("/v1/model").json()["class_names"] == names
        by_name = c.post(
            "/v1/generate", json={"classes": ["Three", "seven"], "seed": 1, "format": "array"}
        )
        by_id = c.post("/v1/generate", json={"classes": [3, 7], "seed": 1, "format": "array"})
        assert _array(by_name)[1]["classes"] == [3, 7]
        np.testing.assert_array_equal(_array(by_name)[0], _array(by_id)[0])
        _png(c.post("/v1/interpolate", json={"from": "three", "to": "eight", "steps": 3}))
        bad = c.post("/v1/generate", json={"classes": ["three", "eleven"]})
        _assert_one_line_error(bad, 422, "classes[1]")
        assert "zero, one" in bad.json()["error"]


def test_concurrent_requests_match_serial_ones(client):
    bodies = [
        {"classes": [i % 10, (3 * i) % 10], "per_class": 1 + i % 5, "seed": i, "format": "array"}
        for i in range(24)
    ]
    serial = [client.post("/v1/generate", json=b).json()["images"] for b in bodies]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(
            pool.map(lambda b: client.post("/v1/generate", json=b).json()["images"], bodies)
        )
    assert parallel == serial


def test_one_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="keras_cgan.serve"):
        client.get("/healthz")
        client.post("/v1/generate", json={"classes": [1], "seed": 1})
        client.post("/v1/generate", json={"classes": [99]})
    lines = [r.getMessage() for r in caplog.records if r.name == "keras_cgan.serve"]
    assert len(lines) == 3, lines
    assert lines[0].startswith("GET /healthz 200 ")
    assert lines[1].startswith("POST /v1/generate 200 ")
    assert lines[2].startswith("POST /v1/generate 422 ")


def test_loader_takes_run_folder_export_and_keras_file(tmp_path):
    gan = make_tiny_gan(latent_dim=8, hidden_units=8, seed=4)
    run = tmp_path / "run"
    run.mkdir()
    keras_file = str(run / "model.keras")
    gan.save(keras_file)
    in_memory, source = load_generator(keras_file)
    assert isinstance(in_memory, GanGenerator) and source == keras_file
    from_run, source = load_generator(str(run))  # no export/: its model.keras
    assert isinstance(from_run, GanGenerator) and source == str(run)
    export.export_generator(gan, str(run / "export"))
    exported, source = load_generator(str(run))
    assert isinstance(exported, export.ExportedGenerator) and source == str(run)
    labels = np.arange(10) % 10
    np.testing.assert_allclose(
        in_memory.generate(labels, seed=3), exported.generate(labels, seed=3), atol=1e-5
    )
    for bad in (str(tmp_path / "missing"), str(tmp_path)):
        with pytest.raises(Exception) as info:
            load_generator(bad)
        assert "\n" not in str(info.value) and str(info.value)
    served = ServedModel(in_memory, keras_file)
    assert served.info()["training_config"] is None


def test_cli_bad_model_stops_with_one_line_before_listening(tmp_path, no_tensorflow_env):
    # Refused before TensorFlow loads (see no_tensorflow_env).
    result = run_cli(
        "serve", f"--model={tmp_path / 'nothing'}", "--port=0", env_extra=no_tensorflow_env
    )
    assert result.returncode == 2
    assert f"model not found: {tmp_path / 'nothing'}" in one_error_line(result)
    assert "serving" not in result.stdout


@pytest.mark.slow
def test_cli_busy_port_stops_with_one_line(served_export):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = run_cli("serve", f"--model={served_export}", f"--port={port}", timeout=180)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in one_error_line(result)
    assert "serving" not in result.stdout
