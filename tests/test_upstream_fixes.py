"""The ready-to-send moto fixes in upstream/: each is named by the compat registration (or the comment beside
it) of the patch it mirrors, carries its test in moto's tests/, and applies to the moto the pins install
(the fixes are written against that release, 5.2.5)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import moto
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXES = sorted((ROOT / "upstream").glob("*.diff"))
PATCH_SOURCES = sorted((ROOT / "asyncapi_cli" / "local").rglob("*.py"))


def _files(diff: Path) -> dict[str, str]:
    """{path in moto's repository: that file's part of the diff}."""
    parts = re.split(r"(?m)^(?=--- a/)", diff.read_text())
    return {part.splitlines()[0][len("--- a/") :]: part for part in parts if part.startswith("--- a/")}


def test_every_fix_a_registration_names_exists() -> None:
    from asyncapi_cli.local.cloudwatch import patches  # noqa: F401  (importing registers)
    from asyncapi_cli.local.compat import REGISTRY

    named = {p.upstream for p in REGISTRY.patches() if p.upstream}
    assert "upstream/cloudwatch-metric-queries.diff" in named
    assert sorted(name for name in named if not (ROOT / name).is_file()) == []


@pytest.mark.parametrize("fix", FIXES, ids=[f.name for f in FIXES])
def test_each_fix_is_named_beside_its_patch_and_applies_to_the_installed_moto(fix: Path) -> None:
    assert any(fix.name in source.read_text() for source in PATCH_SOURCES), f"no patch names {fix.name}"
    files = _files(fix)
    assert any(path.startswith("tests/test_") for path in files), f"{fix.name} carries no test"
    source = "".join(part for path, part in files.items() if path.startswith("moto/"))
    site_packages = Path(moto.__file__).resolve().parents[1]
    dry_run = subprocess.run(
        ["patch", "--dry-run", "--batch", "-p1", "-d", str(site_packages)],
        input=source,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry_run.returncode == 0, f"{fix.name} does not apply to moto {moto.__version__}:\n{dry_run.stdout}"
