"""High-priority jobs behind a backlog of slow normal ones, on the embedded AWS, optionally beside CPU hogs.

Usage:
  python bench/priorities.py [--normal 30] [--normal-seconds 10] [--high 3] [--hogs 2]

Deploys a stack with the priorities feature (the high processor has reserved concurrency of its own),
submits --normal jobs of --normal-seconds each, then --high high-priority zero-work jobs, and reports how
long after their submission the high jobs completed (from the jobs' own createdAt / completedAt). With
--hogs, that many CPU-bound processes (a busy machine) run beside it the whole time. On AWS the reserved
concurrency guarantees the high processor's environments whatever the load; the goal is < 8 s here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def _cli(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "asyncapi_cli", *args, "--json"], capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise SystemExit(f"asyncapi {' '.join(args)} failed: {result.stderr.strip()[-500:]}")
    return dict(json.loads(result.stdout)) if result.stdout.strip() else {}


def _post(url: str, payload: Any) -> str:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["jobId"])


def _status(api: str, job_id: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{api}/status/{job_id}", timeout=30) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # not in the table yet: still queued
            return {}
        raise


def _moment(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--normal", type=int, default=30)
    parser.add_argument("--normal-seconds", type=float, default=10.0)
    parser.add_argument("--high", type=int, default=3)
    parser.add_argument("--hogs", type=int, default=0, help="CPU-bound processes beside the stack")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="asyncapi-priorities-")
    os.environ["ASYNCAPI_HOME"] = home
    os.chdir(home)
    hogs: list[subprocess.Popen[bytes]] = []
    try:
        report = _cli("up", "--local", "--name", "prio-bench", "--with", "priorities")
        api = report["outputs"]["api_url"]
        for _ in range(args.hogs):
            hogs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        with ThreadPoolExecutor(10) as pool:
            list(
                pool.map(
                    lambda _: _post(f"{api}/submit", {"seconds": args.normal_seconds}), range(args.normal)
                )
            )
        time.sleep(1.0)  # the normal processor is busy with the backlog before the high jobs arrive
        submitted = time.time()
        high = [_post(f"{api}/submit?priority=high", {"n": i}) for i in range(args.high)]
        deadline = time.monotonic() + 300
        while True:
            states = [_status(api, job_id) for job_id in high]
            if all(s.get("status") == "completed" for s in states):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the high jobs did not complete: {states}")
            time.sleep(0.1)
        done = max(_moment(s["completedAt"]) for s in states)
        seconds = done - submitted
        print(
            f"{args.high} high-priority jobs behind {args.normal} x {args.normal_seconds:.0f} s normal jobs, "
            f"{args.hogs} CPU hogs: all completed {seconds:.1f} s after submission"
        )
        return 0 if seconds < 8 else 1
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        subprocess.run(
            [sys.executable, "-m", "asyncapi_cli", "local", "stop"], capture_output=True, timeout=120
        )


if __name__ == "__main__":
    raise SystemExit(main())
