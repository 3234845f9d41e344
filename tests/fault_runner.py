"""Runs the asyncapi CLI, SIGKILLing itself right after its k-th mutating AWS call has completed.

Usage: python tests/fault_runner.py K <asyncapi arguments...>
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

from asyncapi_cli import cli
from asyncapi_cli.aws import is_mutating


def main() -> None:
    kill_after = int(sys.argv[1])
    seen = [0]
    lock = threading.Lock()

    def after_call(model: Any, **_: Any) -> None:
        if not is_mutating(model.name):
            return
        with lock:
            seen[0] += 1
            if seen[0] == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    def hook(client: Any) -> None:
        client.meta.events.register("after-call.*.*", after_call)

    make_options = cli._options

    def options_with_hook(**kwargs: Any) -> Any:
        options = make_options(**kwargs)
        options.hooks.append(hook)
        return options

    cli._options = options_with_hook
    cli.main(args=sys.argv[2:], prog_name="asyncapi")


if __name__ == "__main__":
    main()
