"""Latency (p50/p99 for 1 and 100 images) and a bounded load test of the server.

    python scripts/serve_bench.py --model=runs/a [--requests=2000 --clients=16]

Starts `python -m keras_cgan.serve` on a free loopback port, warms it up,
times single requests, then sends `--requests` mixed requests (10% malformed)
from `--clients` threads. Prints a table and one JSON line.
"""

import argparse
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_cgan.server import loadtest  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="run folder, export folder or .keras file")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=200, help="timed requests per size")
    parser.add_argument(
        "--warmup", type=int, default=300, help="load-test requests before RSS is read"
    )
    args = parser.parse_args()

    with loadtest.start_server(args.model) as (proc, url):
        report = {
            "model": args.model,
            "url": url,
            "machine": platform.processor() or platform.machine(),
        }
        report["latency_png"] = loadtest.latency(url, sizes=(1, 100), repeats=args.repeats)
        report["latency_array"] = loadtest.latency(
            url, sizes=(1, 100), repeats=args.repeats // 4, fmt="array"
        )
        # Allocator pools fill during the first requests: memory is compared after them.
        loadtest.load_test(url, requests=args.warmup, clients=args.clients, seed=1)
        report["load"] = loadtest.load_test(
            url, requests=args.requests, clients=args.clients, pid=proc.pid, seed=2
        )
    for fmt in ("png", "array"):
        for size, r in report[f"latency_{fmt}"].items():
            print(
                f"latency {fmt:5s} {size:4d} images: p50 {r['p50_ms']:7.2f} ms  "
                f"p99 {r['p99_ms']:7.2f} ms  (model p50 {r.get('model_p50_ms')} / p99 "
                f"{r.get('model_p99_ms')} ms, encode p50 {r.get('encode_p50_ms')} ms; n={r['n']})"
            )
    load = report["load"]
    print(
        f"load: {load['requests']} requests, {load['clients']} clients, {load['seconds']} s "
        f"({load['per_second']}/s); status {load['status']}; 5xx {load['server_errors']}; "
        f"malformed {load['malformed']} -> 4xx {load['malformed_4xx']}; valid ok "
        f"{load['valid_ok']}/{load['valid']}; connection errors {load['errors']}; RSS "
        f"{load['rss_before_mb']} -> {load['rss_after_mb']} MB ({load['rss_change_pct']}%)"
    )
    print(json.dumps(report, sort_keys=True))
    ok = (
        load["server_errors"] == 0
        and load["errors"] == 0
        and load["malformed_4xx"] == load["malformed"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
