"""Embedded API Gateway throughput and latency: kept-alive connections against a new connection per request.

    python bench/bench_gateway.py [--requests N] [--route mock|sqs]

Starts moto's server and the gateway in this process on 127.0.0.1, deploys a one-route REST API (a MOCK
integration, or the SQS SendMessage integration as `asyncapi up` deploys it), then sends N sequential
requests over one kept-alive HTTP/1.1 connection and N over a new connection each, and prints req/s
and latency percentiles for both. Replies on kept-alive connections used to stall ~44 ms
(Nagle's algorithm meeting delayed ACKs, with headers and body written separately).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from typing import Any

import boto3

from asyncapi_cli.local.gateway.rest import Gateway, make_server

REGION, ACCOUNT = "us-east-1", "123456789012"


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


def deploy(endpoint: str, route: str) -> str:
    apigw = client(endpoint, "apigateway")
    api = apigw.create_rest_api(name="bench")
    resource = apigw.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="r")["id"]
    apigw.put_method(restApiId=api["id"], resourceId=resource, httpMethod="POST", authorizationType="NONE")
    integration: dict[str, Any] = {
        "type": "MOCK",
        "requestTemplates": {"application/json": '{"statusCode": 200}'},
    }
    if route == "sqs":
        client(endpoint, "sqs").create_queue(QueueName="bench-q")
        iam = client(endpoint, "iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "apigateway.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        send = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
        }
        iam.put_role_policy(RoleName="bench", PolicyName="send", PolicyDocument=json.dumps(send))
        integration = {
            "type": "AWS",
            "integrationHttpMethod": "POST",
            "uri": f"arn:aws:apigateway:{REGION}:sqs:path/{ACCOUNT}/bench-q",
            "credentials": role,
            "requestParameters": {
                "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
            },
            "requestTemplates": {
                "application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
            },
        }
    apigw.put_integration(restApiId=api["id"], resourceId=resource, httpMethod="POST", **integration)
    apigw.put_method_response(restApiId=api["id"], resourceId=resource, httpMethod="POST", statusCode="200")
    apigw.put_integration_response(
        restApiId=api["id"],
        resourceId=resource,
        httpMethod="POST",
        statusCode="200",
        selectionPattern="",
        responseTemplates={"application/json": '{"ok": true}'},
    )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    return f"/restapis/{api['id']}/prod/_user_request_/r"


def run(port: int, path: str, count: int, keep_alive: bool) -> list[float]:
    latencies = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(count):
        if not keep_alive:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        connection.request("POST", path, b'{"a": 1}', {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        assert response.status == 200, response.status
        if not keep_alive:
            connection.close()
    connection.close()
    return latencies


def report(name: str, latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "connections": name,
        "requests": len(ordered),
        "req_per_s": round(len(ordered) / sum(ordered), 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--route", choices=["mock", "sqs"], default="mock")
    args = parser.parse_args()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from asyncapi_cli.local import server
    from asyncapi_cli.local.moto_server.keepalive import KeepAliveMotoServer

    server.apply_patches()  # moto as the embedded server runs it (SQS cost per send flat in depth)
    moto = KeepAliveMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{moto.get_host_and_port()[1]}"
    server = make_server(Gateway(lambda *a: None, endpoint))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = deploy(endpoint, args.route)
    port = server.server_address[1]
    run(port, path, 20, True)  # warm up
    rows = [report("kept-alive", run(port, path, args.requests, True))]
    rows.append(report("new per request", run(port, path, args.requests, False)))
    print(json.dumps({"route": args.route, "results": rows}, indent=2))
    server.shutdown()
    moto.stop()


if __name__ == "__main__":
    main()
