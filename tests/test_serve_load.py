"""A bounded load test on a real server: no 5xx, malformed requests get 4xx, memory flat."""

import os

import pytest

try:
    import fastapi  # noqa: F401
except ImportError:
    pytest.fail("these tests need the serve extra: pip install -e '.[serve,test]'", pytrace=False)

from conftest import REPO_ROOT  # noqa: E402
from keras_cgan.server import loadtest  # noqa: E402

pytestmark = pytest.mark.slow


def test_mixed_concurrent_load(served_export):
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])),
    )
    with loadtest.start_server(served_export, "--max_images=400", env=env) as (proc, url):
        loadtest.load_test(url, requests=150, clients=8, seed=1)  # allocator pools fill up
        report = loadtest.load_test(
            url, requests=400, clients=8, malformed_fraction=0.1, pid=proc.pid, seed=2
        )
        timing = loadtest.latency(url, sizes=(1, 100), repeats=5)
    assert report["errors"] == 0, report
    assert report["server_errors"] == 0, report
    assert report["malformed"] > 10 and report["malformed_4xx"] == report["malformed"], report
    assert report["valid_ok"] == report["valid"] > 300, report
    assert abs(report["rss_change_pct"]) < 8.0, report
    for size in (1, 100):
        assert (
            timing[size]["model_p50_ms"] > 0
            and timing[size]["p50_ms"] >= timing[size]["model_p50_ms"]
        )
