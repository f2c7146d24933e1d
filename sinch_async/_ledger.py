"""Campaign ledgers: a durable record of each ``send_many`` request's intent and outcome.

``send_many(requests, ledger=..., campaign="...")`` records, per input index, the *intent*
(before the send leaves) and the *outcome* (after). Running the same campaign again
resumes it: recorded outcomes are not sent again, requests with an intent but no outcome
(in doubt: the process died mid-send) are looked up by ``client_reference`` first.

[`SqliteLedger`][] is the embedded default (one process). ``RedisLedger``
(``sinch_async.redis``) lets many workers share a campaign, each claiming its requests.

Record format 2 (this version): a row's ``digest`` is `row_digest` (12 characters;
the row's default reference ``CAMPAIGN:INDEX`` left out, so a row's content can be
recognised at another index). Format 1 records (32 hex characters, the request hashed
with its reference: `request_digest`) written by earlier versions are still
compared exactly, so their campaigns resume with the same references.

[`StatusLedger`][] (both ledgers here) adds [`status`][StatusLedger.status], how a whole
campaign stands across workers ([`CampaignStatus`][]), and
[`set_total`][StatusLedger.set_total], its row count; a [`Ledger`][] of your own need not
implement them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import heapq
import json
import os
import socket
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Literal, Protocol, runtime_checkable

import attrs

from ._converter import dumps
from ._errors import SinchConfigError, SinchError
from ._validation import check_campaign, check_choice

__all__ = [
    "LEDGER_FORMAT",
    "STATUS_ROWS",
    "CampaignState",
    "CampaignStatus",
    "Claim",
    "ClaimLostError",
    "ClaimStatus",
    "InputMismatch",
    "Ledger",
    "LedgerBusyError",
    "LedgerError",
    "LedgerFormatError",
    "LedgerLostError",
    "LedgerRecord",
    "LedgerState",
    "RecordedSendError",
    "RowState",
    "RowStatus",
    "SqliteLedger",
    "StatusCounter",
    "StatusLedger",
    "WorkerClaims",
    "campaign_reference",
    "campaign_status",
    "check_campaign",
    "digest_matches",
    "find_input_mismatch",
    "request_digest",
    "row_digest",
]

#: The record format this version writes (see the module docstring).
LEDGER_FORMAT = 2

#: ``intent``: about to be sent (or being sent); the rest are the three outcomes.
LedgerState = Literal["intent", "ok", "unknown", "failed"]
#: What `Ledger.begin` decided for one request (see `Claim`).
ClaimStatus = Literal["new", "in_doubt", "done", "elsewhere"]


class LedgerError(SinchError):
    """The ledger could not be read or written (a locked file, Redis down or slow).

    ``send_many`` fails closed: a request whose intent could not be recorded is not sent
    (its outcome is ``pending``) and the run stops, raising this error to the consumer.
    An outcome that could not be recorded after its send leaves the request in doubt in
    the ledger: the next run looks it up by reference before sending.
    """


class LedgerBusyError(LedgerError):
    """Another process holds this [`SqliteLedger`][] file (it is single-process), or
    another program holds a lock on it. Raised at once, never waited for."""


class LedgerFormatError(LedgerError):
    """The ledger holds this campaign in a format this version cannot resume exactly.
    Nothing was sent; finish the campaign with the version that wrote it, or start a new
    campaign id."""


class LedgerLostError(LedgerError):
    """The ledger holds nothing for this campaign, but Sinch already has batches with its
    references: the ledger was lost (a Redis restart without persistence, an eviction, an
    expiry, a deleted or replaced SQLite file). Nothing was sent. Sending anyway would
    send those rows a second time; ``send_many(..., force_resend=True)`` does it
    deliberately. ``references`` are the ones found at Sinch."""

    def __init__(self, message: str, references: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.references = list(references)


class ClaimLostError(SinchError):
    """This worker no longer holds its claim on a row (its lease expired while it was
    stopped or stalled, or a renewal failed): the row was not sent by this worker. Another
    worker owns it now; ``send_many`` counts it in ``claimed_elsewhere``."""


class RecordedSendError(SinchError):
    """The failure a ledger recorded for a request in an earlier run (a resumed outcome).

    ``error_type`` is the original exception's class name, ``message`` its text.
    """

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message} (recorded in an earlier run)")
        self.error_type = error_type
        self.message = message


@attrs.frozen
class LedgerRecord:
    """One request of a campaign as the ledger holds it."""

    index: int
    reference: str
    state: LedgerState
    #: `row_digest` of the request (format 1: `request_digest`): a rerun
    #: with different input at this index is recognised
    digest: str
    #: when the intent was recorded, on Sinch's clock when known (seconds since the
    #: epoch): a batch this request created cannot be older. 0 when not kept (finished
    #: records of a compact ledger).
    intent_at: float
    batch_id: str | None = None
    error_type: str | None = None
    error: str | None = None
    done_at: float | None = None

    @property
    def final(self) -> bool:
        """``ok`` or ``failed``: never sent again (``unknown`` is looked up again)."""
        return self.state in ("ok", "failed")

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> LedgerRecord:
        return cls(**json.loads(text))


@attrs.frozen
class Claim:
    """The answer of [`Ledger.begin`][] for one request.

    * ``new``: nothing recorded (or a failure, with ``retry_failed``); the intent is now
      recorded and this caller holds the request: send it.
    * ``in_doubt``: an intent (or an ``unknown`` outcome) without a final outcome;
      ``record`` is it and this caller now holds the request: look it up by reference,
      send only if it is not found.
    * ``done``: a final outcome (``ok``, or ``failed``) is recorded in ``record``: do not
      send.
    * ``elsewhere``: another live worker holds the request (shared ledgers only);
      ``holder`` and ``lease_left`` say which and for how long, when the ledger knows.
    """

    status: ClaimStatus
    record: LedgerRecord | None = None
    #: ``elsewhere``: the worker holding the claim (its id), when the ledger knows
    holder: str | None = None
    #: ``elsewhere``: seconds left on that claim unless it is renewed, when known
    lease_left: float | None = None


@attrs.frozen
class CampaignState:
    """What a ledger holds for a campaign when a run opens it ([`Ledger.open`][])."""

    #: the campaign has been started in this ledger (records or its start mark exist)
    exists: bool
    #: the highest index with a record (-1: none)
    high_water: int = -1
    #: when the campaign was first started (Sinch's clock when known), if recorded
    started_at: float | None = None


#: How many rows without a final outcome `CampaignStatus` names.
STATUS_ROWS = 20
#: Where a row without a final outcome stands (see `RowStatus`).
RowState = Literal["claimed", "in_doubt", "not_started"]


@attrs.frozen
class RowStatus:
    """A row of a campaign without a final outcome, as [`CampaignStatus`][] names it.

    * ``claimed``: a live worker holds it (``worker``; ``lease_left`` seconds unless it
      renews the claim): being sent or looked up;
    * ``in_doubt``: an intent (``recorded="intent"``: a run died or stopped while sending
      it) or an ``unknown`` outcome (``error``), and no live claim: the next run that
      reaches it looks it up by reference before sending it;
    * ``not_started``: nothing is recorded for it (no run has reached it).
    """

    index: int
    state: RowState
    #: its client reference (None: not started)
    reference: str | None = None
    #: what the ledger holds for it: ``intent`` or ``unknown`` (None: not started)
    recorded: LedgerState | None = None
    worker: str | None = None
    lease_left: float | None = None
    #: the error of an ``unknown`` outcome
    error: str | None = None


@attrs.frozen
class WorkerClaims:
    """The claims one worker holds on a campaign ([`CampaignStatus.workers`][])."""

    worker: str
    claims: int
    #: seconds until the last of them expires unless the worker renews it (None: the
    #: ledger has no leases)
    lease_left: float | None = None


@attrs.frozen
class CampaignStatus:
    """How a campaign stands in its ledger, across every worker
    ([`StatusLedger.status`][], ``sinch-async campaign status``).

    Every row (an index below ``total``) counts in exactly one of ``sent`` and ``failed``
    (final outcomes), ``claimed`` (a live worker holds it), ``in_doubt`` (an intent or an
    ``unknown`` outcome without a live claim: the next run looks it up) and
    ``not_started``. ``total`` is the row count the last run recorded
    ([`StatusLedger.set_total`][]); while it is unknown (None) ``not_started`` is None
    and the campaign is not [`complete`][]. Records past ``total`` (a longer input of
    an earlier run) are not counted.
    """

    campaign: str
    #: anything is recorded for the campaign
    exists: bool
    total: int | None
    sent: int = 0
    failed: int = 0
    claimed: int = 0
    in_doubt: int = 0
    not_started: int | None = None
    #: who holds the ``claimed`` rows, by worker id
    workers: tuple[WorkerClaims, ...] = ()
    #: up to `STATUS_ROWS` rows without a final outcome: the claimed and in-doubt
    #: ones by index, then rows not started
    rows: tuple[RowStatus, ...] = ()

    @property
    def final(self) -> int:
        """Rows with a final outcome (``ok`` or ``failed``)."""
        return self.sent + self.failed

    @property
    def complete(self) -> bool:
        """Every row has a final outcome (``ok`` or ``failed``): nothing claimed, in doubt
        or not started, and the row count is known."""
        return (
            self.total is not None
            and self.not_started == 0
            and self.claimed == 0
            and self.in_doubt == 0
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields and ``complete``."""
        data = attrs.asdict(self)
        data["complete"] = self.complete
        return data


class StatusCounter:
    """Builds a [`CampaignStatus`][] from a campaign's rows, read in any order (for
    ledger implementations)."""

    def __init__(self, campaign: str, total: int | None) -> None:
        self.campaign = campaign
        self.total = total
        self.recorded = 0
        self._counts = {"sent": 0, "failed": 0, "claimed": 0, "in_doubt": 0}
        self._named: list[tuple[int, RowStatus]] = []  # a max-heap on the index (negated)
        self._workers: dict[str, tuple[int, float | None]] = {}

    def counts(self, index: int) -> bool:
        """Whether row ``index`` is part of the campaign (below its total, when known)."""
        return self.total is None or index < self.total

    def final(self, index: int, state: LedgerState) -> None:
        """Row ``index`` has the final outcome ``state`` (``ok`` or ``failed``)."""
        if self.counts(index):
            self.recorded += 1
            self._counts["sent" if state == "ok" else "failed"] += 1

    def finals(self, sent: int, failed: int) -> None:
        """Add ``sent`` rows ``ok`` and ``failed`` rows ``failed`` (counted by the caller,
        below the total)."""
        self.recorded += sent + failed
        self._counts["sent"] += sent
        self._counts["failed"] += failed

    def open(
        self,
        index: int,
        state: LedgerState,
        reference: str,
        *,
        holder: str | None = None,
        lease_left: float | None = None,
        error: str | None = None,
    ) -> None:
        """Row ``index`` holds ``intent`` or ``unknown``; ``holder``: the live worker
        claiming it (None: in doubt)."""
        if not self.counts(index):
            return
        self.recorded += 1
        where: RowState = "in_doubt" if holder is None else "claimed"
        self._counts[where] += 1
        if holder is not None:
            n, left = self._workers.get(holder, (0, None))
            if lease_left is not None:
                left = lease_left if left is None else max(left, lease_left)
            self._workers[holder] = (n + 1, left)
        row = RowStatus(index, where, reference, state, holder, lease_left, error)
        heapq.heappush(self._named, (-index, row))
        if len(self._named) > STATUS_ROWS:
            heapq.heappop(self._named)

    @property
    def missing(self) -> int | None:
        """Rows below the total with nothing recorded (None: total unknown)."""
        return None if self.total is None else max(self.total - self.recorded, 0)

    @property
    def room(self) -> int:
        """How many rows not started the status can still name."""
        return STATUS_ROWS - len(self._named)

    def result(self, *, exists: bool, not_started: Sequence[int] = ()) -> CampaignStatus:
        """The status; ``not_started``: the first rows with nothing recorded (up to
        `room` of them are named)."""
        named = sorted((row for _, row in self._named), key=lambda r: r.index)
        named += [RowStatus(i, "not_started") for i in sorted(not_started)[: self.room]]
        workers = tuple(WorkerClaims(w, n, left) for w, (n, left) in sorted(self._workers.items()))
        return CampaignStatus(
            campaign=self.campaign,
            exists=exists,
            total=self.total,
            sent=self._counts["sent"],
            failed=self._counts["failed"],
            claimed=self._counts["claimed"],
            in_doubt=self._counts["in_doubt"],
            not_started=self.missing,
            workers=workers,
            rows=tuple(named),
        )


@runtime_checkable
class Ledger(Protocol):
    """Where a campaign's intents and outcomes are kept. Implementations must make
    [`begin`][] atomic: two callers never both get ``new``/``in_doubt`` for one index
    while the first is alive."""

    async def open(self, campaign: str) -> CampaignState:
        """Open the ledger for a run of ``campaign`` (before anything is sent): raises
        [`LedgerError`][] when it is unusable, [`LedgerBusyError`][] when another
        process holds it, `LedgerFormatError` when the campaign was written in a
        format this version cannot resume."""
        ...

    async def start(self, campaign: str, started_at: float) -> None:
        """Mark the campaign as started (idempotent: the first mark stays)."""
        ...

    async def begin(
        self,
        campaign: str,
        index: int,
        reference: str,
        digest: str,
        *,
        retry_failed: bool = False,
        intent_at: float | None = None,
    ) -> Claim:
        """Claim request ``index``, recording its intent if nothing is recorded yet
        (``intent_at``: when, on Sinch's clock; default this host's clock)."""
        ...

    async def check(self, campaign: str, index: int) -> None:
        """Immediately before the request leaves: prove this caller still holds its
        claim, or raise `ClaimLostError` (shared ledgers; a no-op otherwise)."""
        ...

    async def finish(self, campaign: str, record: LedgerRecord) -> None:
        """Record the outcome of a request claimed with [`begin`][] and release it."""
        ...

    async def records(self, campaign: str) -> list[LedgerRecord]:
        """Every record of the campaign, by index (for reports and tests)."""
        ...

    async def with_reference(self, campaign: str, reference: str) -> list[LedgerRecord]:
        """The records of rows whose ``client_reference`` was given by the caller and is
        ``reference`` (rows with the default ``CAMPAIGN:INDEX`` reference never share
        one)."""
        ...

    async def aclose(self) -> None:
        """Release what this process holds; the ledger stays on disk/in Redis."""
        ...


@runtime_checkable
class StatusLedger(Ledger, Protocol):
    """A [`Ledger`][] that can say how a whole campaign stands (both ledgers of this
    package are). A [`Ledger`][] of your own without these two methods still runs
    campaigns; [`campaign_status`][] then raises [`SinchConfigError`][], and a run
    cannot tell whether the campaign is complete."""

    async def set_total(self, campaign: str, total: int) -> None:
        """Record how many rows the campaign has (the input's length; the last value
        recorded wins), so that rows no run has reached can be counted."""
        ...

    async def status(self, campaign: str) -> CampaignStatus:
        """How the campaign stands across every worker: see [`CampaignStatus`][].
        Read-only: it takes no claim and no lock (a [`SqliteLedger`][] is read while
        a run holds it)."""
        ...


async def campaign_status(ledger: Ledger, campaign: str) -> CampaignStatus:
    """``ledger.status(campaign)``, or [`SinchConfigError`][] when the ledger cannot
    report a campaign's status (it is not a [`StatusLedger`][])."""
    if not isinstance(ledger, StatusLedger):
        raise SinchConfigError(
            f"{type(ledger).__name__} cannot report a campaign's status: it has no "
            "status()/set_total() (see sinch_async._ledger.StatusLedger)"
        )
    return await ledger.status(campaign)


def campaign_reference(campaign: str, index: int) -> str:
    """The deterministic ``client_reference`` of input ``index`` of a campaign."""
    return f"{campaign}:{index}"


def request_digest(request: Any) -> str:
    """Format 1 digest: a hash of a request's JSON, its ``client_reference`` included."""
    return hashlib.sha256(dumps(request)).hexdigest()[:32]


def row_digest(request: Any, campaign: str, index: int) -> str:
    """Format 2 digest of row ``index``: 12 characters hashing the request's JSON, with
    the reference left out when it is the row's default ``CAMPAIGN:INDEX`` (so the same
    content is recognised at another index) and kept when the caller gave it."""
    if request.client_reference == campaign_reference(campaign, index):
        request = attrs.evolve(request, client_reference=None)
    raw = hashlib.sha256(dumps(request)).digest()[:9]
    return base64.urlsafe_b64encode(raw).decode()


def digest_matches(recorded: str, request: Any, campaign: str, index: int) -> bool:
    """Whether ``request`` (with its reference set) is what a record's digest says was
    recorded for row ``index``, in whichever format the record was written."""
    if len(recorded) == 32:
        return recorded == request_digest(request)
    return recorded == row_digest(request, campaign, index)


@attrs.frozen
class InputMismatch:
    """The first row where a rerun's input cannot be matched to the ledger (``index`` is
    0-based; ``reason`` reads after "row N: ", N counted from 1)."""

    index: int
    reason: str


def find_input_mismatch(
    records: Sequence[LedgerRecord], requests: Sequence[Any], campaign: str
) -> InputMismatch | None:
    """Check a whole input against a campaign's records before anything is sent.

    An edited row is fine (a row already ``ok`` is not sent again, a ``failed`` one is
    with ``retry_failed``). Not fine, and reported at the first mismatched row: a row
    that was in flight (in doubt) whose input changed, a row in doubt that is no longer
    in the input, and content that was sent at one row and now sits at another (rows
    inserted or removed before rows already sent). Format 1 records cannot tell a moved
    row from an edited one: any change of a row in doubt or sent is reported.
    """
    with_ref = [
        r
        if r.client_reference is not None
        else attrs.evolve(r, client_reference=campaign_reference(campaign, i))
        for i, r in enumerate(requests)
    ]
    new_digests: dict[str, list[int]] = {}
    for i, r in enumerate(with_ref):
        new_digests.setdefault(row_digest(r, campaign, i), []).append(i)
    by_index = {r.index: r for r in records}
    first: InputMismatch | None = None
    changed: list[int] = []  # sent rows whose input differs
    moved: tuple[int, int] | None = None  # (row, where its sent content is now)

    def note(index: int, reason: str) -> None:
        nonlocal first
        if first is None or index < first.index:
            first = InputMismatch(index, reason)

    for rec in records:
        i = rec.index
        if i >= len(with_ref):
            if not rec.final:
                note(i, "was in flight in an earlier run and is no longer in the input")
            continue
        if digest_matches(rec.digest, with_ref[i], campaign, i):
            continue
        if not rec.final:
            note(i, "was in flight in an earlier run and its input changed")
            continue
        if rec.state == "failed":
            continue  # an edited failed row: sent again with retry_failed
        changed.append(i)
        if len(rec.digest) == 32:
            note(i, "differs from the row sent in an earlier run")
            continue
        for j in new_digests.get(rec.digest, ()):
            other = by_index.get(j)
            if j != i and (other is None or other.digest != rec.digest):
                if moved is None or i < moved[0]:
                    moved = (i, j)
                break
    if moved is not None:
        row, now = moved
        note(
            min(changed),
            f"differs from the row sent in an earlier run (rows moved: what row {row + 1} "
            f"sent is now row {now + 1})",
        )
    return first


# --- sqlite -----------------------------------------------------------------------------

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS sinch_ledger (
    campaign   TEXT    NOT NULL,
    idx        INTEGER NOT NULL,
    reference  TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    digest     TEXT    NOT NULL,
    intent_at  REAL    NOT NULL,
    batch_id   TEXT,
    error_type TEXT,
    error      TEXT,
    done_at    REAL,
    PRIMARY KEY (campaign, idx)
) WITHOUT ROWID
""",
    """
CREATE TABLE IF NOT EXISTS sinch_ledger_campaigns (
    campaign   TEXT    PRIMARY KEY,
    format     INTEGER NOT NULL,
    started_at REAL    NOT NULL
) WITHOUT ROWID
""",
    # rows whose reference the caller gave (format 2 keeps '' for the default one)
    "CREATE INDEX IF NOT EXISTS sinch_ledger_ref ON sinch_ledger (campaign, reference) "
    "WHERE reference != ''",
    # the row count of a campaign's input, as its last run recorded it (set_total)
    """
CREATE TABLE IF NOT EXISTS sinch_ledger_totals (
    campaign   TEXT    PRIMARY KEY,
    total      INTEGER NOT NULL
) WITHOUT ROWID
""",
)
_COLUMNS = "idx, reference, state, digest, intent_at, batch_id, error_type, error, done_at"


def _row(campaign: str, row: tuple[Any, ...]) -> LedgerRecord:
    if not row[1]:  # format 2: the default reference is not stored
        row = (row[0], campaign_reference(campaign, row[0]), *row[2:])
    return LedgerRecord(*row)


def _stored_reference(campaign: str, index: int, reference: str) -> str:
    return "" if reference == campaign_reference(campaign, index) else reference


class SqliteLedger:
    """A [`Ledger`][] in one SQLite file (WAL), for a single process.

    Writes are small single-row transactions done on the event loop thread: with WAL and
    ``synchronous="NORMAL"`` (the default) a commit writes to the OS without an fsync, in
    microseconds, and survives the process being killed (``SIGKILL``); only a power loss or
    OS crash may lose the last commits (the next run looks such rows up before sending
    them). ``synchronous="FULL"`` fsyncs every commit (also power-safe, much slower). The
    file is locked (``path + ".lock"``, POSIX ``flock``) while open: a second process gets
    [`LedgerBusyError`][], as does a file another program holds a lock on (never
    waited for: the event loop is not blocked). A path that cannot be opened (a missing
    directory, no permission) is a [`LedgerError`][] before anything is sent. The lock
    file names the process holding it (``HOST:PID``) for [`status`][], which another
    process can call while a run holds the file: it reads without the lock.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    ) -> None:
        check_choice(synchronous, "synchronous", ("NORMAL", "FULL"), config=True)
        self.path = Path(path)
        self._synchronous = synchronous
        self._db: sqlite3.Connection | None = None
        self._lock: IO[bytes] | None = None

    def __repr__(self) -> str:
        state = "open" if self._db is not None else "closed"
        return f"<SqliteLedger {str(self.path)!r} {state}>"

    def _conn(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            self._lock = _flock(self._lock_path)
            # timeout=0: a lock held by another program fails at once instead of blocking
            # the event loop
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            for statement in _SCHEMA:
                db.execute(statement)
        except LedgerError:
            raise
        except sqlite3.Error as exc:
            self._unlock()
            raise _sqlite_error(self.path, "open", exc) from exc
        except OSError as exc:
            self._unlock()
            raise LedgerError(f"cannot open ledger {self.path}: {exc.strerror or exc}") from exc
        self._db = db
        return db

    def _unlock(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.truncate(0)  # no holder any more (see _lock_holder)
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    async def open(self, campaign: str) -> CampaignState:
        db = self._conn()
        _name_campaign(self._lock, campaign)
        try:
            meta = db.execute(
                "SELECT format, started_at FROM sinch_ledger_campaigns WHERE campaign = ?",
                (campaign,),
            ).fetchone()
            (high,) = db.execute(
                "SELECT MAX(idx) FROM sinch_ledger WHERE campaign = ?", (campaign,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, "open", exc) from exc
        if meta is not None and meta[0] > LEDGER_FORMAT:
            raise LedgerFormatError(
                f"ledger {self.path}: campaign {campaign!r} was written in format {meta[0]} "
                f"by a newer sinch-async; this version writes format {LEDGER_FORMAT}"
            )
        high_water = -1 if high is None else int(high)
        return CampaignState(
            exists=meta is not None or high_water >= 0,
            high_water=high_water,
            started_at=None if meta is None else float(meta[1]),
        )

    async def start(self, campaign: str, started_at: float) -> None:
        db = self._conn()
        try:
            db.execute(
                "INSERT OR IGNORE INTO sinch_ledger_campaigns (campaign, format, started_at) "
                "VALUES (?, ?, ?)",
                (campaign, LEDGER_FORMAT, started_at),
            )
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, "start", exc) from exc

    async def begin(
        self,
        campaign: str,
        index: int,
        reference: str,
        digest: str,
        *,
        retry_failed: bool = False,
        intent_at: float | None = None,
    ) -> Claim:
        db = self._conn()
        at = time.time() if intent_at is None else intent_at
        stored = _stored_reference(campaign, index, reference)
        try:
            # the common case (nothing recorded yet) in one statement
            inserted = db.execute(
                "INSERT OR IGNORE INTO sinch_ledger (campaign, idx, reference, state, digest, "
                "intent_at) VALUES (?, ?, ?, 'intent', ?, ?)",
                (campaign, index, stored, digest, at),
            ).rowcount
            if inserted == 1:
                return Claim("new")
            row = db.execute(
                f"SELECT {_COLUMNS} FROM sinch_ledger WHERE campaign = ? AND idx = ?",
                (campaign, index),
            ).fetchone()
            record = _row(campaign, row)
            if record.state == "ok" or (record.state == "failed" and not retry_failed):
                return Claim("done", record)
            if record.state != "failed":
                return Claim("in_doubt", record)
            db.execute(
                "UPDATE sinch_ledger SET reference = ?, state = 'intent', digest = ?, "
                "intent_at = ?, batch_id = NULL, error_type = NULL, error = NULL, "
                "done_at = NULL WHERE campaign = ? AND idx = ?",
                (stored, digest, at, campaign, index),
            )
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, "begin", exc) from exc
        return Claim("new")

    async def check(self, campaign: str, index: int) -> None:
        return None  # single process: the file lock is the claim

    async def finish(self, campaign: str, record: LedgerRecord) -> None:
        db = self._conn()
        try:
            db.execute(
                "UPDATE sinch_ledger SET state = ?, batch_id = ?, error_type = ?, error = ?, "
                "done_at = ?, digest = ? WHERE campaign = ? AND idx = ?",
                (
                    record.state,
                    record.batch_id,
                    record.error_type,
                    record.error,
                    record.done_at,
                    record.digest,
                    campaign,
                    record.index,
                ),
            )
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, "finish", exc) from exc

    async def records(self, campaign: str) -> list[LedgerRecord]:
        db = self._conn()
        try:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM sinch_ledger WHERE campaign = ? ORDER BY idx",
                (campaign,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, "read", exc) from exc
        return [_row(campaign, r) for r in rows]

    async def with_reference(self, campaign: str, reference: str) -> list[LedgerRecord]:
        db = self._conn()
        try:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM sinch_ledger WHERE campaign = ? AND reference = ? "
                "AND reference != '' ORDER BY idx",
                (campaign, reference),
            ).fetchall()
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, "read", exc) from exc
        return [_row(campaign, r) for r in rows]

    async def set_total(self, campaign: str, total: int) -> None:
        db = self._conn()
        try:
            db.execute(
                "INSERT INTO sinch_ledger_totals (campaign, total) VALUES (?, ?) "
                "ON CONFLICT (campaign) DO UPDATE SET total = excluded.total",
                (campaign, int(total)),
            )
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, "set_total", exc) from exc

    async def status(self, campaign: str) -> CampaignStatus:
        """How the campaign stands (see [`CampaignStatus`][]).

        Not opened by this object, the file is read through a read-only connection
        *without* its lock, so this works from another process while a run holds the
        file: rows that run has in flight (intents) are ``claimed`` by it (``HOST:PID``,
        from the lock file; no lease), and ``in_doubt`` once no live process holds the
        file. Opened by this object (the ledger of a run, asked after the run), its own
        connection is read and its intents are ``in_doubt``: what the run left in flight
        is looked up by the next run. [`LedgerError`][] when there is no ledger file."""
        own = self._db is not None
        holder = None if own else _lock_holder(self._lock_path, campaign)
        try:
            db = self._db if self._db is not None else self._reader()
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, "status", exc) from exc
        try:
            return _sqlite_status(db, campaign, holder)
        except sqlite3.Error as exc:
            raise _sqlite_error(self.path, "status", exc) from exc
        finally:
            if not own:
                db.close()

    @property
    def _lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _reader(self) -> sqlite3.Connection:
        """A read-only connection that takes no lock (status from another process)."""
        if not self.path.is_file():
            raise LedgerError(f"no ledger file {self.path}")
        uri = self.path.resolve().as_uri() + "?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=1.0)

    async def aclose(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._unlock()

    async def __aenter__(self) -> SqliteLedger:
        self._conn()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


_NO_BOUND = 2**63 - 1


def _sqlite_status(db: sqlite3.Connection, campaign: str, holder: str | None) -> CampaignStatus:
    """[`SqliteLedger.status`][] on connection ``db`` (``holder``: the live process
    holding the file, whose intents are claimed)."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "sinch_ledger" not in tables:
        return StatusCounter(campaign, None).result(exists=False)
    total = None
    if "sinch_ledger_totals" in tables:
        row = db.execute(
            "SELECT total FROM sinch_ledger_totals WHERE campaign = ?", (campaign,)
        ).fetchone()
        total = None if row is None else int(row[0])
    started = "sinch_ledger_campaigns" in tables and (
        db.execute(
            "SELECT 1 FROM sinch_ledger_campaigns WHERE campaign = ?", (campaign,)
        ).fetchone()
        is not None
    )
    bound = _NO_BOUND if total is None else total
    counter = StatusCounter(campaign, total)
    states = dict(
        db.execute(
            "SELECT state, COUNT(*) FROM sinch_ledger WHERE campaign = ? AND idx < ? "
            "GROUP BY state",
            (campaign, bound),
        ).fetchall()
    )
    counter.finals(states.get("ok", 0), states.get("failed", 0))
    for idx, reference, state, error in db.execute(
        "SELECT idx, reference, state, error FROM sinch_ledger WHERE campaign = ? "
        "AND idx < ? AND state IN ('intent', 'unknown') ORDER BY idx",
        (campaign, bound),
    ):
        counter.open(
            idx,
            state,
            reference or campaign_reference(campaign, idx),
            holder=holder if state == "intent" else None,
            error=error,
        )
    exists = started or bool(states)
    if not counter.missing or not counter.room or total is None:
        return counter.result(exists=exists)
    # the first rows with nothing recorded: usually all past the highest recorded one
    count, high = db.execute(
        "SELECT COUNT(*), MAX(idx) FROM sinch_ledger WHERE campaign = ? AND idx < ?",
        (campaign, total),
    ).fetchone()
    first = -1 if high is None else int(high)
    gaps: list[int] = []
    if count != first + 1:
        expected = 0
        for (idx,) in db.execute(
            "SELECT idx FROM sinch_ledger WHERE campaign = ? AND idx < ? ORDER BY idx",
            (campaign, total),
        ):
            gaps.extend(range(expected, min(idx, expected + counter.room - len(gaps))))
            if len(gaps) >= counter.room:
                break
            expected = idx + 1
    gaps.extend(range(first + 1, min(total, first + 1 + counter.room - len(gaps))))
    return counter.result(exists=exists, not_started=gaps)


def _sqlite_error(path: Path, what: str, exc: sqlite3.Error) -> LedgerError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return LedgerBusyError(f"ledger {path} is locked by another program ({what}): {text}")
    return LedgerError(f"ledger {path} ({what}): {text}")


def _flock(path: Path) -> IO[bytes]:
    fh = open(path, "ab")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        fh.close()
        raise LedgerBusyError(
            f"ledger {path.with_suffix('')} is in use by another process (SqliteLedger is "
            "single-process; use RedisLedger to share a campaign)"
        ) from exc
    try:  # who holds it, for status() read by another process (never relied on to lock)
        fh.truncate(0)
        fh.write(_HOLDER.encode())
        fh.flush()
    except OSError:
        pass
    return fh


#: This process, as a `SqliteLedger`'s lock file names the process holding it.
_HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def _name_campaign(lock: IO[bytes] | None, campaign: str) -> None:
    """Write the campaign a run opened under the holder in the lock file: another
    campaign's run holds none of this campaign's rows (see `_lock_holder`)."""
    if lock is None:
        return
    try:
        lock.truncate(0)
        lock.write(f"{_HOLDER}\n{campaign}".encode())
        lock.flush()
    except OSError:
        pass


def _lock_holder(path: Path, campaign: str) -> str | None:
    """The process holding a ledger file's lock for a run of ``campaign`` (``HOST:PID``,
    written by `_flock`, the campaign by `_name_campaign`; cleared on release), or
    None: none, a run of another campaign, or one that died without clearing it."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    text, newline, running = text.partition("\n")
    if newline and running != campaign:
        return None  # a run of another campaign: it holds none of these rows
    host, _, pid = text.rpartition(":")
    if not host or not pid.isdigit():
        return None
    if host == socket.gethostname():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return None  # killed: its intents are in doubt
        except OSError:
            pass  # alive (another user's process)
    return text
