"""Latency and load measurements against a running server, with the stdlib only.

`start_server` runs `python -m keras_cgan.serve` on a free loopback port;
`latency` times requests of a few sizes (p50/p99); `load_test` sends a bounded
mix of valid and malformed requests from concurrent clients and reports status
counts and the server's memory before and after. `scripts/serve_bench.py`
prints both as text and JSON.
"""

import contextlib
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import numpy as np


@contextlib.contextmanager
def start_server(model, *flags, timeout=180, env=None):
    """Runs the server on 127.0.0.1 and a free port; yields `(process, base_url)`.

    Args:
        model: The `--model` value.
        *flags: More `python -m keras_cgan.serve` flags.
        timeout: Seconds to wait for the "serving ... on URL" line.
        env: Environment of the server process (default: this one's).

    Raises:
        RuntimeError: the server stopped or did not announce itself in time
            (its output is in the message).
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "keras_cgan.serve", f"--model={model}", "--port=0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = None
    deadline = time.monotonic() + timeout
    lines = []
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if " on http://" in line:
                url = line.split(" on ", 1)[1].split()[0]
                break
        if url is None:
            proc.kill()
            raise RuntimeError(
                "the server did not start: " + "".join(lines) + proc.stderr.read()[-3000:]
            )
        # Drain stderr (one log line per request) so the server never blocks on it.
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def rss_bytes(pid):
    """Resident memory of process `pid` in bytes (Linux /proc), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class _Client:
    """One keep-alive HTTP connection (one per thread)."""

    def __init__(self, base_url):
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.conn.connect()
        # Without it, delayed ACKs add ~40 ms to small requests.
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def __enter__(self):
        self._connect()
        return self

    def __exit__(self, *exc):
        self.conn.close()

    def post(self, path, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.conn.request("POST", path, data, {"Content-Type": "application/json"})
            response = self.conn.getresponse()
            payload = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self._connect()  # A fresh connection for the next call.
            raise
        self.last_timing = response.getheader("Server-Timing")
        return response.status, payload


def grid_body(images, seed=0, fmt="png"):
    """A `/v1/generate` body for `images` pictures: 10 classes x images/10 (or one class)."""
    if images >= 10 and images % 10 == 0:
        return {"classes": list(range(10)), "per_class": images // 10, "seed": seed, "format": fmt}
    return {"classes": [seed % 10], "per_class": images, "seed": seed, "format": fmt}


def latency(base_url, sizes=(1, 100), repeats=200, fmt="png"):
    """Latency of `/v1/generate` per picture size, one request at a time.

    Client-side round trips, plus the server's own model and encoding times
    (its Server-Timing header).

    Args:
        base_url: The server, e.g. http://127.0.0.1:8000.
        sizes: Images per request (100 = a 10x10 grid).
        repeats: Timed requests per size (after 10 untimed).
        fmt: "png" or "array".

    Returns:
        `{size: {"p50_ms", "p99_ms", "mean_ms", "n", "model_p50_ms", "model_p99_ms",
        "encode_p50_ms", "encode_p99_ms"}}`.
    """
    results = {}
    with _Client(base_url) as client:
        for size in sizes:
            for i in range(10):
                client.post("/v1/generate", grid_body(size, i, fmt))
            times, server = [], {"model": [], "encode": []}
            for i in range(repeats):
                start = time.perf_counter()
                status, _ = client.post("/v1/generate", grid_body(size, i, fmt))
                times.append((time.perf_counter() - start) * 1000.0)
                if status != 200:
                    raise RuntimeError(f"/v1/generate answered {status} for {size} images")
                for part in (client.last_timing or "").split(","):
                    name, _, dur = part.strip().partition(";dur=")
                    if name in server:
                        server[name].append(float(dur))
            times = np.asarray(times)
            results[size] = {
                "p50_ms": round(float(np.percentile(times, 50)), 2),
                "p99_ms": round(float(np.percentile(times, 99)), 2),
                "mean_ms": round(float(times.mean()), 2),
                "n": repeats,
            }
            for name, values in server.items():
                if values:
                    results[size][f"{name}_p50_ms"] = round(float(np.percentile(values, 50)), 2)
                    results[size][f"{name}_p99_ms"] = round(float(np.percentile(values, 99)), 2)
    return results


MALFORMED = [
    b'{"classes": [3, 7',  # truncated JSON
    b'{"classes": [42]}',  # class out of range
    b'{"classes": [1], "per_class": 100000}',  # too many images
    b'{"classes": "3"}',  # wrong type
    b'{"from": 3, "to": 8, "t": [2.0]}',  # (sent to /v1/generate: unknown fields)
    b'{"classes": [1], "seed": -4}',
    b"\xff\xfe not json",
]


def _request_plan(count, malformed_fraction, seed):
    """`count` (path, body, is_malformed) with mixed sizes and endpoints."""
    rng = random.Random(seed)
    plan = []
    for i in range(count):
        if rng.random() < malformed_fraction:
            plan.append(("/v1/generate", rng.choice(MALFORMED), True))
            continue
        kind = rng.random()
        fmt = "array" if rng.random() < 0.2 else "png"
        if kind < 0.6:
            body = grid_body(rng.choice([1, 4, 10, 40, 100]), i, fmt)
            plan.append(("/v1/generate", body, False))
        elif kind < 0.8:
            body = {
                "from": rng.randrange(10),
                "to": rng.randrange(10),
                "steps": rng.choice([2, 10, 20]),
                "seed": i,
                "format": fmt,
            }
            plan.append(("/v1/interpolate", body, False))
        else:
            body = {
                "classes": [rng.randrange(10)],
                "steps": rng.choice([5, 10]),
                "seed": i,
                "format": fmt,
            }
            plan.append(("/v1/walk", body, False))
    return plan


def load_test(base_url, requests=2000, clients=16, malformed_fraction=0.1, pid=None, seed=0):
    """Sends `requests` mixed requests from `clients` threads; counts what came back.

    Returns:
        A dict: `requests`, `clients`, `seconds`, `per_second`, `status`
        (count per HTTP status), `server_errors` (5xx), `malformed`,
        `malformed_4xx`, `valid_ok`, `errors` (connection failures),
        `rss_before_mb`, `rss_after_mb`, `rss_change_pct` (None without `pid`).
    """
    plan = _request_plan(requests, malformed_fraction, seed)
    counts, lock = {}, threading.Lock()
    totals = {"malformed": 0, "malformed_4xx": 0, "valid_ok": 0, "errors": 0}

    def worker(part):
        with _Client(base_url) as client:
            for path, body, bad in part:
                try:
                    status, _ = client.post(path, body)
                except (http.client.HTTPException, OSError):
                    with lock:
                        totals["errors"] += 1
                    continue
                with lock:
                    counts[status] = counts.get(status, 0) + 1
                    if bad:
                        totals["malformed"] += 1
                        totals["malformed_4xx"] += 400 <= status < 500
                    else:
                        totals["valid_ok"] += status == 200

    before = rss_bytes(pid) if pid else None
    threads = [threading.Thread(target=worker, args=(plan[i::clients],)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    after = rss_bytes(pid) if pid else None

    def mb(value):
        return round(value / 2**20, 1) if value else None

    return {
        "requests": requests,
        "clients": clients,
        "seconds": round(seconds, 2),
        "per_second": round(requests / seconds, 1),
        "status": {str(k): v for k, v in sorted(counts.items())},
        "server_errors": sum(v for k, v in counts.items() if k >= 500),
        **totals,
        "valid": sum(1 for _, _, bad in plan if not bad),
        "rss_before_mb": mb(before),
        "rss_after_mb": mb(after),
        "rss_change_pct": round(100.0 * (after - before) / before, 2) if before and after else None,
        "pid": pid if pid is None else int(pid),
        "cpu_count": os.cpu_count(),
    }
