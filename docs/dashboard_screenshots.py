"""The README's dashboard screenshots, from a real local stack in headless chromium.

    python docs/dashboard_screenshots.py [--minutes 5]

In a scratch home: `asyncapi up --local`, then jobs submitted through the stack's API for `--minutes`
(every few seconds one job of 0-3 s work, one in twelve failing for good; real jobs, so the charts show
real minutes), then `asyncapi dashboard --no-open`, and headless chromium saves docs/dashboard-overview.png,
docs/dashboard-jobs.png and docs/dashboard-job.png (a failed job's page, its error shown). Needs chromium
and chromium-driver (Debian) and selenium (the test extra).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DOCS = REPO / "docs"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asyncapi_cli", *args], capture_output=True, text=True)


def submit_for(submit_url: str, minutes: float) -> list[str]:
    from asyncapi_cli.clients.jobs import submit

    failed: list[str] = []
    deadline = time.monotonic() + minutes * 60
    n = 0
    while time.monotonic() < deadline:
        n += 1
        payload: dict[str, Any] = {"task": "resize-image", "image": f"photos/{n:04d}.jpg"}
        payload["seconds"] = round(random.uniform(0, 3), 1)
        if n % 12 == 0:
            payload |= {"fail": True, "failMessage": f"ValueError: photos/{n:04d}.jpg is not a JPEG"}
        job_id, _ = submit(submit_url, payload)
        if payload.get("fail"):
            failed.append(job_id)
        time.sleep(random.uniform(1, 5))  # a trickle of users, not a load test
    return failed


def shoot(browser: Any, url: str, path: Path, ready_css: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, ready_css))
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, max(800, min(int(height) + 160, 1900)))  # + the window's own frame
    browser.save_screenshot(str(path))
    print(f"saved {path.relative_to(REPO)}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    from tests.browser_support import headless_chromium

    os.environ["ASYNCAPI_HOME"] = home = tempfile.mkdtemp(prefix="asyncapi-screenshots-")
    os.chdir(home)
    name = "photo-pipeline"
    up = cli("up", "--local", "--name", name, "--json")
    if up.returncode != 0:
        print(up.stderr, file=sys.stderr)
        return 1
    try:
        outputs = json.loads(up.stdout)["outputs"]
        failed = submit_for(outputs["submit_url"], args.minutes)
        time.sleep(15)  # the last jobs finish (the failing ones take three receives)
        served = subprocess.Popen(
            [sys.executable, "-m", "asyncapi_cli", "dashboard", "--no-open", "--name", name],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            match = re.search(r"http://127\.0\.0\.1:\d+/", served.stdout.readline() if served.stdout else "")
            assert match, "the dashboard printed no URL"
            browser = headless_chromium()
            try:
                shoot(browser, match[0], DOCS / "dashboard-overview.png", "#chart-latency canvas")
                shoot(browser, match[0] + "jobs", DOCS / "dashboard-jobs.png", "tr.job")
                if failed:
                    shoot(browser, f"{match[0]}jobs/{failed[-1]}", DOCS / "dashboard-job.png", "#job-error")
            finally:
                browser.quit()
        finally:
            served.terminate()
            served.wait(timeout=30)
    finally:
        cli("local", "stop")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
