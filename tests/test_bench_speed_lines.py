"""bench/speed_lines.py: which lines of a compat module count as speed-only patch code."""

from __future__ import annotations

from pathlib import Path

from bench.speed_lines import speed_lines

MIXED = '''\
"""A module with both purposes."""

from .registry import Patch, register

SHARED = 3


def _helper(value):
    return value + SHARED


def _fast(original):
    return lambda self: _helper(1)


def _fix(original):
    return lambda self: _helper(2)


def _only_for_speed():
    return 4


register(
    Patch("m:A.fast", _fast, "speed", "why", "g1"),
    Patch("m:A.fix", _fix, "fidelity", "why", "g2"),
    Patch("m:A.other", lambda _: _only_for_speed, purpose="speed", why="why", group="g1"),
)
'''


def test_a_mixed_module_counts_speed_registrations_and_what_only_they_reach(tmp_path: Path) -> None:
    module = tmp_path / "mixed.py"
    module.write_text(MIXED)
    count, purposes = speed_lines(module)
    assert purposes == {"speed": 2, "fidelity": 1}
    # _fast and _only_for_speed (2 lines each) are speed-only; _helper and SHARED are reached from the
    # fidelity patch too, and the imports and docstring are shared: not counted. Plus the two speed
    # registrations, one line each.
    assert count == 2 + 2 + 2


def test_an_all_speed_module_counts_whole_and_a_fidelity_one_not_at_all(tmp_path: Path) -> None:
    speed = tmp_path / "speed.py"
    speed.write_text(MIXED.replace('"fidelity"', '"speed"'))
    assert speed_lines(speed) == (len(MIXED.splitlines()), {"speed": 3})
    fidelity = tmp_path / "fidelity.py"
    fidelity.write_text(MIXED.replace('"speed"', '"fidelity"'))
    assert speed_lines(fidelity)[0] == 0
