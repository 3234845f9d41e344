"""The dashboard's pages over HTTP (in-process moto): what they show, escaped; loopback and own Host only."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import boto3
import pytest
from click.testing import CliRunner

from asyncapi_cli import cli
from asyncapi_cli.dashboard.server import LOOPBACK, Console, ConsoleServer

from .conftest import run_cli
from .dashboard_support import MARKUP, Served, put_job, served_console
from .test_cli import one_line_error


@pytest.fixture
def console(mocked_aws: None) -> Iterator[Served]:
    with served_console() as served:
        put_job("done-job", "completed", "2026-12-07T05:00:00.000Z", completedAt="2026-12-07T05:00:01.500Z")
        put_job(
            "bad-job",
            "failed",
            "2026-12-07T05:00:02.000Z",
            error=f"JobFailed: {MARKUP}",
            errorLocation="jobwork.py:41 in run_job",
            errorType="JobFailed",
            completedAt="2026-12-07T05:00:09.000Z",
        )
        yield served


def test_jobs_page_lists_both_jobs_escaped(console: Served) -> None:
    page = console.get("/jobs")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.text.index('data-job-id="bad-job"') < page.text.index(
        'data-job-id="done-job"'
    )  # newest first
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    failed = console.get("/jobs?status=failed")
    assert 'data-job-id="bad-job"' in failed.text and "done-job" not in failed.text
    found = console.get("/jobs?q=done-job")
    assert found.status == 303 and found.headers["Location"] == "/jobs/done-job"
    missing = console.get("/jobs?q=nobody")
    assert missing.status == 200 and "no job nobody in the jobs table" in missing.text


def test_jobs_page_pages_with_a_cursor(console: Served) -> None:
    for i in range(30):
        put_job(f"bulk{i:02d}", "queued", f"2026-12-07T04:{i:02d}:00.000Z")
    first = console.get("/jobs")
    assert first.text.count('class="job"') == 25 and 'id="next-page"' in first.text
    cursor = first.text.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&")
    second = console.get(cursor)
    assert second.text.count('class="job"') == 32 - 25 and 'id="next-page"' not in second.text
    assert "bulk00" in second.text and "bulk00" not in first.text


def test_job_page_shows_timeline_error_location_and_result(console: Served) -> None:
    bad = console.get("/jobs/bad-job")
    assert bad.status == 200
    assert "jobwork.py:41 in run_job" in bad.text and "&lt;b&gt;bold&lt;/b&gt;" in bad.text
    error_box = bad.text.split('id="job-error"')[1].split("</table>")[0]
    # Every error field the record has, the processor's own first.
    assert error_box.index(">error<") < error_box.index(">errorLocation<") < error_box.index(">errorType<")
    assert "2026-12-07T05:00:02.000Z" in bad.text and "finished" in bad.text
    s3 = boto3.client("s3")
    s3.put_object(Bucket="dash-stack-results", Key="results/done-job.json", Body=b'{"result": {"n": 42}}')
    put_job(
        "done-job",
        "completed",
        "2026-12-07T05:00:00.000Z",
        result="s3://dash-stack-results/results/done-job.json",
    )
    done = console.get("/jobs/done-job")
    assert 'href="/jobs/done-job/result"' in done.text and "&#34;n&#34;: 42" in done.text
    result = console.get("/jobs/done-job/result")
    assert result.headers["Content-Type"].startswith("application/json") and json.loads(result.text) == {
        "result": {"n": 42}
    }
    assert console.get("/jobs/nobody").status == 404
    assert console.get("/jobs/not%20an%20id").status == 404


def test_live_parts_and_overview(console: Served) -> None:
    partial = console.get("/jobs?partial=1")
    assert partial.text.lstrip().startswith("<table") and "<html" not in partial.text
    overview = console.get("/")
    assert "Queue depth" in overview.text and "dash-stack-main-queue" in overview.text
    assert 'src="/static/uPlot.iife.min.js"' in overview.text
    series = json.loads(console.get("/api/series").text)
    assert len(series["minutes"]) == 60 and set(series) >= {"submitted", "completed", "failed", "p50", "p95"}
    script = console.get("/static/uPlot.iife.min.js")
    assert script.status == 200 and "uPlot" in script.text
    assert console.get("/static/../server.py").status == 404
    assert console.get("/dlq").status == 200 and console.get("/schedules").status == 200


def test_another_host_name_is_refused(console: Served) -> None:
    """A site that points its own name at 127.0.0.1 (DNS rebinding) reaches the port but not the data."""
    rebound = console.get("/jobs", headers={"Host": f"attacker.example:{console.port}"})
    assert rebound.status == 403 and "bad-job" not in rebound.text
    assert console.get("/jobs", headers={"Host": f"localhost:{console.port}"}).status == 200


def _other_addresses() -> list[str]:
    """This machine's addresses other than loopback (none on an isolated box: the test then checks the
    bind itself only)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return sorted({info[4][0] for info in infos if not info[4][0].startswith("127.")})


def test_the_console_listens_on_loopback_only(console: Served) -> None:
    assert console.server.server_address[0] == LOOPBACK
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        ConsoleServer(Console(console.stack, []), 0, host="0.0.0.0")
    # A socket bound to all addresses (0.0.0.0) would also answer on 127.0.0.2; one bound to 127.0.0.1
    # alone refuses it (Linux routes all of 127.0.0.0/8 to the loopback interface).
    for address in ["127.0.0.2", *_other_addresses()]:
        with pytest.raises(OSError):
            socket.create_connection((address, console.port), timeout=2).close()
    # The command has no option to choose another address.
    wrong = CliRunner().invoke(cli.main, ["dashboard", "--host", "0.0.0.0", "--no-open"])
    assert wrong.exit_code == 2 and "No such option" in wrong.output and "--host" in wrong.output


def test_bad_port_is_bad_input() -> None:
    one_line_error(
        run_cli("dashboard", "--port", "70000", "--no-open"), 2, "--port must be between 0 and 65535"
    )
