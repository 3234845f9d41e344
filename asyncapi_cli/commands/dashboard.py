"""`asyncapi dashboard`: serve the stack's web console on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import sys
import webbrowser
from typing import Any

import click

from ..errors import InputError
from ..options import stack_kwargs, stack_options


@click.command()
@click.option("--port", type=int, default=0, help="Port on 127.0.0.1 (default: any free port).")
@click.option("--no-open", is_flag=True, help="Do not open a browser; just print the URL.")
@stack_options
@click.pass_context
def dashboard(ctx: click.Context, port: int, no_open: bool, **kwargs: Any) -> None:
    """A web console: jobs, queue depths, dead letters (redrive, purge) and schedules, live."""
    ctx.meta["asyncapi.interrupt"] = "dashboard stopped"
    stack_kwargs(_serve)(port=port, no_open=no_open, **kwargs)


def build_server(stack: Any, port: int = 0) -> Any:
    """The console for this stack, bound to 127.0.0.1:port (0: a free port), not yet serving."""
    from ..clients.transport import use_api_key
    from ..dashboard import actions, pages
    from ..dashboard.server import Console, ConsoleServer

    use_api_key(stack)  # the schedules' pages call the stack's API, which may require its key
    console = Console(stack, pages.ROUTES + actions.ROUTES)
    try:
        return ConsoleServer(console, port)
    except OSError as exc:
        raise InputError(f"cannot serve the dashboard on 127.0.0.1:{port}: {exc.strerror or exc}") from exc


def _serve(options: Any, out: Any, port: int, no_open: bool, **_: Any) -> None:
    from .daytwo import _open

    if not 0 <= port <= 65535:
        raise InputError(f"--port must be between 0 and 65535, got {port}")
    stack = _open(options)
    server = build_server(stack, port)
    url = server.console.origin + "/"
    out.document({"command": "dashboard", "name": stack.state.name, "url": url})
    out.line(("Dashboard of ", "bold"), stack.state.name, ": ", url)
    out.info("Ctrl-C stops it.", "dim")
    sys.stdout.flush()  # a pipe (a test, a script) sees the URL now, not at exit
    if not no_open:
        webbrowser.open(url)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()


def register(group: click.Group) -> None:
    group.add_command(dashboard)
