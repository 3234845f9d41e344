"""Rendering: rich on a terminal; plain lines without a TTY; one JSON document with --json."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from .engine import Outcome

STYLE = {
    "created": "green",
    "updated": "yellow",
    "adopted": "cyan",
    "exists": "dim",
    "deleted": "red",
    "absent": "dim",
    "create": "green",
    "update": "yellow",
}


class Output:
    """One object the commands talk to; it decides how things look."""

    def __init__(self, *, json_mode: bool = False, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.json_mode = json_mode
        self.rich = not json_mode and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._lock = threading.Lock()
        self._console: Any = None
        if self.rich:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False)

    # engine.Reporter
    def started(self, key: str, kind: str, name: str) -> None:
        pass

    def finished(self, outcome: Outcome) -> None:
        if self.json_mode:
            return
        with self._lock:
            if self.rich:
                style = STYLE.get(outcome.action, "white")
                self._console.print(
                    f"  [{style}]{outcome.action:>8}[/]  {outcome.kind:<22} {outcome.name}  "
                    f"[dim]{outcome.elapsed:.2f}s[/]"
                )
                for change in outcome.changes:
                    self._console.print(f"            [yellow]~ {change}[/]")
            else:
                print(
                    f"{outcome.action}\t{outcome.kind}\t{outcome.name}\t{outcome.elapsed:.3f}s",
                    file=self.stream,
                )
                for change in outcome.changes:
                    print(f"  ~ {change}", file=self.stream)

    def info(self, text: str) -> None:
        if self.json_mode:
            return
        with self._lock:
            if self.rich:
                self._console.print(text)
            else:
                from rich.text import Text

                print(Text.from_markup(text).plain, file=self.stream)

    def raw(self, text: str) -> None:
        """Text printed as is (no markup), e.g. a job's JSON result."""
        if self.json_mode:
            return
        with self._lock:
            if self.rich:
                self._console.print(text, markup=False, highlight=False, soft_wrap=True)
            else:
                print(text, file=self.stream)

    def document(self, data: dict[str, Any]) -> None:
        """The machine-readable result of a command (only printed with --json)."""
        if self.json_mode:
            print(json.dumps(data, indent=2, sort_keys=True, default=str), file=self.stream)

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        if self.json_mode:
            return
        if self.rich:
            from rich.table import Table

            table = Table(title=title, title_justify="left")
            for column in columns:
                table.add_column(column)
            for row in rows:
                table.add_row(*row)
            self._console.print(table)
        else:
            print(f"# {title}", file=self.stream)
            print("\t".join(columns), file=self.stream)
            for row in rows:
                print("\t".join(row), file=self.stream)

    def plan_table(self, outcomes: list[Outcome]) -> None:
        rows = []
        for outcome in outcomes:
            detail = "; ".join(str(c) for c in outcome.changes)
            rows.append([outcome.action, outcome.kind, outcome.name, detail])
        self.table("Plan", ["action", "kind", "name", "changes"], rows)
