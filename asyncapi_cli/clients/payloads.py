"""`--payload`: the job's JSON, given as text or as @file.json; with `--batch N` one object for every job
or an array of N objects. Read as data only: nothing in it is interpreted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..features import batches

DEFAULT_PAYLOAD = {"task": "process_data", "data": {"input": "test data"}}


def _read_json(text: str) -> tuple[Any, str]:
    """The JSON value of --payload and where it came from (the option, or the file it names)."""
    source = "--payload"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"payload file {path} does not exist") from None
        except OSError as exc:
            raise InputError(f"cannot read payload file {path}: {exc.strerror}") from None
        source = str(path)
    try:
        return json.loads(text), source
    except ValueError as exc:
        raise InputError(f"{source} is not valid JSON: {exc}") from None


def parse_payload(text: str | None) -> dict[str, Any]:
    if text is None:
        return dict(DEFAULT_PAYLOAD)
    payload, source = _read_json(text)
    if not isinstance(payload, dict):
        raise InputError(f"{source} must be a JSON object (the API accepts only objects)")
    return payload


def batch_jobs(text: str | None, count: int) -> list[dict[str, Any]]:
    """--payload for a batch: one JSON object for every job, or a JSON array of `count` objects."""
    if not 1 <= count <= batches.MAX_ITEMS:
        raise InputError(f"--batch must be 1 to {batches.MAX_ITEMS} jobs, got {count}")
    if text is None:
        return [dict(DEFAULT_PAYLOAD) for _ in range(count)]
    payload, source = _read_json(text)
    if isinstance(payload, dict):
        return [dict(payload) for _ in range(count)]
    if isinstance(payload, list) and all(isinstance(item, dict) for item in payload):
        if len(payload) != count:
            raise InputError(f"{source} holds {len(payload)} jobs but --batch asks for {count}")
        return payload
    raise InputError(f"{source} must be a JSON object, or with --batch an array of {count} objects")
