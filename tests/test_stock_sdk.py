"""The CLI and the Lambda workers run on stock botocore, boto3 and standard library.

Each name below was once replaced for speed (in every CLI command, real AWS included, and in every
Lambda worker). After a CLI run against an endpoint, and inside a worker, each must be what a fresh
interpreter that only imported the package finds: the same definition (source file, line, name), and
defined on the same class or module, not added to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# What a process finds behind each name: enough to tell an original from a replacement. Run as is in a
# fresh interpreter, in the process a CLI run leaves behind, and as a Lambda function's handler module.
PROBE = '''
import importlib
import inspect
import os
import sys

FORKED = "botocore.parsers" in sys.modules  # as a handler module: imported in a worker the zygote forked

TARGETS = (
    ("botocore.client", "ClientCreator", "_create_methods"),
    ("botocore.client", "ClientCreator", "_load_service_model"),
    ("botocore.regions", None, "EndpointProvider"),
    ("botocore.hooks", "EventAliaser", "__init__"),
    ("botocore.hooks", "EventAliaser", "__copy__"),
    ("botocore.hooks", "EventAliaser", "_alias_event_name"),
    ("botocore.hooks", None, "accepts_kwargs"),
    ("botocore.hooks", "_PrefixTrie", "__copy__"),
    ("botocore.hooks", "_PrefixTrie", "append_item"),
    ("botocore.hooks", "_PrefixTrie", "remove_item"),
    ("botocore.session", None, "create_loader"),
    ("boto3", None, "setup_default_session"),
    ("boto3.session", "Session", "client"),
    ("http.client", None, "parse_headers"),
    ("http.client", "HTTPMessage", "__init__"),
)


def describe(module_name, class_name, attribute):
    owner = importlib.import_module(module_name)
    if class_name:
        owner = getattr(owner, class_name)
    found = vars(owner).get(attribute)
    if found is None:
        return None  # not defined there (inherited, or absent): as in a fresh interpreter, or not
    function = getattr(found, "__func__", found)
    try:
        # The real file: a local Lambda worker reaches the CLI's boto3 and botocore through the links of
        # its runtime directory (lambda_interpreters), which name the same files.
        where = (os.path.realpath(inspect.getsourcefile(function)), inspect.getsourcelines(function)[1])
    except TypeError:  # a builtin or a C-level slot wrapper: its type and name tell it apart
        where = (type(function).__name__, None)
    return [*where, getattr(function, "__qualname__", None)]


def probe():
    return {".".join(filter(None, target)): describe(*target) for target in TARGETS}


def handler(event, context):
    import boto3

    boto3.client("s3", region_name="us-east-1")  # a client made, as a handler does at import
    libraries = os.path.dirname(os.path.dirname(os.path.realpath(boto3.__file__)))
    return {"forked": FORKED, "probe": probe(), "python": sys.executable, "libraries": libraries}
'''


def _run_python(code: str, python: str = sys.executable, path: str | None = None) -> dict[str, Any]:
    env = os.environ | ({"PYTHONPATH": path} if path else {})
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def fresh_interpreter(python: str = sys.executable, path: str | None = None) -> dict[str, Any]:
    """What an untouched interpreter holds (the worker's own Python, with the libraries it was given)."""
    code = PROBE + "\nimport json, boto3, botocore.session\nprint(json.dumps(probe()))"
    return _run_python(code, python, path)


def test_a_cli_run_against_an_endpoint_leaves_botocore_and_the_stdlib_stock(moto_server: str) -> None:
    # The CLI as a user runs it, in a process of its own; the probe then looks at what that process holds.
    run = (
        PROBE
        + "\nimport json, sys\nfrom asyncapi_cli.cli import main\n"
        + "try:\n"
        + f"    main(['up', '--endpoint-url', {moto_server!r}, '--name', 'stock-stack', '--json'],"
        + " prog_name='asyncapi')\n"
        + "except SystemExit as exc:\n"
        + "    assert not exc.code, exc.code\n"
        + "assert 'botocore.client' in sys.modules and 'http.client' in sys.modules\n"
        + "print(json.dumps(probe()))"
    )
    after_cli = _run_python(run)
    assert after_cli == fresh_interpreter()
    assert "/botocore/" in after_cli["botocore.hooks.accepts_kwargs"][0]  # the probe reads real files


def test_a_lambda_worker_runs_on_stock_botocore_and_standard_library(tmp_path: Path) -> None:
    from asyncapi_cli.local.lambda_.runtime import LambdaRuntime
    from tests.test_fidelity_lambda import Sink, make_spec

    spec = make_spec("probe", source=PROBE, handler="fn.handler", timeout=60.0)
    runtime = LambdaRuntime(
        "http://127.0.0.1:9",
        tmp_path / "code",
        lookup=lambda a, r, n: spec if n == "probe" else None,
        sink=Sink(),
    )
    try:
        result = runtime.invoke("123456789012", "us-east-1", "probe", {})
    finally:
        runtime.close()
    assert result.ok, (result.error_type, result.error_message)
    assert result.payload["forked"]  # the zygote's worker, where the replacements were applied
    # The worker runs on the declared runtime's Python where the machine has it: compare with that Python.
    assert result.payload["probe"] == fresh_interpreter(result.payload["python"], result.payload["libraries"])

