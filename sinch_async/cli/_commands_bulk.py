"""``send-bulk``: one send per CSV row, recorded in a ledger so a rerun resumes."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import string
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import attrs
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .._client import SinchClient
from .._errors import SinchConfigError, SinchError, SinchValidationError
from .._fanout import FanoutProgress
from .._ledger import Ledger, LedgerError, SqliteLedger
from ..models.batches import TextBatchRequest
from ._options import Options, get_options
from ._output import Output
from ._runner import CREDENTIALS_HINT, EXIT_API, EXIT_INTERRUPTED, EXIT_USAGE
from ._sync import _StopOnSignal

if TYPE_CHECKING:
    from .._client import ClientOptions

__all__ = ["BulkResult", "render", "send_bulk"]

#: Recipient columns, in order of preference (case-insensitive).
RECIPIENT_COLUMNS = ("to", "phone")


@attrs.define
class BulkResult:
    """How a ``send-bulk`` run ended."""

    total: int
    progress: FanoutProgress
    campaign: str
    signal: int | None = None

    @property
    def exit_code(self) -> int:
        if self.signal is not None:
            return EXIT_INTERRUPTED
        return EXIT_API if self.progress.failed else 0


def render(template: str, row: dict[str, str]) -> str:
    """``{column}`` placeholders filled from a CSV row (``{{``/``}}`` for literal braces)."""
    return template.format_map(row)


def template_fields(template: str) -> set[str]:
    """The column names a template refers to; :class:`typer.BadParameter` if malformed."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise typer.BadParameter(f"{exc} (write {{{{ and }}}} for literal braces)") from None
    fields = set()
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if not name or (not name.isidentifier() and not name.replace("-", "_").isidentifier()):
            raise typer.BadParameter(f"placeholder {{{name}}} is not a column name")
        if spec or conv:
            raise typer.BadParameter(f"placeholder {{{name}}}: no format specs or conversions")
        fields.add(name)
    return fields


def _recipient_column(header: list[str]) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for name in RECIPIENT_COLUMNS:
        if name in lowered:
            return lowered[name]
    raise typer.BadParameter(
        f"the CSV needs a 'to' or 'phone' column (it has: {', '.join(header)})",
        param_hint="--csv",
    )


def _campaign_for(csv_path: Path, body: str, sender: str | None) -> str:
    """Same CSV content, body and sender: the same campaign (so a rerun resumes)."""
    digest = hashlib.sha256()
    with csv_path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(b"\0" + body.encode() + b"\0" + (sender or "").encode())
    return f"bulk-{digest.hexdigest()[:16]}"


def _rows(csv_path: Path) -> Iterator[dict[str, str]]:
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            yield {k: (v or "") for k, v in row.items() if k is not None}


def _requests(
    csv_path: Path, body: str, sender: str | None, to_column: str
) -> Iterator[TextBatchRequest]:
    for row in _rows(csv_path):
        yield TextBatchRequest(to=[row[to_column].strip()], body=render(body, row), from_=sender)


def send_bulk(
    ctx: typer.Context,
    csv_file: Annotated[
        Path,
        typer.Option(
            "--csv",
            exists=True,
            dir_okay=False,
            help="CSV with a header row: a 'to' (or 'phone') column, plus any template columns.",
        ),
    ],
    body: Annotated[
        str,
        typer.Option(
            help="Message template: {column} is replaced by the row's value ({{ and }} "
            "for literal braces)."
        ),
    ],
    from_: Annotated[
        str | None, typer.Option("--from", help="Sender number, short code or alphanumeric id.")
    ] = None,
    ledger_file: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            dir_okay=False,
            help="SQLite ledger file recording every send; run again with the same file to "
            "resume. Required unless --redis is given.",
        ),
    ] = None,
    messages_per_second: Annotated[
        float | None,
        typer.Option(min=0.001, help="Your service plan's message rate limit."),
    ] = None,
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis",
            help="Redis URL: share the campaign between several processes (a Redis ledger "
            "instead of --ledger; each process claims its rows) and, with "
            "--messages-per-second, one rate budget for all of them.",
        ),
    ] = None,
    campaign: Annotated[
        str | None,
        typer.Option(
            help="Campaign id (client references are CAMPAIGN:ROW). Default: derived from "
            "the CSV content, body and sender, so the same command resumes."
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Sends in flight.")] = 32,
    retry_failed: Annotated[
        bool, typer.Option(help="On a rerun, send rows that failed before again.")
    ] = False,
) -> None:
    """Send one text message per CSV row, resumably.

    Every row's intent and outcome is recorded in the ledger: run the same command again
    after a crash or Ctrl-C and rows already sent are not sent again; rows that were in
    flight are looked up first. Exit 0 when every row was sent, 1 when some failed or are
    unknown, 2 on bad input, 130 when interrupted (run again to resume).
    """
    options = get_options(ctx)
    output = Output(json=options.json)
    if ledger_file is None and redis_url is None:
        raise typer.BadParameter("give --ledger FILE (or --redis URL)", param_hint="--ledger")
    with csv_file.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), [])
    to_column = _recipient_column(header)
    missing = template_fields(body) - set(header)
    if missing:
        raise typer.BadParameter(
            f"the template uses {', '.join(sorted(missing))}, not columns of the CSV",
            param_hint="--body",
        )
    total = sum(1 for _ in _rows(csv_file))
    campaign_id = campaign or _campaign_for(csv_file, body, from_)

    client = _make_client(options, output, messages_per_second, redis_url)

    async def go() -> BulkResult:
        ledger = await _open_ledger(ledger_file, redis_url)
        try:
            async with client:
                return await _run(
                    client,
                    _requests(csv_file, body, from_, to_column),
                    ledger=ledger,
                    campaign=campaign_id,
                    total=total,
                    output=output,
                    concurrency=concurrency,
                    retry_failed=retry_failed,
                )
        finally:
            await ledger.aclose()
            redis = getattr(ledger, "_redis", None)
            if redis is not None:
                await redis.aclose()

    try:
        result = asyncio.run(go())
    except (SinchValidationError, SinchConfigError) as exc:
        output.error("Invalid input", exc)
        raise typer.Exit(EXIT_USAGE) from None
    except LedgerError as exc:
        output.error("Ledger error (nothing more was sent)", exc, "Run again to resume.")
        raise typer.Exit(EXIT_API) from None
    except SinchError as exc:
        output.error("Error", exc)
        raise typer.Exit(EXIT_API) from None
    except KeyboardInterrupt:
        output.error("Interrupted", "stopped before finishing; run the same command to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    _summary(output, result)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _make_client(
    options: Options, output: Output, mps: float | None, redis_url: str | None = None
) -> SinchClient:
    """The client; with ``--redis`` the messages-per-second budget is shared in Redis by
    every process sending for the same service plan or project."""
    try:
        overrides: dict[str, Any] = dict(options.client_overrides())
        if mps is not None:
            overrides["messages_per_second"] = mps
        client = SinchClient.from_env(None, **cast("ClientOptions", overrides))
        if mps is not None and redis_url is not None:
            import redis.asyncio as redis_asyncio

            from ..redis._limiter import RedisRateLimiter

            key = "sinch-async:mps:" + client._engine.base.rsplit("/", 1)[-1]
            limiter = RedisRateLimiter(redis_asyncio.from_url(redis_url), key, mps)
            overrides["messages_per_second"] = limiter
            client = SinchClient.from_env(None, **cast("ClientOptions", overrides))
        return client
    except SinchConfigError as exc:
        hint = CREDENTIALS_HINT if "credential" in str(exc).lower() else None
        output.error("Configuration error", exc, hint)
        raise typer.Exit(EXIT_USAGE) from None


async def _open_ledger(ledger_file: Path | None, redis_url: str | None) -> Ledger:
    if redis_url is not None:
        try:
            import redis.asyncio as redis_asyncio
        except ImportError:
            raise SinchConfigError(
                "--redis needs the redis extra: pip install 'sinch-async[redis]'"
            ) from None
        from ..redis._ledger import RedisLedger

        return RedisLedger(redis_asyncio.from_url(redis_url))
    assert ledger_file is not None
    ledger = SqliteLedger(ledger_file)
    await ledger.records("")  # opens (and locks) the file now: a busy ledger fails early
    return ledger


async def _run(
    client: SinchClient,
    requests: Iterator[TextBatchRequest],
    *,
    ledger: Ledger,
    campaign: str,
    total: int,
    output: Output,
    concurrency: int,
    retry_failed: bool,
) -> BulkResult:
    loop = asyncio.get_running_loop()
    progress = Progress(
        TextColumn("[bold]send-bulk"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "sent {task.fields[sent]}  failed {task.fields[failed]}  "
            "unknown {task.fields[unknown]}  {task.fields[rate]:.0f}/s"
        ),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=output.errors,
        disable=output.json,
    )
    started = loop.time()
    sm = client.batches.send_many(
        requests,
        ledger=ledger,
        campaign=campaign,
        concurrency=concurrency,
        retry_failed=retry_failed,
    )
    p = sm.progress

    def refresh(bar: Any) -> None:
        rate = (p.done - p.resumed) / max(loop.time() - started, 1e-6)
        progress.update(
            bar,
            completed=p.done + p.claimed_elsewhere,
            sent=p.succeeded,
            failed=p.failed - p.unknown,
            unknown=p.unknown,
            rate=rate,
        )

    with progress:
        bar = progress.add_task("send-bulk", total=total, sent=0, failed=0, unknown=0, rate=0.0)
        with _StopOnSignal(output.errors) as stop:
            async with sm:
                n = 0
                async for _ in sm:
                    n += 1
                    if n % 50 == 0:
                        refresh(bar)
                    if stop.signal is not None:
                        break
        refresh(bar)
    return BulkResult(total=total, progress=p, campaign=campaign, signal=stop.signal)


def _summary(output: Output, result: BulkResult) -> None:
    p = result.progress
    data = {
        "campaign": result.campaign,
        "rows": result.total,
        "sent": p.succeeded,
        "failed": p.failed - p.unknown,
        "unknown": p.unknown,
        "resumed": p.resumed,
        "reconciled": p.reconciled,
        "claimed_elsewhere": p.claimed_elsewhere,
        "not_reached": max(result.total - p.submitted, 0),
        "complete": result.signal is None,
    }
    if output.json:
        output.data(data)
        return
    rows = [(k.replace("_", " "), v) for k, v in data.items() if k not in ("campaign", "complete")]
    output.table(f"Campaign {result.campaign}", ["outcome", "rows"], rows, right=["rows"])
    if result.signal is not None:
        output.info("interrupted: run the same command again to resume")
    elif p.failed:
        output.info(
            "some rows failed or are unknown; rerun to look the unknown ones up "
            "(--retry-failed to send failed rows again)"
        )
