"""The scheduler and the WebSocket server for the embedded AWS, started and stopped as one (server.py's hook).

from .feature_services import start_feature_services
stop_features, feature_info = start_feature_services(endpoint, runtime.invoke)  # after moto starts
... write feature_info ({"websocket": "ws://127.0.0.1:<port>"}) into server.json ...
stop_features()  # on shutdown, before runtime.close()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import scheduler
from .websocket import service as websocket


def start_feature_services(endpoint: str, invoke: Any) -> tuple[Callable[[], None], dict[str, str]]:
    """The scheduler and the WebSocket server; (stop, info for server.json).

    DynamoDB stream mappings run with the SQS ones in event_sources.PollerManager.
    """
    websocket_url = websocket.start(invoke)
    scheduler.start(endpoint)

    def stop() -> None:
        scheduler.stop()
        websocket.stop()

    return stop, {"websocket": websocket_url}
