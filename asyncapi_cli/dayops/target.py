"""Is the recorded stack really deployed where its state file says? (the embedded AWS forgets on restart)"""

from __future__ import annotations

from typing import Any

from ..errors import StateError


def require_deployed(stack: Any) -> None:
    """On the embedded AWS, refuse a stack that `local stop`/`local start` wiped out.

    The embedded AWS keeps everything in memory and may come back on other ports: the state's API
    URL then points at a dead port (or at whatever took it). Both signs are checked: the API URL is
    not the one the running gateway serves, or the REST API id is unknown there.
    """
    if stack.state.target.kind != "local":
        return
    api_id = (stack.state.resources.get("rest_api") or {}).get("id")
    recorded = stack.state.outputs.get("api_url")
    current = stack.ctx.api_url_for(api_id) if api_id and stack.ctx.api_url_for else None
    known = False
    if api_id and not str(api_id).startswith("("):
        try:
            stack.clients("apigateway").get_rest_api(restApiId=api_id)
            known = True
        except Exception as exc:
            if not type(exc).__module__.startswith("botocore"):
                raise
    if not known or recorded != current:
        raise StateError(
            f"stack {stack.state.name} is not deployed on the running embedded AWS (it was restarted "
            "since 'up', and its contents lived in memory); run 'asyncapi up' to deploy it again"
        )
