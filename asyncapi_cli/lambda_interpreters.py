"""What a local Lambda worker may import, and which Python runs it: as on Lambda's Python runtime.

On Lambda a function's `sys.path` is its deployment package (/var/task), the layers (/opt/python), the
runtime's own directory (/var/runtime, which holds the boto3 and botocore the runtime provides and
their dependencies) and the standard library; nothing else ("Lambda runtimes" and "Working with .zip
file archives: Runtime dependencies in Python", docs.aws.amazon.com/lambda/latest/dg/python-package.html).
A module the package does not bring fails the init phase with Runtime.ImportModuleError.

Locally the runtime's directory is a directory of links to the CLI's own copies of those libraries
(`RUNTIME_LIBRARIES`): the boto3/botocore versions emulated are the CLI's (`provided_versions`), not
the ones a given Lambda runtime release ships. The interpreter is the declared runtime's Python where
the machine has one (on PATH, pyenv, uv-managed), else the nearest version found, with a warning.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

# Lambda's Python runtimes provide boto3 and botocore, and so what they import: jmespath, dateutil,
# urllib3, s3transfer, six (the packages under /var/runtime besides the runtime interface client).
RUNTIME_LIBRARIES = ("boto3", "botocore", "jmespath", "dateutil", "urllib3", "s3transfer", "six")
_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Interpreter:
    executable: str
    version: tuple[int, int]

    @property
    def label(self) -> str:
        return f"Python {self.version[0]}.{self.version[1]}"


def declared_version(runtime: str) -> tuple[int, int] | None:
    """(3, 12) for "python3.12"; None for a runtime that is not Python's."""
    match = _RUNTIME.match(runtime or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _version_of(path: Path) -> tuple[int, int] | None:
    match = re.search(r"python(\d+)\.(\d+)$", path.name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _is_real(path: Path) -> bool:
    """An executable interpreter, not a pyenv shim (a script that may answer "command not found")."""
    if not (path.is_file() and os.access(path, os.X_OK)):
        return False
    if "shims" in path.parts:
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF" or sys.platform != "linux"
    except OSError:
        return False


def _candidates() -> list[Path]:
    found: list[Path] = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory:
            found.extend(Path(directory).glob("python3.*"))
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found.extend(pyenv_root.glob("versions/*/bin/python3.*"))
    uv_root = Path(
        os.environ.get("UV_PYTHON_INSTALL_DIR")
        or Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share") / "uv/python"
    )
    found.extend(uv_root.glob("cpython-*/bin/python3.*"))
    return found


@functools.lru_cache(maxsize=1)
def available() -> dict[tuple[int, int], str]:
    """Python version -> an interpreter of it on this machine (the CLI's own for its version)."""
    versions: dict[tuple[int, int], str] = {}
    for path in _candidates():
        version = _version_of(path)
        if version is not None and version not in versions and _is_real(path):
            versions[version] = str(path)
    versions[sys.version_info[:2]] = sys.executable
    return versions


def interpreter_for(runtime: str) -> Interpreter:
    """The declared runtime's Python, else the nearest version on this machine (ties: the newer)."""
    wanted = declared_version(runtime)
    versions = available()
    if wanted is None or wanted in versions:
        version = wanted if wanted is not None else sys.version_info[:2]
        return Interpreter(versions[version], version)
    nearest = min(versions, key=lambda v: (abs((v[0] - wanted[0]) * 100 + v[1] - wanted[1]), -v[1]))
    return Interpreter(versions[nearest], nearest)


def interpreter_warning(runtime: str) -> str | None:
    """One line when the declared runtime's Python is not on this machine; else None."""
    wanted = declared_version(runtime)
    chosen = interpreter_for(runtime)
    if wanted is None or chosen.version == wanted:
        return None
    return (
        f"runtime {runtime}: no Python {wanted[0]}.{wanted[1]} on this machine (PATH, pyenv, uv); "
        f"the embedded AWS runs the function on {chosen.label} ({chosen.executable})"
    )


def provided_versions() -> dict[str, str]:
    """The versions of the libraries the local runtime provides (the CLI's own)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name in ("boto3", "botocore"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def shared_root() -> Path:
    """Where the local runtime directories and their bytecode live: per user, shared by every embedded
    AWS and test (they depend only on the CLI's libraries and the interpreter, not on a stack)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "asyncapi" / "lambda-runtime"


def runtime_library_dir(root: Path) -> Path:
    """A directory holding only links to RUNTIME_LIBRARIES (the local /var/runtime), made once."""
    sources: dict[str, str] = {}
    for name in RUNTIME_LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        # A package links its directory; a single-module library (six) its file.
        source = origin.parent if origin.name == "__init__.py" else origin
        sources[source.name] = str(source)
    tag = hashlib.sha256(repr(sorted(sources.items())).encode()).hexdigest()[:12]
    target = root / f"runtime-{tag}"
    if not target.exists():
        staging = root / f"runtime-{tag}.{os.getpid()}"
        staging.mkdir(parents=True, exist_ok=True)
        for name, source in sources.items():
            link = staging / name
            if not link.exists():
                link.symlink_to(source)
        try:
            staging.rename(target)
        except OSError:  # another process made it first
            shutil.rmtree(staging, ignore_errors=True)
    return target


_compiling = threading.Lock()


def bytecode_prefix(root: Path, interpreter: Interpreter, runtime_dir: Path) -> str | None:
    """For an interpreter other than the CLI's own: a bytecode cache of the runtime's libraries compiled
    once for it (its PYTHONPYCACHEPREFIX), as Lambda's /var/runtime ships compiled. Without it each of
    its new workers compiled botocore from source (workers write no bytecode), seconds of CPU each.
    None for the CLI's interpreter: its site-packages hold its bytecode already."""
    if interpreter.executable == sys.executable:
        return None
    prefix = root / f"{runtime_dir.name}.pycache-{interpreter.version[0]}.{interpreter.version[1]}"
    marker = prefix / ".compiled"
    with _compiling:
        if not marker.exists():
            prefix.mkdir(parents=True, exist_ok=True)
            # The links themselves (compileall does not follow linked directories below its arguments):
            # the cache is keyed by the paths the workers import from.
            sources = [str(entry) for entry in sorted(runtime_dir.iterdir())]
            subprocess.run(
                [interpreter.executable, "-S", "-m", "compileall", "-q", "-j", "0", *sources],
                env={**os.environ, "PYTHONPYCACHEPREFIX": str(prefix)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=900,
                check=False,
            )
            marker.touch()
    return str(prefix)
