"""Issue 11's services for the embedded AWS, started and stopped as one (server.py's hook).

from .feature_services import start_feature_services
stop_features, feature_info = start_feature_services(endpoint, runtime.invoke)  # after moto starts
... write feature_info ({"websocket": "ws://127.0.0.1:<port>"}) into server.json ...
stop_features()  # on shutdown, before runtime.close()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import scheduler, stream_poller, websocket


def start_feature_services(endpoint: str, invoke: Any) -> tuple[Callable[[], None], dict[str, str]]:
    """The scheduler, the DynamoDB stream pollers and the WebSocket server; (stop, info for server.json)."""
    stream_poller.neutralize_moto_stream_invocation()
    stream_poller.allow_stream_reenable()
    streams = stream_poller.StreamPollerManager(endpoint, invoke)
    streams.start()
    websocket_url = websocket.start(invoke)
    scheduler.start(endpoint)

    def stop() -> None:
        scheduler.stop()
        websocket.stop()
        streams.stopping.set()
        streams.join(timeout=5)

    return stop, {"websocket": websocket_url}
