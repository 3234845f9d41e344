"""Rendering: rich on a terminal; plain lines without a TTY; one JSON document with --json.

Nothing printed here is ever parsed as rich markup: job errors, payloads and AWS messages are data,
and a `[/]` or `[bold]` inside them must print as written. Styles are passed beside the text.
"""

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
    "delete": "red",
}

# A piece of a line: plain text, or (text, rich style name).
Part = str | tuple[str, str]


def split_action(action: str) -> tuple[str, str]:
    """'deleted with rest_api' -> ('deleted', 'with rest_api'): the table's action column stays narrow."""
    word, _, rest = action.partition(" ")
    return word, rest


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
        action, detail = split_action(outcome.action)
        detail = f" ({detail})" if detail else ""
        style = STYLE.get(action, "white")
        self.line(
            (f"  {action:>8}", style),
            f"  {outcome.kind:<22} {outcome.name}{detail}  ",
            (f"{outcome.elapsed:.2f}s", "dim"),
        )
        for change in outcome.changes:
            from .dayops.live import brief_change

            self.line((f"            ~ {brief_change(change)}", "yellow"))

    def line(self, *parts: Part) -> None:
        """One line built from plain text and (text, style) pieces; never markup."""
        if self.json_mode:
            return
        with self._lock:
            if self.rich:
                from rich.text import Text

                text = Text()
                for part in parts:
                    if isinstance(part, tuple):
                        text.append(part[0], style=part[1])
                    else:
                        text.append(part)
                self._console.print(text, soft_wrap=True)
            else:
                plain = "".join(p[0] if isinstance(p, tuple) else p for p in parts)
                print(plain, file=self.stream)

    def info(self, text: str, style: str | None = None) -> None:
        """A line of text, printed as written (no markup), optionally in one style."""
        self.line((text, style) if style else text)

    def raw(self, text: str) -> None:
        """Text printed as is and never wrapped (a curl line, a job's JSON result)."""
        self.line(text)

    def document(self, data: dict[str, Any]) -> None:
        """The machine-readable result of a command (only printed with --json)."""
        if self.json_mode:
            print(json.dumps(data, indent=2, sort_keys=True, default=str), file=self.stream)

    def table(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        if self.json_mode:
            return
        with self._lock:
            if self.rich:
                from rich.table import Table
                from rich.text import Text

                table = Table(title=Text(title), title_justify="left")
                for column in columns:
                    table.add_column(Text(column))
                for row in rows:
                    table.add_row(*(Text(str(cell)) for cell in row))
                self._console.print(table)
            else:
                print(f"# {title}", file=self.stream)
                print("\t".join(columns), file=self.stream)
                for row in rows:
                    print("\t".join(str(cell).replace("\t", " ") for cell in row), file=self.stream)

    def plan_table(self, outcomes: list[Outcome]) -> None:
        from .dayops.live import brief_change

        rows = []
        for outcome in outcomes:
            detail = "; ".join(brief_change(c) for c in outcome.changes)
            if outcome.deletes:
                detail = f"DELETES {outcome.deletes} (up asks first; --yes confirms)"
            rows.append([outcome.action, outcome.kind, outcome.name, detail])
        self.table("Plan", ["action", "kind", "name", "changes"], rows)
