"""`test-job --url` and `status --url`: a deployed API reached by URL alone, with no state file (as
after a CloudFormation deploy of `asyncapi export`). The stack runs on the embedded AWS, with API keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli.local import manager

from .conftest import run_cli


@pytest.fixture
def keyed_stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    result = run_cli("up", "--local", "--name", "url-stack", "--auth", "api-key", "--json")
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    info = manager.running_info()
    assert info is not None
    apigw = boto3.client(
        "apigateway",
        endpoint_url=info["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    (key,) = apigw.get_api_keys(nameQuery="url-stack-key", includeValues=True)["items"]
    yield {"url": outputs["api_url"], "key": key["value"]}
    manager.stop()


def test_a_job_completes_through_the_url_alone(
    keyed_stack: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no .asyncapi/ here: nothing but the URL says where the API is
    env = {"ASYNCAPI_API_KEY": keyed_stack["key"]}
    status = run_cli("status", "--url", keyed_stack["url"], "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status_probe"]["http"] == 404
    result = run_cli("test-job", "--url", keyed_stack["url"] + "/submit", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["job"]["status"] == "completed"
    assert report["result"]["jobId"] == report["job"]["jobId"]  # read through the pre-signed resultUrl
    assert not (elsewhere / ".asyncapi").exists()


def test_without_the_key_the_api_refuses_in_one_line(keyed_stack: dict[str, Any]) -> None:
    status = run_cli("status", "--url", keyed_stack["url"])
    assert status.returncode == 3
    (line,) = status.stderr.strip().splitlines()
    assert "HTTP 403" in line and "ASYNCAPI_API_KEY" in line
    job = run_cli("test-job", "--url", keyed_stack["url"])
    assert job.returncode == 3
    assert "HTTP 403" in job.stderr and len(job.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("status", "--url", "ftp://example"), 2, "--url: expected the API's http(s) URL"),
        (("test-job", "--url", "http://127.0.0.1:9", "--batch", "2"), 2, "--url submits to /submit only"),
        (("status", "--url", "http://127.0.0.1:9"), 3, "cannot reach http://127.0.0.1:9/status/"),
    ],
)
def test_bad_urls(args: tuple[str, ...], code: int, message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == code, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert message in line
