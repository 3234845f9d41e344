"""Your own job: the user's module and its vendored requirements are packaged deterministically, cached by
content, deployed only when they change, and run (on the embedded AWS) with dependencies that load here.

No network: the dependencies are tiny wheels built inside the test and installed with
`pip --no-index --find-links DIR` (through ASYNCAPI_PIP_OPTIONS).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from asyncapi_cli import package
from asyncapi_cli.cli import main
from asyncapi_cli.local import manager
from asyncapi_cli.names import StackSettings
from asyncapi_cli.package import build_code, cache_dir
from asyncapi_cli.stack import APP_BUNDLE

from .conftest import run_cli
from .stack_units import stack_units


def make_wheel(directory: Path, name: str, version: str, tag: str, files: dict[str, str]) -> Path:
    """A minimal valid wheel (PEP 427): the files, METADATA, WHEEL and a RECORD with hashes."""
    dist = f"{name}-{version}.dist-info"
    contents = {path: text.encode() for path, text in files.items()}
    contents[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    pure = "true" if tag.endswith("-none-any") else "false"
    contents[f"{dist}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: asyncapi-tests\nRoot-Is-Purelib: {pure}\nTag: {tag}\n".encode()
    )
    record = []
    for path, data in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    contents[f"{dist}/RECORD"] = ("\n".join([*record, f"{dist}/RECORD,,"]) + "\n").encode()
    wheel = directory / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "wheels"
    directory.mkdir()
    for version in ("1.0", "2.0"):
        make_wheel(
            directory, "tinydep", version, "py3-none-any", {"tinydep/__init__.py": f'VALUE = "v{version}"\n'}
        )
    # Only a Windows build exists: nothing pip may install for Lambda's manylinux platform.
    make_wheel(directory, "nowheel", "1.0", "py3-none-win_amd64", {"nowheel/__init__.py": ""})
    monkeypatch.setenv(package.PIP_OPTIONS_ENV, f"--no-index --find-links {directory}")
    return directory


WORK = """import tinydep

def handle(payload):
    return {"dependency": tinydep.VALUE, "echo": payload}
"""


def project(work: str = WORK, requirements: str = "tinydep==1.0\n") -> StackSettings:
    Path("work.py").write_text(work, encoding="utf-8")
    Path("requirements.txt").write_text(requirements, encoding="utf-8")
    return StackSettings(
        work=f"{Path.cwd() / 'work.py'}:handle", requirements=str(Path.cwd() / "requirements.txt")
    )


class CountingPip:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        return package._run_pip(args)


def test_package_vendors_requirements_deterministically_and_caches_by_content(wheels: Path) -> None:
    settings = project()
    pip = CountingPip()
    first = build_code(settings, pip=pip)
    archive = zipfile.ZipFile(io.BytesIO(first.code.zip_bytes))
    names = archive.namelist()
    assert names == sorted(names)
    assert {"job_processor.py", "jobwork.py", "status_checker.py", "work.py", "asyncapi_work.txt"} <= set(
        names
    )
    assert "tinydep/__init__.py" in names and "tinydep-1.0.dist-info/METADATA" in names
    assert not [n for n in names if n.endswith(".pyc") or n.startswith("bin/")]
    assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in archive.infolist()} <= {0o644, 0o755}
    assert archive.read("asyncapi_work.txt") == b"work:handle"
    # pip was asked for the Lambda platform's wheels (AWS: packaging dependencies with --platform).
    [args] = pip.calls
    for option in ("--platform", "manylinux2014_x86_64", "--python-version", "3.12", "--only-binary=:all:"):
        assert option in args
    assert args[args.index("--implementation") + 1] == "cp"
    assert first.info["cached"] is False

    again = build_code(settings, pip=pip)
    assert again.code.zip_bytes == first.code.zip_bytes and again.info["cached"] is True
    assert len(pip.calls) == 1  # nothing rebuilt

    shutil.rmtree(cache_dir())  # from nothing, the same bytes
    assert build_code(settings, pip=pip).code.zip_bytes == first.code.zip_bytes
    assert len(pip.calls) == 2

    arm = build_code(StackSettings(**{**settings.__dict__, "architecture": "arm64"}), pip=pip)
    assert "manylinux2014_aarch64" in pip.calls[-1]
    assert arm.code.sha256_b64 == first.code.sha256_b64  # pure-Python wheels: the same package

    changed_requirement = build_code(project(requirements="tinydep==2.0\n"), pip=pip)
    assert changed_requirement.code.sha256_b64 != first.code.sha256_b64
    changed_work = build_code(project(work=WORK + "# edited\n"), pip=pip)
    assert changed_work.code.sha256_b64 not in (first.code.sha256_b64, changed_requirement.code.sha256_b64)

    # The processor finds the user's handle through asyncapi_work.txt; the vendored module imports.
    root = Path("unzipped")
    archive.extractall(root)
    probe = "import job_processor; print(job_processor.load_work()({'n': 1}))"
    ran = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "{'dependency': 'v1.0', 'echo': {'n': 1}}"


def test_built_in_work_without_a_file_is_the_recipes_package() -> None:
    assert build_code(StackSettings()).code == package.build_zip()


def test_missing_lambda_wheel_is_one_line_naming_the_dependency(wheels: Path, moto_server: str) -> None:
    assert run_cli("init").returncode == 0
    Path("requirements.txt").write_text("tinydep==1.0\nnowheel==1.0\n", encoding="utf-8")
    result = run_cli("plan", "--endpoint-url", moto_server, "--name", "own-code")
    assert result.returncode == 2
    assert result.stderr == (
        "asyncapi: error: [processor] requirements: no wheel of nowheel==1.0 for the Lambda platform "
        "(manylinux2014_x86_64, CPython 3.12); choose a version that publishes one, or drop it\n"
    )


def cli_json(*args: str, in_process: bool = False) -> dict[str, Any]:
    """The CLI with --json: a separate process, or (faster, same code) click's runner in this one."""
    if in_process:
        done = CliRunner().invoke(main, [*args, "--json"])
        assert done.exit_code == 0, done.stderr
        return json.loads(done.stdout)
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in report["resources"]}


def test_code_and_setting_changes_are_planned_and_converged_and_a_noop_up_uploads_nothing(
    wheels: Path, moto_server: str
) -> None:
    assert run_cli("init").returncode == 0
    project()
    target = ("--endpoint-url", moto_server)
    first = cli_json("up", *target, "--name", "own-code", in_process=True)
    assert first["code"]["lambda_dependencies"] == "manylinux2014_x86_64 cp312"
    assert first["code"]["work"] == "work:handle"

    # Nothing changed: nothing rebuilt, nothing uploaded, nothing changed.
    noop = cli_json("up", in_process=True)
    assert noop["code"]["cached"] is True and noop["code"]["sha256"] == first["code"]["sha256"]
    assert "lambda.UpdateFunctionCode" not in noop["aws_calls_by_operation"]
    assert noop["aws_calls"]["mutating"] == 0 and noop["settings_changed"] == []

    # A code change: plan names CodeSha256 (and the state's recorded hash); up deploys it.
    Path("work.py").write_text(WORK.replace('"echo"', '"payload"'), encoding="utf-8")
    planned = cli_json("plan", in_process=True)
    processor = by_key(planned)["processor_fn"]
    assert processor["action"] == "update"
    assert [c["setting"] for c in processor["changes"]] == ["CodeSha256"]
    assert processor["changes"][0]["desired"] == planned["code"]["sha256"] != first["code"]["sha256"]
    assert [c["setting"] for c in planned["settings_changed"]] == ["code_sha256"]
    deployed = cli_json("up", in_process=True)
    # The one package serves every function that runs it (processor, status checker, dead-letter
    # recorder...), so each gets the new code once.
    app_functions = [
        unit for unit in stack_units("own-code") if unit.kind == "lambda-function" and unit.code == APP_BUNDLE
    ]
    assert deployed["aws_calls_by_operation"]["lambda.UpdateFunctionCode"] == len(app_functions)
    assert {r["action"] for r in cli_json("plan", in_process=True)["resources"]} == {"exists"}

    # A setting changed in the file: plan shows it, up converges it, then nothing differs.
    toml = Path("asyncapi.toml").read_text(encoding="utf-8")
    Path("asyncapi.toml").write_text(toml.replace("# memory = 512", "memory = 1024"), encoding="utf-8")
    planned = cli_json("plan", in_process=True)
    changes = by_key(planned)["processor_fn"]["changes"]
    assert [(c["setting"], c["live"], c["desired"]) for c in changes] == [("MemorySize", 512, 1024)]
    assert planned["settings_changed"] == [{"setting": "processor_memory", "recorded": 512, "file": 1024}]
    status = CliRunner().invoke(main, ["status"])
    assert status.exit_code == 0 and "MemorySize: 512 -> 1024" in status.stdout
    converged = cli_json("up", in_process=True)
    assert converged["aws_calls_by_operation"]["lambda.UpdateFunctionConfiguration"] == 1
    assert "lambda.UpdateFunctionCode" not in converged["aws_calls_by_operation"]
    after = cli_json("plan", in_process=True)
    assert {r["action"] for r in after["resources"]} == {"exists"} and after["settings_changed"] == []

    # Without the file, down still finds the stack (the state has its name and target).
    Path("asyncapi.toml").unlink()
    down = cli_json("down", "--yes", in_process=True)
    assert {r["action"] for r in down["resources"]} >= {"deleted"}
    assert not list(Path(".asyncapi").glob("*.json"))


def other_architecture() -> tuple[str, str]:
    """The Lambda architecture this machine is not (so its wheels cannot load here), and its platform tag."""
    if platform.machine().lower() in ("x86_64", "amd64"):
        return "arm64", "manylinux2014_aarch64"
    return "x86_64", "manylinux2014_x86_64"


def test_init_up_local_test_job_runs_the_users_work_with_its_dependencies(wheels: Path) -> None:
    assert run_cli("init").returncode == 0
    project()
    try:
        up = cli_json("up", "--local", "--name", "own-job")
        # A pure-Python wheel loads anywhere: the embedded AWS runs the zip's own vendored copy.
        assert up["code"]["local_dependencies"] == {"source": "lambda-wheels", "path": None}
        job = cli_json("test-job", "--payload", '{"text": "a b"}')
        assert job["job"]["status"] == "completed"
        assert job["result"]["result"] == {"dependency": "v1.0", "echo": {"text": "a b"}}

        # A binary dependency built for the other architecture cannot load here: the embedded AWS runs the
        # same code with the requirements built for this machine, and says so.
        architecture, platform_tag = other_architecture()
        files = {"hostdep/__init__.py": 'BUILD = "lambda"\n'}
        make_wheel(wheels, "hostdep", "1.0", f"cp312-cp312-{platform_tag}", files)
        make_wheel(wheels, "hostdep", "1.0", "py3-none-any", {"hostdep/__init__.py": 'BUILD = "host"\n'})
        settings = project(
            work="import hostdep\n\ndef handle(payload):\n    return {'build': hostdep.BUILD}\n",
            requirements="hostdep==1.0\n",
        )
        toml = Path("asyncapi.toml").read_text(encoding="utf-8")
        toml = toml.replace('# architecture = "x86_64"', f'architecture = "{architecture}"')
        Path("asyncapi.toml").write_text(toml, encoding="utf-8")
        up = cli_json("up")
        local = up["code"]["local_dependencies"]
        assert local["source"].startswith("host (") and Path(local["path"], "hostdep").is_dir()
        assert up["code"]["lambda_dependencies"] == f"{platform_tag} cp312"
        job = cli_json("test-job", "--payload", "{}")
        assert job["result"]["result"] == {"build": "host"}
        # ... while the package deployed (same bytes, rebuilt here from the cache) holds Lambda's build.
        deployed = build_code(StackSettings(**{**settings.__dict__, "architecture": architecture}))
        assert deployed.code.sha256_b64 == up["code"]["sha256"]
        archive = zipfile.ZipFile(io.BytesIO(deployed.code.zip_bytes))
        assert archive.read("hostdep/__init__.py") == b'BUILD = "lambda"\n'
    finally:
        manager.stop()
