"""Benchmark: how many concurrent streaming users one locust process on one CPU core can
drive before its own TTFT measurement error exceeds a limit (5 ms by default).

The fake Ollama server (a test double) runs in its own process pinned to another core and
logs, on the shared monotonic clock, when each request really arrived and when its first
token really left. The client's error is its median TTFT minus the server's median
arrival-to-first-token time: what the load generator adds by being busy (gevent scheduling,
line parsing), not what the server did. Re-run with::

    python tests/loadtest/bench_client_capacity.py --users 25,50,100,200,400
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from locust_runner import fake_ollama_process, fake_truth, run_locust


def pinned(cpu: int) -> Callable[[], None] | None:
    if cpu < 0 or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def one_round(url: str, users: int, args: argparse.Namespace, workdir: Path) -> dict:
    fake_truth(url, reset=True)
    run = run_locust(
        url,
        workdir / str(users),
        "--task-weights",
        "generate=1",
        "--wait-min",
        "0",
        "--wait-max",
        str(args.think_max),
        "--prompt-distribution",
        "fixed",
        "--prompt-mean-words",
        "50",
        users=users,
        run_time=f"{args.run_time}s",
        timeout=args.run_time + 60,
        preexec_fn=pinned(args.client_cpu),
    )
    s = run.summary
    if s is None:
        raise SystemExit(f"locust wrote no summary at {users} users:\n{run.output}")
    if not s["requests"]["succeeded"]:
        raise SystemExit(f"no measured requests at {users} users; raise --run-time")
    server = sorted(fake_truth(url))
    client = s["latency_ms"]["ttft_ms"]
    server_p50 = statistics.median(server) * 1000
    server_p90 = statistics.quantiles(server, n=10)[-1] * 1000
    return {
        "users": users,
        "requests": s["requests"]["succeeded"],
        "client_ttft_p50_ms": client["p50"],
        "server_ttft_p50_ms": server_p50,
        "error_p50_ms": client["p50"] - server_p50,
        "error_p90_ms": client["p90"] - server_p90,
        "tpot_p50_ms": s["latency_ms"]["tpot_ms"]["p50"],
        "cpu_warning": "CPU usage" in run.output,
        "exit_code": run.returncode,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="25,50,100,200,300,400", help="comma-separated")
    parser.add_argument("--run-time", type=int, default=8, help="seconds per round")
    parser.add_argument("--delay", type=float, default=0.2, help="fake first-token delay, s")
    parser.add_argument("--interval", type=float, default=0.05, help="fake token interval, s")
    parser.add_argument("--tokens", type=int, default=20, help="tokens per answer")
    parser.add_argument(
        "--think-max",
        type=float,
        default=0.2,
        help="max think time, s (random think times keep streams from ticking in lockstep)",
    )
    parser.add_argument("--limit-ms", type=float, default=5.0, help="allowed TTFT error")
    parser.add_argument("--client-cpu", type=int, default=0, help="locust's core (-1: any)")
    parser.add_argument("--server-cpu", type=int, default=1, help="fake server's core (-1: any)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    levels = [int(u) for u in args.users.split(",")]
    rows = []
    with (
        fake_ollama_process(args.delay, args.interval, args.tokens, pinned(args.server_cpu)) as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        print("users  requests  client_p50  server_p50  err_p50  err_p90  tpot_p50  cpu_warn")
        for users in levels:
            row = one_round(url, users, args, Path(tmp))
            rows.append(row)
            print(
                f"{users:5d}  {row['requests']:8d}  {row['client_ttft_p50_ms']:10.1f}  "
                f"{row['server_ttft_p50_ms']:10.1f}  {row['error_p50_ms']:7.2f}  "
                f"{row['error_p90_ms']:7.2f}  {row['tpot_p50_ms']:8.2f}  {row['cpu_warning']}",
                flush=True,
            )
    within = [r["users"] for r in rows if abs(r["error_p50_ms"]) <= args.limit_ms]
    best = max(within, default=0)
    print(f"max users with median TTFT error <= {args.limit_ms} ms on one core: {best}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "max_users": best}, indent=2) + "\n")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
