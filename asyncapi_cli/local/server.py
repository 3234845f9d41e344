"""The embedded local AWS process: moto server + gateway + Lambda runtime + SQS pollers, on 127.0.0.1."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

# The cyclic collector's thresholds in this process (CPython's default: 700, 10, 10). Under load the
# server allocates fast (moto's requests, answers and records), most of it freed by reference counting,
# and at the default it spent ~10% of its CPU collecting (bench/README.md, `load.py --throughput`): a young
# collection every 700 allocations, and full ones walking everything loaded and deployed since the
# freeze in main() (90-200 ms each, four during 500 jobs). Young collections every 5,000 and full ones after
# 100 middle ones instead: cyclic garbage is still collected, a little later.
GC_THRESHOLDS = (5000, 10, 100)


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def apply_patches() -> None:
    """Every library patch the embedded AWS needs, through the compat registry (raises CompatError when a
    fidelity patch cannot apply). Importing these modules registers their patches."""
    from . import cloudwatch, compat, iam_policy, scheduler  # noqa: F401
    from .events import move_tasks, stream_poller  # noqa: F401
    from .gateway import moto_seam, vtl  # noqa: F401

    compat.REGISTRY.apply()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asyncapi-local")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--gateway-port", type=int, default=0)
    args = parser.parse_args(argv)
    from .logs import CloudWatchLogsSink, rotating_server_log

    logging.basicConfig(level=logging.INFO, handlers=[rotating_server_log(args.home / "server.log")])
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    log = logging.getLogger("asyncapi.local")

    from . import compat, iam_policy
    from .cloudwatch import publishers
    from .cloudwatch.service import CloudWatchService
    from .compat.moto_fixes import answer_invocations, watch_function_code
    from .events.sources import PollerManager
    from .gateway.rest import Gateway, make_server
    from .lambda_.invoke import InvokeApi
    from .lambda_.runtime import LambdaRuntime

    try:
        apply_patches()
    except compat.CompatError as exc:  # a fidelity patch's library changed: stop, naming it
        log.error("%s", exc)
        print(f"asyncapi local: {exc}", file=sys.stderr, flush=True)
        return 3

    from .moto_server.keepalive import KeepAliveMotoServer

    # moto's server, keeping connections alive (werkzeug's closes each after one answer).
    moto_server = KeepAliveMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    endpoint = f"http://127.0.0.1:{port}"
    runtime = LambdaRuntime(
        endpoint,
        args.home / "code",
        # Function logs into CloudWatch Logs; their EMF lines also become metrics.
        sink=publishers.MetricsLogSink(CloudWatchLogsSink()),
        # Each function runs with its execution role's temporary credentials (IAM enforced).
        credentials=lambda spec: iam_policy.role_credentials(spec.account, spec.region, spec.role, spec.name),
    )
    runtime.observers.append(publishers.lambda_invocation)  # AWS/Lambda metrics
    # A function's code is unpacked, and the zygote its workers fork from started, when it is created.
    watch_function_code(runtime.prepare)
    # Invoke on this endpoint runs the function in this runtime (moto's would need Docker).
    answer_invocations(InvokeApi(runtime.invoke).answer)
    gateway = Gateway(runtime.invoke, endpoint)
    gateway.observers.append(publishers.gateway_request)  # AWS/ApiGateway metrics
    gateway_server = make_server(gateway, port=args.gateway_port)
    threading.Thread(target=gateway_server.serve_forever, daemon=True, name="gateway").start()
    gateway_url = f"http://127.0.0.1:{gateway_server.server_address[1]}"
    pollers = PollerManager(
        runtime.invoke, runtime.concurrency.unreserved, permission_check=iam_policy.sqs_mapping_check
    )
    pollers.start()
    from .feature_services import start_feature_services

    # The features' services: the scheduler fires schedules, the WebSocket server serves WebSocket APIs.
    stop_features, feature_info = start_feature_services(endpoint, runtime.invoke)
    # CloudWatch's clock (SQS metrics, alarm evaluation) and SNS's confirmation / certificate URLs.
    cloudwatch_service = CloudWatchService()
    feature_info = {**feature_info, **cloudwatch_service.start()}

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    info_path = args.home / "server.json"
    status_path = args.home / "status.json"
    write_json_atomically(
        info_path,
        {
            "pid": os.getpid(),
            "endpoint": endpoint,
            "gateway": gateway_url,
            "log": str(args.home / "server.log"),
            "started_at": time.time(),
            "compat": compat.REGISTRY.report(),  # the library patches applied and skipped
            **feature_info,
        },
    )
    log.info("embedded AWS ready: endpoint %s, gateway %s", endpoint, gateway_url)
    # moto's and botocore's models, loaded by now, live as long as the server: out of the collector's
    # reach, a full collection no longer walks them again while jobs run.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    while not stop.wait(2.0):
        runtime.sweep()  # idle workers reclaimed; none left behind by deleted functions
        # What `asyncapi local status` shows: limits, warm workers, pollers per mapping.
        write_json_atomically(
            status_path,
            {
                **runtime.status(),
                "mappings": pollers.status(),
                "cloudwatch": cloudwatch_service.status(),
                "at": time.time(),
            },
        )
    log.info("stopping")
    pollers.stopping.set()
    # Each socketserver notices a shutdown on its next poll (up to 0.5 s): stop them side by side.
    stoppers = [
        threading.Thread(target=stop_features),
        threading.Thread(target=cloudwatch_service.stop),
        threading.Thread(target=gateway_server.shutdown),
        threading.Thread(target=moto_server.stop),
    ]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    runtime.close()
    try:
        info_path.unlink()
    except FileNotFoundError:
        pass
    return 0


if __name__ == "__main__":
    code = main()
    # Everything the server owns is closed by now (workers killed, servers shut down, server.json
    # removed). Skip the interpreter's finalization: tearing down moto's modules and objects took
    # longer than the whole shutdown (SIGTERM to exit 0.4 s with this, 1.1-1.3 s without, after a
    # job), and `asyncapi local stop` waits for the exit.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
