"""How fast are `asyncapi up`, `down` and `--help`, and how many AWS calls do they make?

Runs the real CLI (separate processes, as a user would) against a warmed moto server on 127.0.0.1.
Usage: python bench/bench_up_down.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def cli(args: list[str], cwd: str, env: dict[str, str]) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "asyncapi_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"asyncapi {' '.join(args)} failed: {result.stderr}")
    return elapsed, (json.loads(result.stdout) if "--json" in args else {})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.pop("AWS_PROFILE", None)
    ups, downs, helps, reruns = [], [], [], []
    calls: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as work:
        cli(["up", "--name", "warm-up", "--endpoint-url", url], work, env)  # warm the server
        cli(["down", "--yes", "--name", "warm-up"], work, env)
        for round_ in range(rounds):
            name = f"bench-{round_}"
            elapsed, report = cli(["up", "--name", name, "--endpoint-url", url, "--json"], work, env)
            ups.append(elapsed)
            calls["up"] = report["aws_calls"]
            elapsed, report = cli(["up", "--name", name, "--json"], work, env)
            reruns.append(elapsed)
            calls["up (nothing to do)"] = report["aws_calls"]
            elapsed, report = cli(["down", "--yes", "--name", name, "--json"], work, env)
            downs.append(elapsed)
            calls["down"] = report["aws_calls"]
            helps.append(cli(["--help"], work, env)[0])
    server.stop()
    print(f"moto server on 127.0.0.1, {rounds} rounds, median wall time of the CLI process:")
    for label, values in (("up", ups), ("up (nothing to do)", reruns), ("down", downs), ("--help", helps)):
        counts = calls.get(label)
        detail = f"  {counts['calls']} calls, {counts['mutating']} mutating" if counts else ""
        print(f"  {label:<20} {statistics.median(values):6.3f} s  (min {min(values):.3f}){detail}")


if __name__ == "__main__":
    main()
