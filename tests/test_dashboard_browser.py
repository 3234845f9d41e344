"""The dashboard in a real browser (headless chromium through selenium) on the embedded AWS.

One local stack with one completed and one dead-lettered job; `asyncapi dashboard --no-open` serves it
as a user starts it. The browser sees both jobs on /jobs, the completed one on its page, the failed one
with its error (markup in it shown as text), the failed one on /dlq; redrive from the page works and the
job's page turns completed without a reload; a POST without the page's token, or from another origin
(even one that knows the token), is refused and changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from .browser_support import headless_chromium
from .test_local import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("dashboard-browser")]

NAME = "dash-browser"
FLAG = "fix-<b>me</b>"  # in the failed job's error: must show as text, never as a <b> element
WAIT = 60.0


def _environment(home: Path) -> dict[str, str]:
    """What conftest's aws_env gives each test, for this module's one stack (set up before it runs)."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "ASYNCAPI_HOME": str(home / "home"),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asyncapi_cli", *args],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("dashboard-browser")
    env = _environment(home)
    state = ["--name", NAME, "--state", str(home / "stack.json")]
    up = _cli(env, "up", "--local", "--with", "scheduling", *state, "--json")
    try:
        assert up.returncode == 0, up.stderr
        yield from _served(env, state, up.stdout)
    finally:
        _cli(env, "local", "stop")


def _served(env: dict[str, str], state: list[str], up_outputs: str) -> Iterator[dict[str, Any]]:
    endpoint = json.loads((Path(env["ASYNCAPI_HOME"]) / "local" / "server.json").read_text())["endpoint"]
    done = _cli(env, "test-job", *state, "--json")
    assert done.returncode == 0, done.stderr
    done_id = json.loads(done.stdout)["job"]["jobId"]
    failing = json.dumps({"task": "needs-a-fix", "failUntilFlag": FLAG})
    failed = _cli(env, "test-job", *state, "--payload", failing, "--timeout", "90", "--json")
    assert failed.returncode == 1, failed.stderr
    failed_id = json.loads(failed.stdout)["job"]["jobId"]
    served = subprocess.Popen(
        [sys.executable, "-m", "asyncapi_cli", "dashboard", "--no-open", *state],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    try:
        first = served.stdout.readline() if served.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:\d+/", first)
        assert match, (first, served.stderr.read() if served.poll() is not None and served.stderr else "")
        browser = headless_chromium()
        try:
            yield {
                "api": json.loads(up_outputs)["outputs"]["api_url"],
                "url": match[0].rstrip("/"),
                "done": done_id,
                "failed": failed_id,
                "browser": browser,
                "endpoint": endpoint,
            }
        finally:
            browser.quit()
    finally:
        served.terminate()
        served.wait(timeout=30)


def aws(service: str, console: dict[str, Any]) -> Any:
    return boto3.client(
        service,
        endpoint_url=console["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def dlq_url(console: dict[str, Any]) -> str:
    return str(aws("sqs", console).get_queue_url(QueueName=f"{NAME}-dlq")["QueueUrl"])


def dlq_depth(console: dict[str, Any]) -> int:
    attributes = aws("sqs", console).get_queue_attributes(
        QueueUrl=dlq_url(console),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def shows(browser: Any, css: str, text: str | None = None, timeout: float = WAIT) -> Any:
    """The first element matching css (containing text) once the page shows it: no fixed sleeps."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def found() -> Any:
        try:
            for element in browser.find_elements(By.CSS_SELECTOR, css):
                if text is None or text in element.text:
                    return element
        except StaleElementReferenceException:  # a live update replaced it meanwhile: look again
            return None
        return None

    return wait_for(found, timeout=timeout)


def test_the_pages_show_the_jobs_the_error_and_the_dead_letter(console: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    browser, done, failed = console["browser"], console["done"], console["failed"]
    browser.get(console["url"] + "/jobs")
    shows(browser, f'tr.job[data-job-id="{done}"]', "completed")
    shows(browser, f'tr.job[data-job-id="{failed}"]', "failed")

    browser.find_element(By.LINK_TEXT, done).click()
    shows(browser, "#job-status", "completed")
    assert done in browser.find_element(By.ID, "result").text
    assert browser.find_element(By.ID, "result-link").get_attribute("href").endswith(f"/jobs/{done}/result")

    browser.get(f"{console['url']}/jobs/{failed}")
    error = shows(browser, "#job-error", f"JobFailed: waiting for flag {FLAG}: not set yet")
    assert error.find_elements(By.TAG_NAME, "b") == []  # the job's markup is text on the page

    browser.get(console["url"] + "/")
    shows(browser, "#chart-jobs canvas")  # uPlot, served by the console itself, drew the chart
    assert browser.find_element(By.ID, "queue-depth").text.isdigit()

    # The recorder forwards the dead letter a moment after the last attempt: the page lists it when its
    # count changes, without a reload.
    browser.get(console["url"] + "/dlq")
    shows(browser, f'tr.dead-letter[data-job-id="{failed}"]', "waiting for flag")


def test_a_change_without_the_token_or_from_another_origin_is_refused(console: dict[str, Any]) -> None:
    browser, url = console["browser"], console["url"]
    wait_for(lambda: dlq_depth(console) >= 1, timeout=WAIT)
    before = dlq_depth(console)
    browser.get(url + "/dlq")
    shows(browser, "#purge")
    # The console's own page, without the token.
    status = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch('/dlq/purge', {method: 'POST', body: new URLSearchParams({confirm: 'yes'})})
          .then(r => done(r.status), e => done(String(e)));"""
    )
    assert status == 403
    # Another origin's page that even knows the token: its form posts with that page's Origin.
    token = browser.find_element("css selector", 'input[name="token"]').get_attribute("value")
    form = (
        f'<form method="post" action="{url}/dlq/purge"><input name="token" value="{token}">'
        '<input name="confirm" value="yes"><button id="go">win a prize</button></form>'
    ).encode()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(form)))
            self.end_headers()
            self.wfile.write(form)

        def log_message(self, *args: Any) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{other.server_address[1]}/")
        shows(browser, "#go").click()
        shows(browser, "#message", "must come from this console's own page")
    finally:
        other.shutdown()
        other.server_close()
    assert dlq_depth(console) == before  # nothing was purged


def test_redrive_from_the_page_completes_the_job(console: dict[str, Any]) -> None:
    browser, failed = console["browser"], console["failed"]
    browser.get(console["url"] + "/dlq")
    row = shows(browser, f'tr.dead-letter[data-job-id="{failed}"]')
    aws("dynamodb", console).put_item(  # the user fixes the cause
        TableName=f"{NAME}-jobs", Item={"jobId": {"S": FLAG}, "kind": {"S": "flag"}}
    )
    browser.get(f"{console['url']}/jobs/{failed}")
    shows(browser, "#job-status", "failed")
    job_page = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(console["url"] + "/dlq")
    row = shows(browser, f'tr.dead-letter[data-job-id="{failed}"]')
    row.find_element("css selector", "button.redrive").click()
    shows(browser, "#question", f"Send job {failed}")
    browser.find_element("id", "confirm").click()
    shows(browser, "#done", f"job {failed}: 1 message(s) back in the main queue")
    browser.close()
    browser.switch_to.window(job_page)
    # The job's page, open since before the redrive, turns completed by itself (live updates).
    shows(browser, "#job-status", "completed", timeout=90)
    assert browser.find_elements("css selector", "#job-error") == []


def test_schedules_show_their_next_run_and_delete_from_the_page(console: dict[str, Any]) -> None:
    from asyncapi_cli.clients import schedules as schedule_client

    body = {
        "job": {"task": "<b>daily</b> report"},
        "expression": "cron(0 9 * * ? *)",
        "timezone": "Europe/Paris",
    }
    created = schedule_client.create(console["api"], body)
    schedule_id = str(created["scheduleId"])
    browser = console["browser"]
    browser.get(console["url"] + "/schedules")
    row = shows(browser, "#schedules tr", schedule_id)
    assert "cron(0 9 * * ? *)" in row.text and "Europe/Paris" in row.text
    assert created["nextRunAt"] in row.text  # the next run, as the schedules API answers it
    row.find_element("css selector", "button.danger").click()
    shows(browser, "#question", f"Delete schedule {schedule_id}?")
    browser.find_element("id", "confirm").click()
    shows(browser, "#done", f"deleted schedule {schedule_id}")
    assert schedule_id not in browser.find_element("id", "schedules").text
