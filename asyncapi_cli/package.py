"""The Lambda deployment package: handlers/ zipped deterministically (same sources, same bytes)."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

from .engine import LambdaCode

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


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


def build_zip(source: Path | None = None) -> LambdaCode:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in handler_files(source):
            info = zipfile.ZipInfo(path.name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    return LambdaCode(data, base64.b64encode(hashlib.sha256(data).digest()).decode())
