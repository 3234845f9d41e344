"""The embedded local AWS process: moto server + gateway + Lambda runtime + SQS pollers, on 127.0.0.1."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any


def neutralize_moto_sqs_invocation() -> None:
    """moto invokes a mapped function synchronously inside SendMessage and consumes the messages
    (bumping their receive count even when it cannot run the function). Our pollers own that job:
    mappings are made invisible to the queue so SendMessage only stores the message."""
    from moto.sqs.models import Queue

    def _get(self: Any) -> dict[str, Any]:
        return {}

    def _set(self: Any, value: Any) -> None:
        pass

    Queue.lambda_event_source_mappings = property(_get, _set)  # type: ignore[assignment]


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asyncapi-local")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--gateway-port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    log = logging.getLogger("asyncapi.local")

    neutralize_moto_sqs_invocation()
    from moto.server import ThreadedMotoServer

    from .gateway import Gateway, make_server
    from .lambda_runtime import LambdaRuntime
    from .poller import PollerManager

    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    endpoint = f"http://127.0.0.1:{port}"
    runtime = LambdaRuntime(endpoint, args.home / "code", log=sys.stderr)
    gateway_server = make_server(Gateway(runtime.invoke, endpoint), port=args.gateway_port)
    threading.Thread(target=gateway_server.serve_forever, daemon=True, name="gateway").start()
    gateway_url = f"http://127.0.0.1:{gateway_server.server_address[1]}"
    pollers = PollerManager(endpoint, runtime.invoke)
    pollers.start()
    from .feature_services import start_feature_services  # issue 11: scheduler, streams, WebSocket

    stop_features, feature_info = start_feature_services(endpoint, runtime.invoke)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    info_path = args.home / "server.json"
    write_json_atomically(
        info_path,
        {
            "pid": os.getpid(),
            "endpoint": endpoint,
            "gateway": gateway_url,
            "log": str(args.home / "server.log"),
            "started_at": time.time(),
            **feature_info,
        },
    )
    log.info("embedded AWS ready: endpoint %s, gateway %s", endpoint, gateway_url)
    while not stop.wait(5.0):
        runtime.sweep()  # no warm workers left behind by deleted functions
    log.info("stopping")
    pollers.stopping.set()
    stop_features()
    runtime.close()
    gateway_server.shutdown()
    moto_server.stop()
    try:
        info_path.unlink()
    except FileNotFoundError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
