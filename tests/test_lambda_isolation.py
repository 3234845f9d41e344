"""A local function imports what it could import on Lambda, on the declared runtime's Python.

Sources:
- PACKAGE: "Working with .zip file archives for Python Lambda functions", "Dependency search path and
  runtime-included libraries" (docs.aws.amazon.com/lambda/latest/dg/python-package.html): the function
  sees its package, the layers, the runtime's directory (the SDK it includes) and the standard library.
- RIC: github:aws/aws-lambda-python-runtime-interface-client, awslambdaric/bootstrap.py `_get_handler`:
  an ImportError is "Runtime.ImportModuleError", "Unable to import module '{modname}': {e}".
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from asyncapi_cli import lambda_interpreters
from asyncapi_cli.local.lambda_.runtime import LambdaRuntime
from tests.test_fidelity_lambda import Sink, make_spec

pytestmark = pytest.mark.xdist_group("test_lambda_isolation")

PROBE = """
import importlib, sys
def handler(event, context):
    found = {}
    for name in event["modules"]:
        try:
            module = importlib.import_module(name)
            found[name] = getattr(module, "__version__", "yes")
        except ImportError as exc:
            found[name] = "ImportError: " + str(exc)
    return {"found": found, "version": list(sys.version_info[:2]), "executable": sys.executable}
"""


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LambdaRuntime, dict[str, Any]]]:
    specs: dict[str, Any] = {}
    runtime = LambdaRuntime(
        "http://127.0.0.1:9",
        tmp_path_factory.mktemp("code"),
        lookup=lambda a, r, n: specs.get(n),
        sink=Sink(),
    )
    yield runtime, specs
    runtime.close()


def _invoke(runtime: LambdaRuntime, name: str, event: Any) -> Any:
    return runtime.invoke("123456789012", "us-east-1", name, event)


def test_an_undeclared_import_fails_as_on_lambda(runtime: tuple[LambdaRuntime, dict[str, Any]]) -> None:
    # PACKAGE + RIC: flask is installed beside the CLI, not in the package: the init phase fails.
    rt, specs = runtime
    assert __import__("flask")  # it is importable here, in the CLI's own environment
    specs["uses-flask"] = make_spec("uses-flask", "import flask\ndef handler(e, c):\n    return 1\n")
    result = _invoke(rt, "uses-flask", {})
    assert (result.ok, result.error_type, result.error_message) == (
        False,
        "Runtime.ImportModuleError",
        "Unable to import module 'fn': No module named 'flask'",
    )


@pytest.mark.parametrize("runtime_name", ["python3.12", "python3.11"])
def test_the_function_sees_its_runtimes_libraries_and_nothing_else(
    runtime: tuple[LambdaRuntime, dict[str, Any]], runtime_name: str
) -> None:
    # PACKAGE: boto3, botocore (and what they import) and the standard library; not the CLI, not moto.
    rt, specs = runtime
    name = f"probe-{runtime_name.replace('.', '')}"
    specs[name] = make_spec(name, PROBE, runtime=runtime_name)
    modules = [
        *lambda_interpreters.RUNTIME_LIBRARIES,
        "json",
        "sqlite3",
        "flask",
        "moto",
        "asyncapi_cli",
        "pytest",
    ]
    result = _invoke(rt, name, {"modules": modules})
    assert result.ok, result
    found = result.payload["found"]
    for name in (*lambda_interpreters.RUNTIME_LIBRARIES, "json", "sqlite3"):
        assert not str(found[name]).startswith("ImportError"), (name, found[name])
    assert found["boto3"] == lambda_interpreters.provided_versions()["boto3"]
    for name in ("flask", "moto", "asyncapi_cli", "pytest"):
        assert found[name] == f"ImportError: No module named '{name}'"
    # The declared runtime's Python where the machine has one, else the nearest.
    chosen = lambda_interpreters.interpreter_for(runtime_name)
    assert tuple(result.payload["version"]) == chosen.version


def test_a_declared_dependency_in_the_package_is_imported(
    runtime: tuple[LambdaRuntime, dict[str, Any]],
) -> None:
    rt, specs = runtime
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", "import vendored\ndef handler(e, c):\n    return vendored.VALUE\n")
        archive.writestr("vendored/__init__.py", "VALUE = 'from the package'\n")
    specs["vendors"] = make_spec("vendors", code=buffer.getvalue())
    result = _invoke(rt, "vendors", {})
    assert (result.ok, result.payload) == (True, "from the package")


def test_the_nearest_python_is_chosen_and_named_when_the_declared_one_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    here = sys.version_info[:2]
    monkeypatch.setattr(
        lambda_interpreters, "available", lambda: {here: sys.executable, (3, 9): "/x/python3.9"}
    )
    declared = f"python{here[0]}.{here[1] + 3}"
    assert lambda_interpreters.interpreter_for(declared).version == here
    warning = lambda_interpreters.interpreter_warning(declared)
    assert warning is not None
    assert f"Python {here[0]}.{here[1] + 3}" in warning and f"Python {here[0]}.{here[1]}" in warning
    assert lambda_interpreters.interpreter_warning(f"python{here[0]}.{here[1]}") is None
    # Equally near on both sides: the newer.
    monkeypatch.setattr(
        lambda_interpreters, "available", lambda: {(3, 9): "/x/python3.9", (3, 11): "/x/python3.11"}
    )
    assert lambda_interpreters.interpreter_for("python3.10") == lambda_interpreters.Interpreter(
        "/x/python3.11", (3, 11)
    )
