"""``sinch-async``: send, inspect and sync from the shell (typer + rich)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .._client import SinchClient
from .._converter import unstructure
from .._errors import SinchConfigError, SinchError, SinchValidationError
from .._sync import Sync

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(
    name="sinch-async",
    help="Sinch SMS from the shell. Credentials come from SINCH_* variables or options; "
    "run `sinch-async demo` to try everything against a local fake server.",
    no_args_is_help=True,
    add_completion=False,
)
batches_app = typer.Typer(help="Batches: list, get, cancel.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups: list, get, create, members.", no_args_is_help=True)
inbounds_app = typer.Typer(help="Inbound messages: list, sync.", no_args_is_help=True)
reports_app = typer.Typer(help="Delivery reports: get, list, sync.", no_args_is_help=True)
app.add_typer(batches_app, name="batches")
app.add_typer(groups_app, name="groups")
app.add_typer(inbounds_app, name="inbounds")
app.add_typer(reports_app, name="delivery-reports")

console = Console()
errors = Console(stderr=True)


class _Options:
    service_plan_id: str | None = None
    api_token: str | None = None
    region: str | None = None
    base_url: str | None = None
    json: bool = False


OPTS = _Options()


@app.callback()
def _global(
    service_plan_id: Annotated[
        str | None, typer.Option(envvar="SINCH_SERVICE_PLAN_ID", help="Service plan id.")
    ] = None,
    api_token: Annotated[
        str | None,
        typer.Option(envvar="SINCH_API_TOKEN", help="API token.", show_default=False),
    ] = None,
    region: Annotated[
        str | None, typer.Option(envvar="SINCH_REGION", help="us, eu, au, br or ca.")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(envvar="SINCH_BASE_URL", help="Override the API origin.")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Machine-readable JSON output.")
    ] = False,
) -> None:
    OPTS.service_plan_id = service_plan_id
    OPTS.api_token = api_token
    OPTS.region = region
    OPTS.base_url = base_url
    OPTS.json = json_output


def _client() -> SinchClient:
    if not OPTS.service_plan_id or not OPTS.api_token:
        errors.print(
            "[red]No credentials.[/red] Set SINCH_SERVICE_PLAN_ID and SINCH_API_TOKEN (and "
            "SINCH_REGION), or pass --service-plan-id/--api-token/--region.\n"
            "To try everything without an account: [bold]sinch-async demo[/bold]"
        )
        raise typer.Exit(2)
    try:
        return SinchClient(
            OPTS.service_plan_id, OPTS.api_token, region=OPTS.region, base_url=OPTS.base_url
        )
    except SinchConfigError as exc:
        errors.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def _run(job: Callable[[SinchClient], Awaitable[T]]) -> T:
    """Run one async job with a client; map SDK errors to exit codes (1 API, 2 usage)."""
    client = _client()

    async def go() -> T:
        async with client:
            return await job(client)

    try:
        return asyncio.run(go())
    except SinchValidationError as exc:
        errors.print(f"[red]Invalid input:[/red] {exc}")
        raise typer.Exit(2) from None
    except SinchError as exc:
        errors.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(1) from None


def _jsonable(obj: Any) -> Any:
    return unstructure(obj)


def _emit(
    records: Iterable[Any], columns: list[tuple[str, Callable[[Any], Any]]], title: str
) -> None:
    rows = list(records)
    if OPTS.json:
        print(json.dumps([_jsonable(r) for r in rows], indent=None))
        return
    table = Table(title=title)
    for name, _ in columns:
        ident = name in ("id", "batch_id")  # ids stay whole and copyable
        table.add_column(name, no_wrap=ident, min_width=26 if ident else None)
    for row in rows:
        table.add_row(*["" if (v := get(row)) is None else str(v) for _, get in columns])
    console.print(table)


def _emit_one(record: Any, title: str) -> None:
    data = _jsonable(record)
    if OPTS.json:
        print(json.dumps(data))
        return
    table = Table(title=title, show_header=False)
    for key, value in data.items() if isinstance(data, dict) else []:
        table.add_row(key, json.dumps(value) if isinstance(value, list | dict) else str(value))
    console.print(table)


BATCH_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("id", lambda b: b.id),
    ("type", lambda b: b.type),
    ("from", lambda b: getattr(b, "from_", None)),
    ("to", lambda b: ", ".join(getattr(b, "to", ())[:3])),
    ("created_at", lambda b: getattr(b, "created_at", None)),
    ("canceled", lambda b: getattr(b, "canceled", None)),
]


# --- send and batches --------------------------------------------------------------------


@app.command()
def send(
    to: Annotated[list[str], typer.Option("--to", help="Recipient (repeat for several).")],
    body: Annotated[str, typer.Option(help="Message text.")],
    from_: Annotated[str | None, typer.Option("--from", help="Sender.")] = None,
    client_reference: Annotated[str | None, typer.Option(help="Your reference.")] = None,
    delivery_report: Annotated[str | None, typer.Option(help="none/summary/full/...")] = None,
) -> None:
    """Send a text message."""
    batch = _run(
        lambda c: c.batches.send_text(
            to=to,
            body=body,
            from_=from_,
            client_reference=client_reference,
            delivery_report=delivery_report,
        )
    )
    _emit_one(batch, "Sent")


@batches_app.command("list")
def batches_list(
    max_items: Annotated[int, typer.Option("--max", help="At most this many.")] = 50,
    page_size: Annotated[int, typer.Option(help="Page size 1..100.")] = 50,
    client_reference: Annotated[str | None, typer.Option()] = None,
) -> None:
    """List recent batches (newest first)."""

    async def job(c: SinchClient) -> list[Any]:
        pager = c.batches.list(
            page_size=page_size, max_items=max_items, client_reference=client_reference
        )
        return [b async for b in pager]

    _emit(_run(job), BATCH_COLUMNS, "Batches")


@batches_app.command("get")
def batches_get(batch_id: str) -> None:
    """Show one batch."""
    _emit_one(_run(lambda c: c.batches.get(batch_id)), f"Batch {batch_id}")


@batches_app.command("cancel")
def batches_cancel(batch_id: str) -> None:
    """Cancel a batch."""
    _emit_one(_run(lambda c: c.batches.cancel(batch_id)), f"Canceled {batch_id}")


# --- groups ------------------------------------------------------------------------------

GROUP_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("id", lambda g: g.id),
    ("name", lambda g: g.name),
    ("size", lambda g: g.size),
    ("created_at", lambda g: g.created_at),
]


@groups_app.command("list")
def groups_list(max_items: Annotated[int, typer.Option("--max")] = 100) -> None:
    """List groups."""

    async def job(c: SinchClient) -> list[Any]:
        return [g async for g in c.groups.list(page_size=100, max_items=max_items)]

    _emit(_run(job), GROUP_COLUMNS, "Groups")


@groups_app.command("get")
def groups_get(group_id: str) -> None:
    """Show one group."""
    _emit_one(_run(lambda c: c.groups.get(group_id)), f"Group {group_id}")


@groups_app.command("create")
def groups_create(
    name: Annotated[str, typer.Option(help="Up to 20 characters.")],
    member: Annotated[list[str] | None, typer.Option(help="Member (repeatable).")] = None,
) -> None:
    """Create a group."""
    _emit_one(_run(lambda c: c.groups.create(name=name, members=member or None)), "Created")


@groups_app.command("members")
def groups_members(group_id: str) -> None:
    """List a group's members."""
    members = _run(lambda c: c.groups.members(group_id))
    if OPTS.json:
        print(json.dumps(members))
    else:
        for number in members:
            console.print(number)


# --- inbounds and delivery reports ---------------------------------------------------------

INBOUND_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("id", lambda m: m.id),
    ("type", lambda m: m.type),
    ("from", lambda m: getattr(m, "from_", None)),
    ("to", lambda m: getattr(m, "to", None)),
    ("received_at", lambda m: getattr(m, "received_at", None)),
    ("body", lambda m: getattr(m, "body", None)),
]
REPORT_COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("batch_id", lambda r: r.batch_id),
    ("recipient", lambda r: r.recipient),
    ("status", lambda r: r.status),
    ("code", lambda r: r.code),
    ("at", lambda r: r.at),
]


@inbounds_app.command("list")
def inbounds_list(
    to: Annotated[list[str] | None, typer.Option(help="Your number (repeatable).")] = None,
    max_items: Annotated[int, typer.Option("--max")] = 50,
) -> None:
    """List recent inbound messages (newest first)."""

    async def job(c: SinchClient) -> list[Any]:
        return [m async for m in c.inbounds.list(to=to, page_size=100, max_items=max_items)]

    _emit(_run(job), INBOUND_COLUMNS, "Inbounds")


@reports_app.command("get")
def reports_get(
    batch_id: str,
    type_: Annotated[str, typer.Option("--type", help="summary or full")] = "summary",
) -> None:
    """A batch's delivery report."""
    report = _run(lambda c: c.delivery_reports.get(batch_id, type=type_))  # type: ignore[arg-type]
    if OPTS.json:
        print(json.dumps(_jsonable(report)))
        return
    table = Table(title=f"Delivery report {batch_id}")
    for col in ("status", "code", "count", "recipients"):
        table.add_column(col)
    for bucket in report.statuses:
        table.add_row(
            str(bucket.status),
            str(bucket.code),
            str(bucket.count),
            ", ".join(bucket.recipients or ()),
        )
    console.print(table)


@reports_app.command("list")
def reports_list(
    status: Annotated[list[str] | None, typer.Option(help="Status (repeatable).")] = None,
    max_items: Annotated[int, typer.Option("--max")] = 50,
) -> None:
    """List recent recipient delivery reports."""

    async def job(c: SinchClient) -> list[Any]:
        pager = c.delivery_reports.list(status=status, page_size=100, max_items=max_items)
        return [r async for r in pager]

    _emit(_run(job), REPORT_COLUMNS, "Delivery reports")


def _parse_since(since: str | None) -> datetime | None:
    if since is None:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    try:
        if since[:-1].isdigit() and since[-1] in units:
            return datetime.now(UTC) - timedelta(**{units[since[-1]]: int(since[:-1])})
        value = datetime.fromisoformat(since)
    except (ValueError, OverflowError):
        errors.print(f"[red]--since:[/red] use an ISO-8601 time or 30m/12h/7d, not {since!r}")
        raise typer.Exit(2) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def run_sync(sync: Sync[Any], out: Path, *, label: str, quiet: bool = False) -> int:
    """Write each synced item as one JSON line; a live progress bar; stop cleanly on SIGINT.

    A line is written (and flushed) right after its item is handed out, and an interrupt
    is only acted on between items, so the output file and the checkpoint agree.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        handlers = True
    except (NotImplementedError, RuntimeError):  # not the main thread (tests) or Windows
        handlers = False
    written = 0
    progress = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[pages]} pages"),
        TextColumn("{task.fields[rate]:.0f}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=errors,
        disable=quiet,
    )
    started = loop.time()
    try:
        with progress, out.open("a", encoding="utf-8") as fh:
            task = progress.add_task(label, total=None, pages=0, rate=0.0)
            async for item in sync:
                fh.write(json.dumps(_jsonable(item)) + "\n")
                fh.flush()
                written += 1
                if written % 250 == 0:
                    elapsed = max(loop.time() - started, 1e-6)
                    progress.update(
                        task,
                        completed=sync.stats.already_done + written,
                        total=sync.stats.total,
                        pages=sync.stats.pages,
                        rate=written / elapsed,
                    )
                if stop.is_set():
                    await sync.commit()  # the line is written: a rerun must not repeat it
                    break
            done = sync.stats.already_done + written
            progress.update(task, completed=done, total=max(sync.stats.total or 0, done))
    finally:
        await sync.aclose()
        if handlers:
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
    if stop.is_set():
        errors.print(f"interrupted after {written} items; run again to resume")
    return written


def _sync_command(kind: str) -> Callable[..., None]:
    def command(
        out: Annotated[Path, typer.Option(help="Append items as JSON lines here.")],
        since: Annotated[
            str | None, typer.Option(help="Window start (ISO-8601 or 30m/12h/7d).")
        ] = None,
        checkpoint: Annotated[
            Path | None, typer.Option(help="Resume file (default: OUT.checkpoint.json).")
        ] = None,
        prefetch: Annotated[int, typer.Option(help="Pages fetched ahead.")] = 4,
    ) -> None:
        ckpt = checkpoint or out.with_name(out.name + ".checkpoint.json")

        async def job(c: SinchClient) -> int:
            resource = c.inbounds if kind == "inbounds" else c.delivery_reports
            sync = resource.sync(since=_parse_since(since), checkpoint=ckpt, prefetch=prefetch)
            return await run_sync(sync, out, label=kind, quiet=OPTS.json)

        written = _run(job)
        if OPTS.json:
            print(json.dumps({"written": written, "out": str(out), "checkpoint": str(ckpt)}))
        else:
            console.print(f"{written} {kind} written to {out} (checkpoint {ckpt})")

    command.__doc__ = (
        f"Copy every {kind.replace('_', ' ')} of a window to a JSON-lines file, resumably."
    )
    return command


inbounds_app.command("sync")(_sync_command("inbounds"))
reports_app.command("sync")(_sync_command("delivery_reports"))


@app.command()
def demo(
    inbounds: Annotated[int, typer.Option(help="Inbounds to seed the fake with.")] = 50_000,
    sends: Annotated[int, typer.Option(help="Batches to fan out.")] = 2_000,
    out: Annotated[Path | None, typer.Option(help="Where the synced inbounds go.")] = None,
) -> None:
    """Fan-out send and inbound sync against an in-process FakeSinch (offline).

    With credentials configured it runs read-only against your account instead: it syncs
    the last 24 h of inbounds to a file and sends nothing.
    """
    from ._demo import run_demo

    if OPTS.service_plan_id and OPTS.api_token:
        target = out or Path("inbounds.jsonl")
        console.print(f"Credentials found: syncing the last 24 h of inbounds to {target}")
        console.print("(read-only: no message is sent)")

        async def job(c: SinchClient) -> int:
            sync = c.inbounds.sync(
                since=datetime.now(UTC) - timedelta(hours=24),
                checkpoint=target.with_name(target.name + ".checkpoint.json"),
            )
            return await run_sync(sync, target, label="inbound sync")

        console.print(f"{_run(job)} inbounds written to {target}")
        return

    try:
        asyncio.run(run_demo(console, errors, inbounds=inbounds, sends=sends, out=out))
    except SinchError as exc:
        errors.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(1) from None


def main() -> None:
    """Console-script entry point."""
    app(prog_name="sinch-async")


if __name__ == "__main__":  # pragma: no cover
    main()
