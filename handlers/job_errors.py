"""What a job's failure and output look like: errors you can act on, output you can find.

- `error_detail`: the work's exception as the job record keeps it: its type, its message and the
  innermost frame of the user's own code (the file relative to the package root, the line, the
  function), as Lambda's runtime reports an unhandled error's stack (awslambdaric bootstrap.py
  `handle_event_request`: errorType, errorMessage, stackTrace).
- `format_traceback`: the traceback Lambda's runtime would log for it ("[ERROR] Type: message" then the
  stack), logged with the job id.
- `JobOutput`: the job's own `print` lines and `logging` records, written as JSON log lines with the
  job's id, so `asyncapi logs --job` finds them (records of a batch run in threads: the id is the
  running thread's).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent  # the package root (LAMBDA_TASK_ROOT, /var/task on AWS)
# The processor's own modules: what was imported from the package before the user's work was.
_PROCESSOR_FILES: set[str] = set()


def note_processor_modules() -> None:
    """Called by the processor once its modules are imported and before the work is loaded."""
    for module in list(sys.modules.values()):
        origin = getattr(module, "__file__", None)
        if origin and Path(origin).resolve().parent == _ROOT:
            _PROCESSOR_FILES.add(str(Path(origin).resolve()))


def _dependency_dirs() -> set[str]:
    """Top-level names the package's vendored requirements installed (their *.dist-info RECORD)."""
    names: set[str] = set()
    for record in _ROOT.glob("*.dist-info/RECORD"):
        try:
            for line in record.read_text(encoding="utf-8", errors="replace").splitlines():
                first = line.split(",", 1)[0].split("/", 1)[0]
                if first and not first.endswith(".dist-info"):
                    names.add(first)
        except OSError:
            continue
    return names


def user_frame(exc: BaseException) -> dict[str, Any] | None:
    """The innermost frame of the user's own code in the exception's traceback: a file in the package
    that is neither the processor's nor a vendored dependency's. None when there is none."""
    vendored = _dependency_dirs()
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            path = Path(frame.filename).resolve()
            relative = path.relative_to(_ROOT)
        except (OSError, ValueError):
            continue  # the standard library, the runtime's boto3
        if str(path) in _PROCESSOR_FILES or relative.parts[0] in vendored:
            continue
        found = {"file": relative.as_posix(), "line": frame.lineno or 0, "function": frame.name}
    return found


def error_detail(exc: BaseException) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)[:1000]}
    frame = user_frame(exc)
    if frame is not None:
        detail.update(frame)
    return detail


def location(detail: dict[str, Any] | None) -> str | None:
    """ "work.py:12 in handle", or None without a frame of the user's code."""
    if not detail or "file" not in detail:
        return None
    return f"{detail['file']}:{detail['line']} in {detail['function']}"


def format_traceback(exc: BaseException) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"[ERROR] {type(exc).__name__}: {exc}\n" + "".join(lines)


class _TaggedStream:
    """sys.stdout / sys.stderr while jobs run: a job thread's lines become job-output log lines; any
    other thread's text passes through unchanged."""

    def __init__(self, original: Any, name: str, output: JobOutput) -> None:
        self._original = original
        self._name = name
        self._output = output

    def write(self, text: str) -> int:
        job_id = self._output.current()
        if job_id is None:
            return int(self._original.write(text) or 0)
        self._output.buffer(self._name, text)
        return len(text)

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _JobLogHandler(logging.Handler):
    """Root-logger handler: a job thread's records as job-log lines (the logger levels decide, as on
    Lambda, where the root logger is at WARNING unless the function sets it)."""

    def __init__(self, output: JobOutput) -> None:
        super().__init__()
        self._output = output

    def emit(self, record: logging.LogRecord) -> None:
        job_id = self._output.current()
        if job_id is None:
            return
        self._output.emit(job_id, record.levelname, "job-log", self.format(record), logger=record.name)


class _NotJobRecords(logging.Filter):
    """On the runtime's own root handler (Lambda's), a job thread's records are left to _JobLogHandler."""

    def __init__(self, output: JobOutput) -> None:
        super().__init__()
        self._output = output

    def filter(self, record: logging.LogRecord) -> bool:
        return self._output.current() is None


class JobOutput:
    def __init__(self, write_line: Callable[..., None], now: Callable[[], str]) -> None:
        self._write_line = write_line  # handler_shared.write_log_line
        self._now = now
        self._local = threading.local()
        self._installed = False
        self._lock = threading.Lock()

    def current(self) -> str | None:
        return getattr(self._local, "job_id", None)

    def buffer(self, stream: str, text: str) -> None:
        pending = getattr(self._local, "pending", {})
        self._local.pending = pending
        pending[stream] = pending.get(stream, "") + text
        *lines, pending[stream] = pending[stream].split("\n")
        for line in lines:
            self.emit(self.current() or "-", "INFO", "job-output", line, stream=stream)

    def emit(self, job_id: str, level: str, event: str, message: str, **fields: Any) -> None:
        line = {"level": level, "event": event, "time": self._now(), "jobId": job_id, "message": message}
        # To the real stdout: through sys.stdout it would come back here as the job's output.
        self._write_line({**line, **fields}, stream=real_stdout())

    def _install(self) -> None:
        with self._lock:
            if self._installed:
                return
            sys.stdout = _TaggedStream(sys.stdout, "stdout", self)  # type: ignore[assignment]
            sys.stderr = _TaggedStream(sys.stderr, "stderr", self)  # type: ignore[assignment]
            root = logging.getLogger()
            for handler in root.handlers:
                handler.addFilter(_NotJobRecords(self))
            root.addHandler(_JobLogHandler(self))
            self._installed = True

    @contextlib.contextmanager
    def job(self, job_id: str) -> Iterator[None]:
        """The job's output is tagged while the block runs in this thread."""
        self._install()
        self._local.job_id, self._local.pending = job_id, {}
        try:
            yield
        finally:
            for stream, rest in (self._local.pending or {}).items():
                if rest:
                    self.emit(job_id, "INFO", "job-output", rest, stream=stream)
            self._local.job_id, self._local.pending = None, {}


def real_stdout() -> Any:
    """The process's stdout under any _TaggedStream (for the processor's own log lines)."""
    stream = sys.stdout
    while isinstance(stream, _TaggedStream):
        stream = stream._original
    return stream
