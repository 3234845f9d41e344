"""The Lambda deployment package: handlers/ (plus the user's work and its dependencies), deterministic.

Same inputs, same bytes: entries sorted, fixed times and modes. With a `work` module or a
requirements file (asyncapi.toml), the zip also holds that module and the requirements vendored for
the Lambda platform (pip --platform manylinux2014_<arch> --python-version <runtime>), cached under
$ASYNCAPI_HOME/cache by a hash of everything that goes in: an unchanged project rebuilds nothing,
and the same bytes mean the same CodeSha256, so `up` uploads nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engine import LambdaCode
from .errors import InputError
from .names import StackSettings

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
BUILT_IN_WORK = "jobwork:run_job"
WORK_FILE = "asyncapi_work.txt"  # "module:function" the processor calls (handlers/job_processor.py)
PIP_OPTIONS_ENV = "ASYNCAPI_PIP_OPTIONS"  # extra pip options, e.g. "--no-index --find-links DIR"
MAX_ZIP_BYTES = 50 * 1024 * 1024  # Lambda's limit for a zip uploaded directly (CreateFunction ZipFile)
_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
_MACHINES = {"x86_64": ("x86_64", "amd64"), "arm64": ("aarch64", "arm64")}

PipRunner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def handlers_dir() -> Path:
    """Installed: asyncapi_cli/handlers (package data). Source checkout: the top-level handlers/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "handlers", here.parent / "handlers"):
        if (candidate / "job_processor.py").is_file():
            return candidate
    raise FileNotFoundError("the Lambda handler sources (handlers/) are missing from this installation")


def handler_files(source: Path | None = None) -> list[Path]:
    source = source or handlers_dir()
    return sorted(p for p in source.glob("*.py") if p.name != "__init__.py")


def _zip(entries: Iterable[tuple[str, bytes, bool]]) -> LambdaCode:
    """(name, bytes, executable) entries, sorted, with fixed times and modes: same input, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, executable in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    data = buffer.getvalue()
    return LambdaCode(data, base64.b64encode(hashlib.sha256(data).digest()).decode())


def build_zip(source: Path | None = None) -> LambdaCode:
    """The recipe's package: the handlers alone (the built-in demo work)."""
    return _zip((path.name, path.read_bytes(), False) for path in handler_files(source))


def cache_dir() -> Path:
    return Path(os.environ.get("ASYNCAPI_HOME") or Path.home() / ".asyncapi") / "cache"


@dataclass
class CodeBuild:
    code: LambdaCode
    info: dict[str, Any] = field(default_factory=dict)  # what went in, and what the embedded AWS uses


def _run_pip(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def _pip_options() -> list[str]:
    return shlex.split(os.environ.get(PIP_OPTIONS_ENV, ""))


def python_version(runtime: str) -> str:
    return runtime.removeprefix("python")


def _cpython_tag(settings: StackSettings) -> str:
    return "cp" + python_version(settings.runtime).replace(".", "")


def build_code(settings: StackSettings, *, local: bool = False, pip: PipRunner | None = None) -> CodeBuild:
    """The function zip for these settings (cached by content hash), and, for the embedded AWS, the
    dependencies it should load when the Lambda wheels cannot load on this machine."""
    if settings.work is None and settings.requirements is None:
        return CodeBuild(build_zip(), {"work": BUILT_IN_WORK, "requirements": None})
    pip = pip or _run_pip
    work_path, function = _work_of(settings)
    requirements = _existing(settings.requirements, "requirements") if settings.requirements else None
    options = _pip_options()
    handlers = [(p.name, p.read_bytes(), False) for p in handler_files()]
    module = work_path.stem if work_path else None
    user: list[tuple[str, bytes, bool]] = []
    if work_path is not None:
        user = [
            (work_path.name, work_path.read_bytes(), False),
            (WORK_FILE, f"{module}:{function}".encode(), False),
        ]
    deps = (
        _vendor(requirements, settings, options, pip) if requirements and _lists_any(requirements) else None
    )
    key = _digest(
        [*(f"{n}\0".encode() + d for n, d, _ in [*handlers, *user])],
        str(deps.name if deps else ""),
    )
    cached = cache_dir() / "zips" / f"{key}.zip"
    hit = cached.is_file()
    if hit:
        data = cached.read_bytes()
        code = LambdaCode(data, base64.b64encode(hashlib.sha256(data).digest()).decode())
    else:
        code = _zip([*handlers, *user, *(_tree(deps) if deps else [])])
        _write_atomically(cached, code.zip_bytes)
    if len(code.zip_bytes) > MAX_ZIP_BYTES:
        raise InputError(
            f"the function package is {len(code.zip_bytes) / 2**20:.1f} MB; Lambda accepts a zip of at most "
            "50 MB uploaded directly: trim [processor] requirements"
        )
    info: dict[str, Any] = {
        "work": f"{module}:{function}" if module else BUILT_IN_WORK,
        "requirements": str(requirements) if requirements else None,
        "cached": hit,
        "lambda_dependencies": f"{_PLATFORMS[settings.architecture]} {_cpython_tag(settings)}"
        if deps
        else None,
    }
    if local and deps is not None:
        info["local_dependencies"] = _local_dependencies(code, deps, requirements, settings, options, pip)
    return CodeBuild(code, info)


def _existing(path_text: str, key: str) -> Path:
    path = Path(path_text)
    if not path.is_file():
        raise InputError(f"[processor] {key}: no file {path}")
    return path


def _lists_any(requirements: Path) -> bool:
    """Whether a requirements file names anything (init's starts with comments only)."""
    lines = requirements.read_text(encoding="utf-8").splitlines()
    return any(line.split("#", 1)[0].strip() for line in lines)


def _work_of(settings: StackSettings) -> tuple[Path | None, str | None]:
    if settings.work is None:
        return None, None
    file_text, _, function = settings.work.rpartition(":")
    return _existing(file_text, "work"), function


def _digest(parts: Iterable[bytes], *extra: str) -> str:
    digest = hashlib.sha256()
    for part in [*parts, *(e.encode() for e in extra)]:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    staging.write_bytes(data)
    os.replace(staging, path)


def _install(key: str, kind: str, args: list[str], pip: PipRunner, describe: Callable[[str], str]) -> Path:
    """pip install --target into cache/<kind>/<key> once (staged, then renamed into place)."""
    target = cache_dir() / kind / key
    if target.is_dir():
        return target
    staging = target.with_name(f".{key}.{uuid.uuid4().hex}")
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = pip(["install", "--target", str(staging), *args])
        if result.returncode != 0:
            raise InputError(describe((result.stdout or "") + "\n" + (result.stderr or "")))
        try:
            staging.rename(target)
        except OSError:  # another run installed it first
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _base_pip_args(requirements: Path, options: list[str]) -> list[str]:
    # --no-compile: no .pyc (they embed timestamps and are rebuilt by Lambda anyway).
    return ["--no-compile", "--disable-pip-version-check", "--no-input", "-r", str(requirements), *options]


def _vendor(requirements: Path, settings: StackSettings, options: list[str], pip: PipRunner) -> Path:
    platform_tag = _PLATFORMS[settings.architecture]
    version = python_version(settings.runtime)
    # The Lambda platform's wheels, whatever this machine is (AWS: "Working with .zip file archives for
    # Python Lambda functions", packaging dependencies with --platform/--only-binary).
    args = [
        "--platform", platform_tag, "--implementation", "cp", "--python-version", version,
        "--only-binary=:all:", *_base_pip_args(requirements, options),
    ]  # fmt: skip
    key = _digest([requirements.read_bytes()], platform_tag, version, *options)

    def describe(output: str) -> str:
        missing = re.search(r"No matching distribution found for (\S+)", output)
        if missing:
            return (
                f"[processor] requirements: no wheel of {missing[1]} for the Lambda platform "
                f"({platform_tag}, CPython {version}); choose a version that publishes one, or drop it"
            )
        return f"[processor] requirements: pip failed: {_last_error(output)}"

    return _install(key, "lambda-deps", args, pip, describe)


def _last_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["no output"])[-1]


def _tree(root: Path) -> list[tuple[str, bytes, bool]]:
    """Every installed file, relative to the zip root; no scripts (bin/) or bytecode."""
    entries = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or relative.parts[0] == "bin" or "__pycache__" in relative.parts:
            continue
        if path.suffix == ".pyc":
            continue
        entries.append((relative.as_posix(), path.read_bytes(), os.access(path, os.X_OK)))
    return entries


def _local_python(settings: StackSettings) -> tuple[int, int]:
    from .lambda_interpreters import interpreter_for

    return interpreter_for(settings.runtime).version


def lambda_wheels_load_here(deps: Path, settings: StackSettings) -> bool:
    """Pure-Python wheels load anywhere; binary ones only on Linux, same CPython version and machine."""
    tags = [
        line.split(":", 1)[1].strip()
        for wheel in deps.glob("*.dist-info/WHEEL")
        for line in wheel.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.startswith("Tag:")
    ]
    if all(tag.endswith("-none-any") for tag in tags):
        return True
    local = _local_python(settings)  # the Python the embedded AWS runs the function on
    same_python = f"{local[0]}.{local[1]}" == python_version(settings.runtime)
    same_machine = platform.machine().lower() in _MACHINES[settings.architecture]
    return sys.platform.startswith("linux") and same_python and same_machine


def _local_dependencies(
    code: LambdaCode,
    deps: Path,
    requirements: Path,
    settings: StackSettings,
    options: list[str],
    pip: PipRunner,
) -> dict[str, Any]:
    """Which dependencies the embedded AWS loads: the zip's own, or the requirements built for this host."""
    pointer = cache_dir() / "host-deps" / "by-code" / hashlib.sha256(code.zip_bytes).hexdigest()
    if lambda_wheels_load_here(deps, settings):
        pointer.unlink(missing_ok=True)
        return {"source": "lambda-wheels", "path": None}
    local = _local_python(settings)
    host = f"{local[0]}.{local[1]}-{platform.machine().lower()}"
    key = _digest([requirements.read_bytes()], host, *options)
    # For the interpreter the function runs on, when it is not this one (lambda_interpreters.interpreter_for).
    other = [] if local == sys.version_info[:2] else ["--python-version", f"{local[0]}.{local[1]}"]
    path = _install(
        key,
        "host-deps",
        [*other, *(["--only-binary=:all:"] if other else []), *_base_pip_args(requirements, options)],
        pip,
        lambda output: (
            f"[processor] requirements: pip failed for this machine's Python: {_last_error(output)}"
        ),
    )
    _write_atomically(pointer, str(path).encode())
    return {"source": f"host ({host})", "path": str(path)}


def overlay_host_dependencies(code: bytes, root: Path) -> Path | None:
    """For the embedded Lambda runtime: where the requirements were built for this host (see
    `_local_dependencies`), replace the unpacked Lambda-platform packages with links to those."""
    pointer = cache_dir() / "host-deps" / "by-code" / hashlib.sha256(code).hexdigest()
    if not pointer.is_file():
        return None
    host = Path(pointer.read_text(encoding="utf-8").strip())
    if not host.is_dir():
        return None
    for entry in sorted(host.iterdir()):
        if entry.name == "bin":
            continue
        target = root / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        target.symlink_to(entry)
    return host
