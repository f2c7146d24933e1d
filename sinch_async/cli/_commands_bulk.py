"""``send-bulk``: one send per CSV row, recorded in a ledger so a rerun resumes.

Rows are numbered for people from 1, the header not counted ("row 1" is the first data
row); the ledger and the client references (``CAMPAIGN:INDEX``) use the 0-based index
(row N is index N-1).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import io
import string
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import attrs
import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .._client import SinchClient
from .._config import redact_url
from .._errors import LimiterUnavailableError, SinchConfigError, SinchError, SinchValidationError
from .._fanout import FanoutProgress, SendOutcome
from .._ledger import (
    CampaignStatus,
    Ledger,
    LedgerBusyError,
    LedgerError,
    LedgerFormatError,
    LedgerLostError,
    RecordedSendError,
    RowStatus,
    SqliteLedger,
    campaign_status,
    find_input_mismatch,
)
from ..models.batches import TextBatchRequest
from ._options import Options, get_options
from ._output import Output
from ._runner import (
    EXIT_BUSY,
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STORE_UNAVAILABLE,
    EXIT_USAGE,
    make_client,
)
from ._sync import _StopOnSignal

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "BulkInput",
    "BulkResult",
    "CsvInputError",
    "OpenRow",
    "campaign_for",
    "read_csv",
    "send_bulk",
]

#: Recipient columns, in order of preference (case-insensitive).
RECIPIENT_COLUMNS = ("to", "phone")
#: Failed (and in-doubt) rows named in the summary; ``--failed-out`` has them all. Also
#: the rows without a final outcome it names (the campaign status names as many).
LISTED_ROWS = 20
#: The leading columns of ``--failed-out``; the CSV's own columns follow.
FAILED_OUT_COLUMNS = ("row", "to", "error_type", "error")

_MISMATCH_HINT = (
    "rows were inserted or removed before rows already sent: fix the CSV or start a new "
    "campaign (--campaign)"
)
_LOST_HINT = "pass --force-resend to send every row again deliberately"


class CsvInputError(ValueError):
    """The CSV cannot be used; the message is one line naming the row or byte offset."""


@attrs.frozen
class BulkInput:
    """The CSV, read once: its header, the recipient column, and per data row (0-based
    index) its fields and the request it becomes (without a client reference)."""

    header: list[str]
    to_column: str
    rows: list[list[str]]
    requests: list[TextBatchRequest]


@attrs.frozen
class RowProblem:
    """A row that failed or is in doubt, as the summary and ``--failed-out`` show it."""

    index: int
    to: str
    error_type: str
    error: str

    @property
    def row(self) -> int:
        """The row number for people (1 = the first data row)."""
        return self.index + 1

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "to": self.to, "error_type": self.error_type, "error": self.error}


@attrs.frozen
class OpenRow:
    """A row of the campaign without a final outcome when the run ended, as the summary
    names it (from the campaign's status in the ledger, every worker included)."""

    index: int
    to: str
    #: ``claimed`` (a worker holds it), ``in_doubt`` or ``not_started``
    state: str
    worker: str | None = None
    lease_left: float | None = None
    error: str | None = None

    @property
    def row(self) -> int:
        """The row number for people (1 = the first data row)."""
        return self.index + 1

    @classmethod
    def of(cls, status: RowStatus, to: str) -> OpenRow:
        """The row a campaign status names, with its recipient."""
        return cls(status.index, to, status.state, status.worker, status.lease_left, status.error)

    def as_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "to": self.to,
            "state": self.state,
            "worker": self.worker,
            "lease_left": self.lease_left,
            "error": self.error,
        }


@attrs.define
class BulkResult:
    """How a ``send-bulk`` run ended: counts from the outcomes this run saw, and the
    campaign's status in the ledger when the run ended (``status``: every worker's rows;
    it decides `complete`)."""

    total: int
    campaign: str
    progress: FanoutProgress = attrs.field(factory=FanoutProgress)
    signal: int | None = None
    #: the shared store (ledger or rate limiter) that stopped the run, if one did
    store_error: BaseException | None = None
    #: the campaign in the ledger after the run (None: it could not be read)
    status: CampaignStatus | None = None
    #: up to `LISTED_ROWS` rows without a final outcome (from ``status``)
    open_rows: list[OpenRow] = attrs.field(factory=list)
    #: rows this run sent and Sinch stored (not resumed, not found by a lookup)
    sent: int = 0
    #: rows ok in this run's view: ``sent`` + ``reconciled`` + resumed ``ok`` rows
    ok: int = 0
    failed: int = 0
    unknown: int = 0
    pending: int = 0
    changed: int = 0
    resumed: int = 0
    reconciled: int = 0
    failed_rows: list[RowProblem] = attrs.field(factory=list)
    unknown_rows: list[RowProblem] = attrs.field(factory=list)

    def add(self, outcome: SendOutcome, to: str) -> None:
        """Count one outcome (yielded, or completed after the run stopped reading)."""
        if outcome.resumed:
            self.resumed += 1
        if outcome.reconciled:
            self.reconciled += 1
        if outcome.changed:
            self.changed += 1
        if outcome.pending:
            self.pending += 1
        elif outcome.ok:
            self.ok += 1
            if not (outcome.resumed or outcome.reconciled):
                self.sent += 1
        elif outcome.unknown:
            self.unknown += 1
            self.unknown_rows.append(_problem(outcome, to))
        else:
            self.failed += 1
            self.failed_rows.append(_problem(outcome, to))

    @property
    def claimed_elsewhere(self) -> int:
        """Rows given no outcome here because another worker held or finished them."""
        return self.progress.claimed_elsewhere

    @property
    def finished_elsewhere(self) -> int:
        """The part of `claimed_elsewhere` another worker finished."""
        return self.progress.finished_elsewhere

    @property
    def held_elsewhere(self) -> int:
        """Rows another worker still held when this run last looked."""
        return self.progress.held_elsewhere

    @property
    def taken_over(self) -> int:
        """Rows this run took over from a worker whose claim expired."""
        return self.progress.taken_over

    @property
    def not_reached(self) -> int:
        """Rows this run gave no outcome and no other worker held or finished."""
        seen = self.ok + self.failed + self.unknown + self.pending + self.claimed_elsewhere
        return max(self.total - seen, 0)

    @property
    def complete(self) -> bool:
        """Every row of the campaign has a final outcome (``ok`` or ``failed``),
        whichever worker sent it: from `status`. Without a status (the ledger could
        not be read), only when this run itself gave every row a final outcome."""
        if self.status is not None:
            return self.status.complete
        return (
            self.signal is None
            and self.store_error is None
            and not (self.unknown or self.pending or self.claimed_elsewhere or self.not_reached)
        )

    @property
    def failed_rows_in_campaign(self) -> int:
        """Failed rows of the whole campaign (every worker's), or this run's."""
        return self.status.failed if self.status is not None else self.failed

    @property
    def exit_code(self) -> int:
        """See `EXIT_CODES_HELP`."""
        if self.signal is not None:
            return EXIT_INTERRUPTED
        if self.store_error is not None or self.pending:
            return EXIT_STORE_UNAVAILABLE
        if not self.complete:
            return EXIT_INCOMPLETE
        return EXIT_FAILED if self.failed_rows_in_campaign else EXIT_OK


def _problem(outcome: SendOutcome, to: str) -> RowProblem:
    error = outcome.error
    if isinstance(error, RecordedSendError):  # recorded by an earlier run: its own words
        error_type, text = error.error_type, error.message
    else:
        error_type, text = type(error).__name__, str(error)
    return RowProblem(outcome.index, to, error_type, " ".join(text.split()))


# --- input ------------------------------------------------------------------------------


def render(template: str, row: dict[str, str]) -> str:
    """``{column}`` placeholders filled from a CSV row (``{{``/``}}`` for literal braces)."""
    return template.format_map(row)


def template_fields(template: str) -> set[str]:
    """The column names a template refers to; `typer.BadParameter` if malformed."""
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


def campaign_for(csv_path: Path, body: str, sender: str | None) -> str:
    """The default campaign id: ``bulk-`` and 16 hex digits of the SHA-256 of the CSV's
    resolved absolute path, the body template and the sender (each followed by a NUL byte).

    Not the CSV's content: fixing a row and running again resumes the same campaign.
    """
    digest = hashlib.sha256()
    for part in (str(csv_path.resolve()), body, sender or ""):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return f"bulk-{digest.hexdigest()[:16]}"


def read_csv(csv_path: Path, body: str, sender: str | None) -> BulkInput:
    """Read and check the whole CSV once, before anything is sent.

    `CsvInputError` (one line: the byte offset of a decoding error, else the row)
    for a file that is not UTF-8, a malformed CSV (strict quoting), a field over the csv
    module's field size limit, or a row without a recipient;
    `typer.BadParameter` for a header without a recipient column or without a
    column the template uses. Blank lines are skipped (they are not rows).
    """
    try:
        data = csv_path.read_bytes()
    except OSError as exc:
        raise CsvInputError(f"cannot read {csv_path}: {exc.strerror or exc}") from None
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise CsvInputError(
            f"not UTF-8: byte 0x{data[offset]:02x} at byte offset {offset} (0-based; "
            f"line {line}) is not valid UTF-8; save the file as UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise CsvInputError(f"the header (line 1): {exc}") from None
    rows: list[list[str]] = []
    line = 1  # where the row being read starts
    try:
        to_column = _recipient_column(header)
        missing = template_fields(body) - set(header)
        if missing:
            raise typer.BadParameter(
                f"the template uses {', '.join(sorted(missing))}, not columns of the CSV",
                param_hint="--body",
            )
        to_at = max(i for i, h in enumerate(header) if h == to_column)
        requests: list[TextBatchRequest] = []
        line = reader.line_num + 1
        for fields in reader:
            if fields:
                to = fields[to_at].strip() if to_at < len(fields) else ""
                if not to:
                    raise CsvInputError(
                        f"row {len(rows) + 1} (data row, 1-based; line {line}) has no value in "
                        f"the {to_column!r} column"
                    )
                values = {h: (fields[i] if i < len(fields) else "") for i, h in enumerate(header)}
                rows.append(fields)
                requests.append(TextBatchRequest(to=[to], body=render(body, values), from_=sender))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise CsvInputError(
            f"row {len(rows) + 1} (data row, 1-based; starting at line {line}): {exc}"
        ) from None
    return BulkInput(header=header, to_column=to_column, rows=rows, requests=requests)


def write_failed(path: Path, data: BulkInput, failed: Sequence[RowProblem]) -> None:
    """Every failed row as CSV: row, to, error_type, error, then the CSV's own columns (a
    column named like one of the first four is renamed ``csv_<name>``, except the
    recipient column ``to``, which is the ``to`` column)."""
    own: list[tuple[int, str]] = []
    for i, name in enumerate(data.header):
        if name == "to" and name == data.to_column:
            continue
        own.append((i, f"csv_{name}" if name in FAILED_OUT_COLUMNS else name))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*FAILED_OUT_COLUMNS, *(name for _, name in own)])
        for problem in sorted(failed, key=lambda p: p.index):
            fields = data.rows[problem.index]
            writer.writerow(
                [
                    problem.row,
                    problem.to,
                    problem.error_type,
                    problem.error,
                    *(fields[i] if i < len(fields) else "" for i, _ in own),
                ]
            )


# --- the command --------------------------------------------------------------------------


class PauseScopeChoice(StrEnum):
    """``--pause-scope``: the client's ``pause_scope``."""

    shared = "shared"
    local = "local"
    off = "off"


def send_bulk(
    ctx: typer.Context,
    csv_file: Annotated[
        Path,
        typer.Option(
            "--csv",
            exists=True,
            dir_okay=False,
            help="UTF-8 CSV with a header row: a 'to' (or 'phone') column, plus any template "
            "columns. Read and checked whole before anything is sent.",
            metavar="FILE",
        ),
    ],
    body: Annotated[
        str,
        typer.Option(
            help="Message template: {column} is replaced by the row's value ({{ and }} "
            "for literal braces).",
            metavar="TEMPLATE",
        ),
    ],
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="Sender number, short code or alphanumeric id.", metavar="SENDER"
        ),
    ] = None,
    ledger_file: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            dir_okay=False,
            help="SQLite ledger file recording every send; run again with the same file to "
            "resume. Required unless --redis is given.",
            metavar="FILE",
        ),
    ] = None,
    messages_per_second: Annotated[
        float | None,
        typer.Option(min=0.001, help="Your service plan's message rate limit.", metavar="N"),
    ] = None,
    pause_scope: Annotated[
        PauseScopeChoice | None,
        typer.Option(
            "--pause-scope",
            help="What a 429 pauses: shared (every process on the --redis budget; the "
            "default), local (this process only) or off (only the request that got it "
            "waits, then retries). A pause lasts at most 60 s (RetryPolicy.max_retry_after). "
            "Default: SINCH_PAUSE_SCOPE or the account's pause_scope, else shared.",
        ),
    ] = None,
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis",
            help="Redis URL: share the campaign between several processes (a Redis ledger "
            "instead of --ledger; each process claims its rows) and, with "
            "--messages-per-second, one rate budget for all of them (the Redis key "
            "sinch-async:mps:PLAN; Python workers get the same key from "
            "sinch_async.redis.default_limiter_key(PLAN) and share the budget).",
            metavar="URL",
        ),
    ] = None,
    lease: Annotated[
        float | None,
        typer.Option(
            "--lease",
            min=0.001,
            help="With --redis: seconds a worker's claim on a row lasts unless renewed "
            "(every third of it while the worker runs). A killed worker's rows are taken "
            "over once it runs out. Longer than your longest send, retries included. "
            "Default 30.",
            metavar="SECONDS",
        ),
    ] = None,
    takeover_wait: Annotated[
        float | None,
        typer.Option(
            "--takeover-wait",
            min=0,
            help="With --redis: at the end of the CSV, seconds to wait for rows other "
            "workers still hold; a killed worker's rows are taken over (looked up, then "
            "sent only if Sinch does not have them) once its claims run out. 0: look once, "
            "do not wait. Default: the lease plus 2 s.",
            metavar="SECONDS",
        ),
    ] = None,
    campaign: Annotated[
        str | None,
        typer.Option(
            help="Campaign id; a row's client reference is CAMPAIGN:INDEX (INDEX: its 0-based "
            "position among the data rows). Default: 'bulk-' and 16 hex digits of the SHA-256 "
            "of the CSV's resolved absolute path, the body template and the sender (not the "
            "CSV's content: fix a row and the same command resumes the same campaign). "
            "Workers on different machines that see the CSV at different paths must pass "
            "the same --campaign.",
            metavar="ID",
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Sends in flight.", metavar="N")] = 32,
    retry_failed: Annotated[
        bool,
        typer.Option(help="On a rerun, send rows that failed before again (fixed rows too)."),
    ] = False,
    failed_out: Annotated[
        Path | None,
        typer.Option(
            "--failed-out",
            dir_okay=False,
            help="Write every failed row to this CSV: row, to, error_type, error, then the "
            "CSV's own columns.",
            metavar="FILE",
        ),
    ] = None,
    force_resend: Annotated[
        bool,
        typer.Option(
            help="Send every row even when the ledger holds nothing for the campaign but "
            "Sinch already has its batches (a lost ledger): those rows are sent twice."
        ),
    ] = False,
) -> None:
    options = get_options(ctx)
    output = Output(json=options.json)
    if ledger_file is None and redis_url is None:
        raise typer.BadParameter("give --ledger FILE (or --redis URL)", param_hint="--ledger")
    if lease is not None and redis_url is None:
        raise typer.BadParameter("--lease is the lease of a --redis ledger", param_hint="--lease")
    try:
        data = read_csv(csv_file, body, from_)
    except CsvInputError as exc:
        _fail(output, EXIT_USAGE, f"Invalid CSV {csv_file}", exc)
    if failed_out is not None and not failed_out.resolve().parent.is_dir():
        _fail(output, EXIT_USAGE, "Invalid --failed-out", f"no directory {failed_out.parent}")
    campaign_id = campaign or campaign_for(csv_file, body, from_)
    scope = None if pause_scope is None else pause_scope.value
    client, limiter_redis = _make_client(options, output, messages_per_second, redis_url, scope)

    async def go() -> BulkResult:
        try:
            ledger = await _open_ledger(ledger_file, redis_url, lease=lease)
            try:
                records = await ledger.records(campaign_id)
                if records:  # a rerun: rows shifted since the last run are refused here
                    mismatch = find_input_mismatch(records, data.requests, campaign_id)
                    if mismatch is not None:
                        raise _Mismatch(
                            f"row {mismatch.index + 1}: {mismatch.reason}; {_MISMATCH_HINT}"
                        )
                async with client:
                    return await _run(
                        client,
                        data,
                        ledger=ledger,
                        campaign=campaign_id,
                        output=output,
                        concurrency=concurrency,
                        retry_failed=retry_failed,
                        force_resend=force_resend,
                        takeover_wait=takeover_wait,
                    )
            finally:
                await ledger.aclose()
                redis = getattr(ledger, "_redis", None)
                if redis is not None:
                    await redis.aclose()
        finally:
            if limiter_redis is not None:
                await limiter_redis.aclose()

    try:
        result = asyncio.run(go())
    except _Mismatch as exc:
        _fail(output, EXIT_USAGE, "Input does not match the ledger", exc)
    except LedgerLostError as exc:
        _fail(output, EXIT_USAGE, "Ledger lost (nothing was sent)", f"{exc}; {_LOST_HINT}")
    except LedgerFormatError as exc:
        _fail(output, EXIT_USAGE, "Ledger format (nothing was sent)", exc)
    except LedgerBusyError as exc:
        _fail(output, EXIT_BUSY, "Ledger busy (nothing was sent)", exc)
    except (LedgerError, LimiterUnavailableError) as exc:
        _fail(output, EXIT_STORE_UNAVAILABLE, "Store unavailable (nothing was sent)", exc)
    except (SinchValidationError, SinchConfigError) as exc:
        _fail(output, EXIT_USAGE, "Invalid input", exc)
    except SinchError as exc:  # an API or network error outside the rows' outcomes
        # (looking Sinch up before sending): the campaign is not complete, whatever
        # was sent; exit 1 would say "complete, some rows failed"
        _fail(
            output,
            EXIT_INCOMPLETE,
            "Error (the campaign is not complete)",
            f"{exc}; run the same command again",
        )
    except KeyboardInterrupt:
        _fail(
            output,
            EXIT_INTERRUPTED,
            "Interrupted",
            "stopped before finishing; run the same command to resume",
        )
    written = failed_out
    if failed_out is not None:
        try:
            write_failed(failed_out, data, result.failed_rows)
        except OSError as exc:  # the run's exit code still says how the rows went
            _line(output, "Cannot write --failed-out", exc.strerror or exc)
            written = None
    _summary(output, result, written)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


send_bulk.__doc__ = f"""Send one text message per CSV row, resumably.

Every row's intent and outcome is recorded in the ledger: run the same command again
after a crash, Ctrl-C or a fix to the CSV, and rows already sent are not sent again (an
edited row that was sent is counted as changed, not resent); rows that were in flight are
looked up first; --retry-failed sends the failed rows again. The CSV is checked against the
ledger before anything is sent. Rows are numbered from 1, the header not counted.

With --redis, any number of workers run the same command: each claims its rows. At the
end of the CSV a worker waits (--takeover-wait) for rows others still hold, and takes over
the rows of a worker that died once its claims run out (--lease). "complete" (exit 0 or 1)
means every row of the campaign has a final outcome, whichever worker sent it; otherwise
the summary names the rows that do not (up to 20) and the exit code is 4.
Run sinch-async campaign status to see how a campaign stands at any time.

{EXIT_CODES_HELP}
"""


class _Mismatch(Exception):
    """The CSV does not line up with the rows the ledger recorded."""


def _fail(output: Output, code: int, label: str, message: object) -> NoReturn:
    """`_line`, then exit ``code``."""
    _line(output, label, message)
    raise typer.Exit(code)


def _line(output: Output, label: str, message: object) -> None:
    """``label: message`` on one line of stderr (whitespace collapsed, never wrapped)."""
    text = " ".join(str(message).split())
    output.errors.print(
        f"[red]{escape(label)}:[/red] {escape(text)}", highlight=False, soft_wrap=True
    )


def _make_client(
    options: Options,
    output: Output,
    mps: float | None,
    redis_url: str | None,
    pause_scope: str | None = None,
) -> tuple[SinchClient, Redis | None]:
    """The client, made as every command makes it (``--account`` included), and the
    Redis client of its limiter: with ``--redis`` the messages-per-second budget is shared
    in Redis by every process sending for the same service plan or project. A ``--redis``
    value that is not a Redis URL exits 2 here, before anything else (the password never
    shown), for the limiter and the ledger alike. ``pause_scope`` (``--pause-scope``)
    wins over the environment and the account when given."""
    if redis_url is not None:
        _check_redis_url(output, redis_url)
    extra: dict[str, Any] = {} if pause_scope is None else {"pause_scope": pause_scope}
    if mps is None:
        return make_client(options, output, **extra), None
    client = make_client(options, output, messages_per_second=mps, **extra)
    if redis_url is None:
        return client, None
    try:
        import redis.asyncio as redis_asyncio
    except ImportError:
        _fail(output, EXIT_USAGE, "Configuration error", _REDIS_EXTRA)
    from ..redis._limiter import RedisRateLimiter, default_limiter_key

    # the key names the plan (or project): the client above was only made to resolve it;
    # a Python worker for the same plan gets the same key from default_limiter_key
    if client.sms_owner_id is None:
        _fail(output, EXIT_USAGE, "Configuration error", "send-bulk needs SMS credentials")
    key = default_limiter_key(client.sms_owner_id)
    redis = redis_asyncio.from_url(redis_url)
    limiter = RedisRateLimiter(redis, key, mps)
    return make_client(options, output, messages_per_second=limiter, **extra), redis


_REDIS_EXTRA = "--redis needs the redis extra: pip install 'sinch-async[redis]'"


def _check_redis_url(output: Output, redis_url: str) -> None:
    try:
        from redis.asyncio.connection import parse_url
    except ImportError:
        return  # said where Redis is used
    try:
        parse_url(redis_url)
    except ValueError as exc:
        message = f"--redis {redact_url(redis_url)!r} is not a Redis URL: {exc}"
        _fail(output, EXIT_USAGE, "Configuration error", message)


async def _open_ledger(
    ledger_file: Path | None, redis_url: str | None, *, lease: float | None = None
) -> Ledger:
    if redis_url is not None:
        try:
            import redis.asyncio as redis_asyncio
        except ImportError:
            raise SinchConfigError(_REDIS_EXTRA) from None
        from ..redis._ledger import RedisLedger

        redis = redis_asyncio.from_url(redis_url)
        if lease is None:
            return RedisLedger(redis)
        return RedisLedger(redis, lease=lease)
    assert ledger_file is not None
    return SqliteLedger(ledger_file)


async def _run(
    client: SinchClient,
    data: BulkInput,
    *,
    ledger: Ledger,
    campaign: str,
    output: Output,
    concurrency: int,
    retry_failed: bool,
    force_resend: bool,
    takeover_wait: float | None = None,
) -> BulkResult:
    loop = asyncio.get_running_loop()
    total = len(data.requests)
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
        data.requests,
        ledger=ledger,
        campaign=campaign,
        concurrency=concurrency,
        retry_failed=retry_failed,
        force_resend=force_resend,
        takeover_wait=takeover_wait,
        total=total,
    )
    p = sm.progress
    result = BulkResult(total=total, campaign=campaign, progress=p)

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

    def to(outcome: SendOutcome) -> str:
        return data.requests[outcome.index].to[0]

    with progress:
        bar = progress.add_task("send-bulk", total=total, sent=0, failed=0, unknown=0, rate=0.0)
        with _StopOnSignal(output.errors, on_stop=sm.stop) as stop:
            try:
                async with sm:
                    n = 0
                    async for outcome in sm:
                        result.add(outcome, to(outcome))
                        n += 1
                        if n % 50 == 0:
                            refresh(bar)
                        if stop.signal is not None:
                            break
            except (LedgerLostError, LedgerFormatError, LedgerBusyError):
                raise  # nothing was sent: a usage or busy error, not an outage
            except (LedgerError, LimiterUnavailableError) as exc:
                result.store_error = exc  # stopped: what was not attempted stays pending
            for outcome in sm.unreported_outcomes:  # finished after the loop stopped
                result.add(outcome, to(outcome))
        refresh(bar)
    result.signal = stop.signal
    if result.store_error is None:
        try:  # how the campaign stands, every worker's rows included
            result.status = await campaign_status(ledger, campaign)
        except LedgerError as exc:
            result.store_error = exc
        else:
            result.open_rows = [
                OpenRow.of(row, data.requests[row.index].to[0] if row.index < total else "")
                for row in result.status.rows[:LISTED_ROWS]
            ]
    return result


def _summary(output: Output, result: BulkResult, failed_out: Path | None) -> None:
    failed = sorted(result.failed_rows, key=lambda r: r.index)
    unknown = sorted(result.unknown_rows, key=lambda r: r.index)
    data = {
        "campaign": result.campaign,
        "rows": result.total,
        "sent": result.sent,
        "ok": result.ok,
        "failed": result.failed,
        "unknown": result.unknown,
        "resumed": result.resumed,
        "reconciled": result.reconciled,
        "claimed_elsewhere": result.claimed_elsewhere,
        "finished_elsewhere": result.finished_elsewhere,
        "held_elsewhere": result.held_elsewhere,
        "taken_over": result.taken_over,
        "not_reached": result.not_reached,
        "changed": result.changed,
        "pending": result.pending,
        "complete": result.complete,
        "failed_rows": [r.as_json() for r in failed[:LISTED_ROWS]],
        "unknown_rows": [r.as_json() for r in unknown[:LISTED_ROWS]],
        "status": None if result.status is None else status_json(result.status, rows=False),
        "open_rows": [r.as_json() for r in result.open_rows],
    }
    store = result.store_error
    status = result.status
    if output.json:
        output.data(data)
    else:
        counts = [
            (k.replace("_", " "), v)
            for k, v in data.items()
            if isinstance(v, int) and not isinstance(v, bool)
        ]
        # the id on a line of its own: in a narrow table's title it would wrap
        output.info(f"Campaign {result.campaign}")
        output.table("This run", ["outcome", "rows"], counts, right=["rows"])
        _rows_table(output, "Failed rows", failed)
        _rows_table(output, "In doubt: run again to look them up", unknown)
        if status is not None:
            show_status(output, status, result.open_rows, title="Every worker")
        if result.changed:
            output.info(f"{result.changed} row(s) changed after they were sent: not sent again")
        if result.signal is not None:
            output.info("interrupted: run the same command again to resume")
        elif store is None and not result.complete:
            output.info(incomplete_hint(status))
        if result.failed and result.signal is None:
            if failed_out is not None:
                where = f"; all of them are in {failed_out}"
            elif result.failed > LISTED_ROWS:
                where = "; --failed-out FILE writes all of them"
            else:
                where = ""
            output.info(
                f"{result.failed} row(s) failed{where}. Fix the CSV where needed and run again "
                "with --retry-failed to send them again"
            )
    if store is not None:
        _line(
            output,
            "Stopped: a shared store is unavailable",
            f"{str(store).rstrip('. ')}; {result.pending + result.not_reached} row(s) not "
            "sent yet: run again to resume",
        )


def status_json(status: CampaignStatus, *, rows: bool = True) -> dict[str, Any]:
    """A campaign status as JSON: its counts, ``complete``, its workers and (``rows``)
    the rows it names, each with its 1-based ``row`` number."""
    data = status.as_dict()
    if rows:
        for row in data["rows"]:
            row["row"] = row["index"] + 1
    else:
        del data["rows"]
    return data


def show_status(
    output: Output, status: CampaignStatus, rows: Sequence[OpenRow], *, title: str
) -> None:
    """A campaign status as tables for people: the rows per state (titled ``title``; the
    campaign id is the caller's to print, on a line of its own), the workers holding
    claims, and the rows without a final outcome it names."""
    unknown = "unknown"
    counts = [
        ("rows", unknown if status.total is None else status.total),
        ("sent", status.sent),
        ("failed", status.failed),
        ("claimed", status.claimed),
        ("in doubt", status.in_doubt),
        ("not started", unknown if status.not_started is None else status.not_started),
        ("complete", "yes" if status.complete else "no"),
    ]
    output.table(title, ["state", "rows"], counts, right=["rows"])
    if status.workers:
        output.table(
            "Claims by worker",
            ["worker", "claims", "lease left"],
            [(w.worker, w.claims, _seconds(w.lease_left)) for w in status.workers],
            right=["claims", "lease left"],
        )
    if rows:
        missing = status.total - status.final if status.total is not None else None
        more = f" (first {len(rows)} of {missing})" if missing and missing > len(rows) else ""
        with_to = any(r.to for r in rows)
        output.table(
            "Rows without a final outcome" + more,
            ["row", *(["to"] if with_to else []), "state", "worker", "lease left", "error"],
            [
                (
                    r.row,
                    *([r.to] if with_to else []),
                    r.state.replace("_", " "),
                    r.worker or "",
                    _seconds(r.lease_left),
                    r.error or "",
                )
                for r in rows
            ],
            right=["row", "lease left"],
        )


def incomplete_hint(status: CampaignStatus | None) -> str:
    """What to do about a campaign that is not complete (one line)."""
    if status is None:
        return "the campaign is not complete: run the same command again"
    parts = []
    if status.claimed:
        workers = len(status.workers)
        left = max((w.lease_left or 0.0 for w in status.workers), default=0.0)
        parts.append(
            f"{status.claimed} row(s) still held by {workers} other worker(s): complete once "
            f"they finish them; a dead worker's claims run out within {left:.0f}s, then run "
            "again to take them over"
        )
    if status.in_doubt:
        parts.append(f"{status.in_doubt} row(s) in doubt: run again to look them up")
    if status.not_started:
        parts.append(f"{status.not_started} row(s) not started: run again to send them")
    if status.total is None:
        parts.append("the campaign's row count is not recorded: run it again to completion")
    return "the campaign is not complete: " + "; ".join(parts)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"


def _rows_table(output: Output, title: str, rows: Sequence[RowProblem]) -> None:
    if not rows:
        return
    shown = rows[:LISTED_ROWS]
    more = f" (first {len(shown)} of {len(rows)})" if len(rows) > len(shown) else ""
    output.table(
        title + more,
        ["row", "to", "error"],
        [(r.row, r.to, f"{r.error_type}: {r.error}") for r in shown],
        right=["row"],
    )
