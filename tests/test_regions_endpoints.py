"""Defects 12 and 13: unknown regions refused before any change; partitions; LocalStack's API URL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from asyncapi_cli import endpoints, names, ops, stack
from asyncapi_cli.errors import InputError
from asyncapi_cli.local import manager
from asyncapi_cli.state import Target

from .conftest import run_cli, stack_options

# --- Defect 12 -----------------------------------------------------------------------------------


def test_unknown_region_on_an_endpoint_changes_nothing(moto_server: str, tmp_path: Path) -> None:
    result = run_cli("up", "--endpoint-url", moto_server, "--region", "xx-fake-1", "--name", "region-test")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asyncapi: error: unknown region 'xx-fake-1'")
    assert not Path(".asyncapi/region-test.json").exists()
    for region in ("xx-fake-1", "us-east-1"):
        session = boto3.session.Session(region_name=region)
        assert session.client("iam", endpoint_url=moto_server).list_roles()["Roles"] == []
        assert session.client("s3", endpoint_url=moto_server).list_buckets()["Buckets"] == []


def test_unknown_region_with_local_starts_and_creates_nothing() -> None:
    try:
        with pytest.raises(InputError, match="unknown region 'xx-fake-1'"):
            ops.open_stack(
                stack_options("region-local", region="xx-fake-1", local=True), creating=True, start_local=True
            )
        assert manager.running_info() is None  # refused before the embedded AWS was even started
    finally:
        if manager.running_info() is not None:
            manager.stop()


@pytest.mark.parametrize("region", ["", "us-east-99", "mars-north-1", "US-EAST-1", "us-east-1 "])
def test_malformed_or_unknown_regions_are_refused(region: str) -> None:
    with pytest.raises(InputError, match="region"):
        names.validate_region(region)


# Partitions and DNS suffixes: botocore/data/partitions.json (and endpoints.json).
@pytest.mark.parametrize(
    ("region", "partition", "suffix"),
    [
        ("us-east-1", "aws", "amazonaws.com"),
        ("eu-west-1", "aws", "amazonaws.com"),
        ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
        ("us-iso-east-1", "aws-iso", "c2s.ic.gov"),
        ("us-isob-east-1", "aws-iso-b", "sc2s.sgov.gov"),
        ("eu-isoe-west-1", "aws-iso-e", "cloud.adc-e.uk"),
    ],
)
def test_partitions_come_from_botocore(region: str, partition: str, suffix: str) -> None:
    assert names.validate_region(region) == region
    assert names.partition_of(region) == partition
    assert names.dns_suffix_of(region) == suffix
    url = ops.api_url(Target(kind="aws", region=region), "abc123", "prod", None)
    assert url == f"https://abc123.execute-api.{region}.{suffix}/prod"


def test_stack_arns_use_the_partition(moto_server: str) -> None:
    opened = ops.open_stack(
        stack_options("iso-stack", region="us-iso-east-1", endpoint_url=moto_server), creating=True
    )
    assert opened.ctx.partition == "aws-iso"
    policy = stack.processor_policy(opened.ctx)
    resources = [r for statement in policy["Statement"] for r in statement["Resource"]]
    assert resources and all(r.startswith("arn:aws-iso:") for r in resources)


# --- Defect 13 -----------------------------------------------------------------------------------


@pytest.fixture
def health_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A loopback server that answers the health path as configured (LocalStack's, or not)."""
    config: dict[str, Any] = {"status": 200, "body": {"services": {"sqs": "running"}, "edition": "community"}}
    hits: list[str] = []
    config["hits"] = hits

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            data = json.dumps(config["body"]).encode() if self.path == endpoints.HEALTH_PATH else b"{}"
            self.send_response(config["status"] if self.path == endpoints.HEALTH_PATH else 404)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoints._probe.cache_clear()
    yield f"http://127.0.0.1:{server.server_address[1]}", config
    server.shutdown()
    endpoints._probe.cache_clear()


def test_localstack_endpoint_records_the_execute_api_url(health_server: tuple[str, dict[str, Any]]) -> None:
    url, config = health_server
    target = Target(kind="endpoint", region="us-east-1", endpoint_url=url + "/")
    assert ops.api_url(target, "a1b2c3", "prod", None) == f"{url}/_aws/execute-api/a1b2c3/prod"
    assert config["hits"] == [endpoints.HEALTH_PATH]


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, {"message": "Not Found"}), (200, {"ok": True}), (200, ["services"]), (500, {"services": {}})],
)
def test_other_endpoints_keep_the_path_style_url(
    health_server: tuple[str, dict[str, Any]], status: int, body: Any
) -> None:
    url, config = health_server
    config.update(status=status, body=body)
    target = Target(kind="endpoint", region="us-east-1", endpoint_url=url)
    assert ops.api_url(target, "a1b2c3", "prod", None) == f"{url}/restapis/a1b2c3/prod/_user_request_"


def test_a_moto_server_is_not_localstack(moto_server: str) -> None:
    endpoints._probe.cache_clear()
    assert endpoints.is_localstack(moto_server) is False


def test_the_explicit_setting_wins_without_a_probe(
    health_server: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, config = health_server
    monkeypatch.setenv(endpoints.ENV_OVERRIDE, "0")
    assert endpoints.is_localstack(url) is False
    monkeypatch.setenv(endpoints.ENV_OVERRIDE, "1")
    assert endpoints.is_localstack("http://127.0.0.1:9") is True
    assert config["hits"] == []


def test_an_unreachable_endpoint_is_not_localstack() -> None:
    endpoints._probe.cache_clear()
    assert endpoints.is_localstack("http://127.0.0.1:9") is False


def test_clients_share_one_loader_whose_search_paths_do_not_grow() -> None:
    """aws.shared_loader: every boto3 Session appends boto3's data directory to its loader's search
    paths. Shared by every session of the process, the list grew by one path a session, and each model
    lookup stats every entry; it must stay as it was after the first session."""
    from asyncapi_cli.aws import AwsClients, shared_loader

    target = Target(kind="endpoint", region="us-east-1", endpoint_url="http://127.0.0.1:9")
    AwsClients(target)("sqs")
    paths = list(shared_loader().search_paths)
    for _ in range(5):
        AwsClients(target)("sqs")
    assert shared_loader().search_paths == paths
    assert len(paths) == len(set(paths))
    assert any(path.endswith(("boto3/data", "boto3\\data")) for path in paths)  # boto3's models still found
