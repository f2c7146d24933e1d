"""What the commands print: tables for people, JSON for scripts, messages on stderr."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .._converter import unstructure

__all__ = [
    "ACTIVE_NUMBER_COLUMNS",
    "AVAILABLE_NUMBER_COLUMNS",
    "BATCH_COLUMNS",
    "GROUP_COLUMNS",
    "INBOUND_COLUMNS",
    "REGION_COLUMNS",
    "REPORT_COLUMNS",
    "Column",
    "Output",
    "jsonable",
]

#: A table column: its title and how to read the cell from a record.
Column = tuple[str, Callable[[Any], Any]]

_ID_COLUMNS = ("id", "batch_id")  # ids stay whole and copyable
_NO_WRAP = ("phone_number",)  # so do phone numbers (short: no minimum width)


def jsonable(record: Any) -> Any:
    """A record as plain JSON data (the API's own field names)."""
    return unstructure(record)


class Output:
    """Where one invocation prints: ``console`` (stdout) and ``errors`` (stderr).

    With ``json=True`` results are single JSON documents on stdout (progress and
    messages still go to stderr), so ``sinch-async --json ... | jq`` works.
    """

    def __init__(
        self, *, json: bool = False, console: Console | None = None, errors: Console | None = None
    ) -> None:
        self.json = json
        self.console = console or Console()
        self.errors = errors or Console(stderr=True)

    # --- results --------------------------------------------------------------------------

    def data(self, data: Any) -> None:
        """Print JSON data on one line (no wrapping, no markup)."""
        print(json.dumps(data))

    def records(self, records: Iterable[Any], columns: Sequence[Column], title: str) -> None:
        """A list of records: a JSON array, or a table with ``columns``."""
        rows = list(records)
        if self.json:
            self.data([jsonable(r) for r in rows])
            return
        table = Table(title=title)
        for name, _ in columns:
            ident = name in _ID_COLUMNS
            table.add_column(
                name, no_wrap=ident or name in _NO_WRAP, min_width=26 if ident else None
            )
        for row in rows:
            table.add_row(*[_cell(get(row)) for _, get in columns])
        self.console.print(table)

    def record(self, record: Any, title: str) -> None:
        """One record: a JSON object, or a two-column table of its fields."""
        data = jsonable(record)
        if self.json:
            self.data(data)
            return
        table = Table(title=title, show_header=False)
        for key, value in data.items() if isinstance(data, dict) else []:
            shown = json.dumps(value) if isinstance(value, list | dict) else value
            table.add_row(escape(str(key)), _cell(shown))
        self.console.print(table)

    def values(self, values: Sequence[str]) -> None:
        """Plain strings: a JSON array, or one per line."""
        if self.json:
            self.data(list(values))
        else:
            for value in values:
                self.console.print(value, markup=False, highlight=False)

    def table(
        self,
        title: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        right: Sequence[str] = (),
    ) -> None:
        """A free-form table (people only; JSON callers use `data`); the ``right``
        columns are right-aligned."""
        table = Table(title=title)
        for name in columns:
            table.add_column(name, justify="right" if name in right else "left")
        for row in rows:
            table.add_row(*[_cell(v) for v in row])
        self.console.print(table)

    def summary(self, data: dict[str, Any], text: str) -> None:
        """A command's closing result: ``data`` as JSON, or ``text`` for people."""
        if self.json:
            self.data(data)
        else:
            self.console.print(text, markup=False, highlight=False)

    # --- messages (stderr) ----------------------------------------------------------------

    def info(self, message: str) -> None:
        """A plain message for people (stderr under ``--json``, else stdout)."""
        target = self.errors if self.json else self.console
        target.print(message, markup=False, highlight=False)

    @contextlib.contextmanager
    def warnings(self) -> Iterator[None]:
        """Show the warnings raised inside (e.g. a config file readable by others) as
        ``Warning: ...`` lines on stderr, each once: the one format every command uses."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                seen: set[str] = set()
                for warning in caught:
                    text = str(warning.message)
                    if text not in seen:
                        seen.add(text)
                        self.error("Warning", text)

    def error(self, label: str, message: object, hint: str | None = None) -> None:
        """``label: message`` in red on stderr, then an optional hint line."""
        self.errors.print(f"[red]{escape(label)}:[/red] {escape(str(message))}", highlight=False)
        if hint:
            self.errors.print(hint, markup=False, highlight=False)


def _cell(value: Any) -> str:
    return "" if value is None else escape(str(value))


BATCH_COLUMNS: list[Column] = [
    ("id", lambda b: b.id),
    ("type", lambda b: b.type),
    ("from", lambda b: getattr(b, "from_", None)),
    ("to", lambda b: ", ".join(getattr(b, "to", ())[:3])),
    ("created_at", lambda b: getattr(b, "created_at", None)),
    ("canceled", lambda b: getattr(b, "canceled", None)),
]
GROUP_COLUMNS: list[Column] = [
    ("id", lambda g: g.id),
    ("name", lambda g: g.name),
    ("size", lambda g: g.size),
    ("created_at", lambda g: g.created_at),
]
INBOUND_COLUMNS: list[Column] = [
    ("id", lambda m: m.id),
    ("type", lambda m: m.type),
    ("from", lambda m: getattr(m, "from_", None)),
    ("to", lambda m: getattr(m, "to", None)),
    ("received_at", lambda m: getattr(m, "received_at", None)),
    ("body", lambda m: getattr(m, "body", None)),
]
REPORT_COLUMNS: list[Column] = [
    ("batch_id", lambda r: r.batch_id),
    ("recipient", lambda r: r.recipient),
    ("status", lambda r: r.status),
    ("code", lambda r: r.code),
    ("at", lambda r: r.at),
]


def _money(money: Any) -> str | None:
    if money is None:
        return None
    if money.amount is None:  # Sinch sent a money object without an amount
        return money.currency_code or None
    return f"{money.amount} {money.currency_code}"


ACTIVE_NUMBER_COLUMNS: list[Column] = [
    ("phone_number", lambda n: n.phone_number),
    ("region", lambda n: n.region_code),
    ("type", lambda n: n.type),
    ("capability", lambda n: ", ".join(n.capability)),
    ("display_name", lambda n: n.display_name),
    ("service_plan", lambda n: n.sms_configuration and n.sms_configuration.service_plan_id),
    ("price", lambda n: _money(n.money)),
]
AVAILABLE_NUMBER_COLUMNS: list[Column] = [
    ("phone_number", lambda n: n.phone_number),
    ("region", lambda n: n.region_code),
    ("type", lambda n: n.type),
    ("capability", lambda n: ", ".join(n.capability)),
    ("setup", lambda n: _money(n.setup_price)),
    ("monthly", lambda n: _money(n.monthly_price)),
]
REGION_COLUMNS: list[Column] = [
    ("region", lambda r: r.region_code),
    ("name", lambda r: r.region_name),
    ("types", lambda r: ", ".join(r.types)),
]
