"""`asyncapi up` and `down` under AWS-like timing, against the best schedule the model allows.

Runs the real CLI (separate processes, as a user would) against a moto server on 127.0.0.1 behind the
AWS-like proxy (aws_model.py), then again behind a proxy with the same latency and no settling. For each
command: wall time, the CLI's AWS calls, the best schedule (schedule.py) from the same run's trace, their
ratio, how late the CLI noticed each resource was ready, and the calls it made beyond the plan.

Usage: python bench/bench_aws_timing.py [--rounds N] [--seed S] [--json] [--trace FILE] [--no-latency-alone]
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: import bench.*

from bench.aws_model import AwsModel, SettleEvent, Timing  # noqa: E402
from bench.aws_proxy import AwsProxy, CallRecord  # noqa: E402
from bench.schedule import READ_PREFIXES, Step, best_schedule, down_plan, operation_durations, up_plan  # noqa: E402

COMMANDS = {"up": up_plan, "down": down_plan}


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def run_command(proxy: AwsProxy, args: list[str], work: str) -> tuple[float, float, dict[str, Any]]:
    """(started, finished) on the proxy's clock, and the CLI's --json report."""
    clock = proxy.model.clock
    started = clock()
    result = subprocess.run(
        [sys.executable, "-m", "asyncapi_cli", *args, "--json"],
        cwd=work,
        env=cli_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    finished = clock()
    if result.returncode != 0:
        raise SystemExit(f"asyncapi {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return started, finished, json.loads(result.stdout)


def plan_check(plan: list[Step], trace: list[CallRecord]) -> dict[str, dict[str, int]]:
    """Mutating calls the CLI made (answered 2xx) beyond the plan, and planned calls it did not make."""
    made = collections.Counter(
        r.operation
        for r in trace
        if r.status < 300
        and not r.operation.startswith("sts.")
        and not r.operation.split(".", 1)[1].startswith(READ_PREFIXES)
    )
    planned = collections.Counter(
        step.operation for step in plan if not step.operation.split(".", 1)[1].startswith(READ_PREFIXES)
    )
    return {"beyond_plan": dict(made - planned), "not_made": dict(planned - made)}


def measure(proxy: AwsProxy, command: str, args: list[str], work: str) -> dict[str, Any]:
    proxy.take_trace()
    proxy.model.take_events()
    started, finished, report = run_command(proxy, args, work)
    trace = proxy.take_trace()
    events = proxy.model.take_events()
    preflight = [r.end for r in trace if r.operation == "sts.GetCallerIdentity"]
    startup = (min(preflight) if preflight else started) - started
    tail = finished - max((r.end for r in trace), default=finished)
    plan = COMMANDS[command]()
    best = best_schedule(plan, proxy.model.timing, operation_durations(trace), startup=startup, tail=tail)
    wall = finished - started
    return {
        "wall": round(wall, 3),
        "best": best.to_json(),
        "ratio": round(wall / best.finish, 3),
        # The CLI's process start-up is in both; on a busy machine it dominates, so also without it.
        "ratio_after_startup": round((wall - startup) / (best.finish - startup), 3),
        "aws_calls": report.get("aws_calls", {}),
        "proxy_requests": len(trace),
        "startup": round(startup, 3),
        "waits": [_wait_json(e) for e in events],
        "plan_check": plan_check(plan, trace),
        "trace": [r.to_json() | {"at": round(r.start - started, 4)} for r in trace],
    }


def _wait_json(event: SettleEvent) -> dict[str, Any]:
    lag = event.lag
    return {"kind": event.kind, "resource": event.resource, "lag": None if lag is None else round(lag, 3)}


def run_variant(proxy: AwsProxy, label: str, rounds: int, work: str, rng: random.Random) -> dict[str, list]:
    results: dict[str, list] = {"up": [], "down": []}
    for index in range(rounds):
        name = f"bench-{label}-{index}-{rng.randrange(16**6):06x}"
        results["up"].append(measure(proxy, "up", ["up", "--name", name, "--endpoint-url", proxy.url], work))
        results["down"].append(measure(proxy, "down", ["down", "--yes", "--name", name], work))
    return results


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    calls = [r["aws_calls"] for r in runs]
    lags: dict[str, list[float]] = {}
    for run in runs:
        for wait in run["waits"]:
            if wait["lag"] is not None:
                lags.setdefault(wait["kind"], []).append(wait["lag"])
    return {
        "wall": median([r["wall"] for r in runs]),
        "best": median([r["best"]["seconds"] for r in runs]),
        "ratio": median([r["ratio"] for r in runs]),
        "ratio_after_startup": median([r["ratio_after_startup"] for r in runs]),
        "calls": median([c.get("calls", 0) for c in calls]),
        "mutating": median([c.get("mutating", 0) for c in calls]),
        "retries": median([c.get("retries", 0) + c.get("engine_retries", 0) for c in calls]),
        "best_calls": runs[0]["best"]["calls"],
        "startup": median([r["startup"] for r in runs]),
        "wait_lag": {k: {"median": median(v), "max": round(max(v), 3), "n": len(v)} for k, v in lags.items()},
        "critical_path": runs[0]["best"]["critical_path"],
        "plan_check": runs[0]["plan_check"],
    }


def describe_timing(timing: Timing) -> str:
    slow = ", ".join(f"{op.split('.')[1]} {s:g} s" for op, s in timing.slow_calls)
    return (
        f"latency {timing.latency_min * 1000:.0f}-{timing.latency_max * 1000:.0f} ms a call ({slow}); "
        f"a role usable by Lambda {timing.role_propagation:g} s after CreateRole; a function Pending "
        f"{timing.function_pending:g} s; a table CREATING {timing.table_creating:g} s, DELETING "
        f"{timing.table_deleting:g} s; a mapping Creating {timing.mapping_creating:g} s, Deleting "
        f"{timing.mapping_deleting:g} s"
    )


def print_report(summary: dict[str, dict[str, Any]], rounds: int, timing: Timing) -> None:
    print(f"AWS-like model: {describe_timing(timing)}.")
    print(f"{rounds} round(s); medians. Best = the best schedule the model allows (bench/schedule.py).\n")
    header = (
        f"{'command':<22}{'wall':>9}{'best':>9}{'ratio':>8}{'start-up':>10}{'ratio after':>13}  "
        f"{'CLI calls (mutating, retries)':<31}best calls"
    )
    print(header)
    print("-" * len(header))
    for label, row in summary.items():
        calls = f"{row['calls']:g} ({row['mutating']:g}, {row['retries']:g})"
        print(
            f"{label:<22}{row['wall']:>8.2f}s{row['best']:>8.2f}s{row['ratio']:>7.2f}x"
            f"{row['startup']:>9.2f}s{row['ratio_after_startup']:>12.2f}x  "
            f"{calls:<31}{row['best_calls']}"
        )
    for label, row in summary.items():
        print(f"\n{label}: critical path of the best schedule (first round):")
        for link in row["critical_path"]:
            print(f"  {link}")
        if row["wait_lag"]:
            lags = "; ".join(
                f"{kind} {v['median']:.2f} s (max {v['max']:.2f})"
                for kind, v in sorted(row["wait_lag"].items())
            )
            print(f"  the CLI saw it ready after (median): {lags}")
        check = row["plan_check"]
        if check["beyond_plan"]:
            print(f"  calls beyond the plan: {_counts(check['beyond_plan'])}")
        if check["not_made"]:
            print(f"  planned calls the CLI did not make: {_counts(check['not_made'])}")


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{op} x{n}" for op, n in sorted(counter.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13, help="seeds the latency draws and the stack names")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--trace", type=Path, help="write every call of every round to this JSON file")
    parser.add_argument("--no-latency-alone", action="store_true", help="skip the variant without settling")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="run the model this many times faster (a smoke test: the CLI's own waits do not scale)",
    )
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    upstream = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    rng = random.Random(args.seed)
    scale = args.time_scale
    settling = AwsProxy(AwsModel(Timing(), time_scale=scale, rng=random.Random(rng.random())), upstream)
    latency = AwsProxy(
        AwsModel(Timing().latency_only(), time_scale=scale, rng=random.Random(rng.random())), upstream
    )
    settling.start()
    latency.start()
    runs: dict[str, list] = {}
    try:
        with tempfile.TemporaryDirectory() as work:
            run_variant(latency, "warm", 1, work, rng)  # moto loads each service's backend on first use
            variants = [("", settling)] + ([] if args.no_latency_alone else [(" (latency alone)", latency)])
            for suffix, proxy in variants:
                label = "settling" if proxy is settling else "latency"
                for command, results in run_variant(proxy, label, args.rounds, work, rng).items():
                    runs[command + suffix] = results
    finally:
        settling.stop()
        latency.stop()
        server.stop()
    summary = {label: summarize(results) for label, results in runs.items()}
    if args.trace:
        args.trace.write_text(json.dumps(runs, indent=1))
    if args.json:
        document = {
            "model": describe_timing(settling.model.timing),
            "rounds": args.rounds,
            "summary": summary,
        }
        document["runs"] = {
            k: [{x: v for x, v in r.items() if x != "trace"} for r in rs] for k, rs in runs.items()
        }
        print(json.dumps(document, indent=1))
    else:
        print_report(summary, args.rounds, settling.model.timing)


if __name__ == "__main__":
    main()
