"""The Lambda sources ship inside the package and zip deterministically."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from asyncapi_cli.package import build_zip, handler_files

from .conftest import REPO


def test_zip_holds_the_handlers_and_is_deterministic(tmp_path: Path) -> None:
    first = build_zip()
    copy = tmp_path / "handlers"
    copy.mkdir()
    for path in handler_files(REPO / "handlers"):
        target = copy / path.name
        target.write_bytes(path.read_bytes())
        os.utime(target, (1_000_000, 1_000_000))  # other timestamps, same bytes out
    assert build_zip(copy).zip_bytes == first.zip_bytes
    names = zipfile.ZipFile(io.BytesIO(first.zip_bytes)).namelist()
    assert names == [
        "batch_jobs.py",
        "batch_status.py",
        "dead_letter_recorder.py",
        "handler_shared.py",
        "job_errors.py",
        "job_features.py",
        "job_metrics.py",
        "job_processor.py",
        "job_push.py",
        "job_retries.py",
        "jobwork.py",
        "schedule_expressions.py",
        "schedule_runs.py",
        "schedules_api.py",
        "status_checker.py",
        "status_pusher.py",
        "webhook_http.py",
        "webhook_notifier.py",
        "webhook_outbox.py",
        "websocket_routes.py",
    ]


def test_installed_package_finds_its_handlers_from_any_directory(tmp_path: Path) -> None:
    probe = (
        "from asyncapi_cli.package import build_zip, handlers_dir; import hashlib; "
        "d = handlers_dir(); print(d.parent.name, d.name); "
        "print(hashlib.sha256(build_zip().zip_bytes).hexdigest())"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    where, digest = result.stdout.split("\n")[:2]
    # Installed (wheel): asyncapi_cli/handlers; editable checkout: the repository's handlers/.
    assert where in ("asyncapi_cli handlers", f"{REPO.name} handlers")
    import hashlib

    assert digest == hashlib.sha256(build_zip(REPO / "handlers").zip_bytes).hexdigest()
    no_bare_module = subprocess.run(
        [sys.executable, "-c", "import handlers"], cwd=tmp_path, capture_output=True
    )
    assert no_bare_module.returncode != 0  # nothing named `handlers` was installed at the top level
