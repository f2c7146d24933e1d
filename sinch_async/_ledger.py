"""Campaign ledgers: a durable record of each ``send_many`` request's intent and outcome.

``send_many(requests, ledger=..., campaign="...")`` records, per input index, the *intent*
(before the send leaves) and the *outcome* (after). Running the same campaign again
resumes it: recorded outcomes are not sent again, requests with an intent but no outcome
(in doubt: the process died mid-send) are looked up by ``client_reference`` first.

:class:`SqliteLedger` is the embedded default (one process). ``RedisLedger``
(``sinch_async.redis``) lets many workers share a campaign, each claiming its requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import IO, Any, Literal, Protocol, runtime_checkable

import attrs

from . import _constants as C
from ._converter import dumps
from ._errors import SinchConfigError, SinchError

__all__ = [
    "Claim",
    "ClaimStatus",
    "Ledger",
    "LedgerBusyError",
    "LedgerError",
    "LedgerRecord",
    "LedgerState",
    "RecordedSendError",
    "SqliteLedger",
    "campaign_reference",
    "check_campaign",
    "request_digest",
]

#: ``intent``: about to be sent (or being sent); the rest are the three outcomes.
LedgerState = Literal["intent", "ok", "unknown", "failed"]
#: What :meth:`Ledger.begin` decided for one request (see :class:`Claim`).
ClaimStatus = Literal["new", "in_doubt", "done", "elsewhere"]

_MAX_INDEX_SUFFIX = 21  # ":" and the digits of a 64-bit index
#: The longest campaign id: ``f"{campaign}:{index}"`` must fit Sinch's client_reference.
MAX_CAMPAIGN = C.MAX_CLIENT_REFERENCE - _MAX_INDEX_SUFFIX


class LedgerError(SinchError):
    """The ledger could not be read or written (a locked file, Redis down or slow).

    ``send_many`` fails closed: a request whose intent could not be recorded is not sent
    (its outcome is ``failed`` with this error) and the run stops, raising this error to
    the consumer. An outcome that could not be recorded after its send leaves the request
    in doubt in the ledger: the next run looks it up by reference before sending.
    """


class LedgerBusyError(LedgerError):
    """Another process holds this :class:`SqliteLedger` file (it is single-process)."""


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
    #: a hash of the request as sent: a rerun with different input at this index is refused
    digest: str
    #: when the intent was first recorded (seconds since the epoch); the lookup of an
    #: in-doubt request searches from a little before it
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
    """The answer of :meth:`Ledger.begin` for one request.

    * ``new``: nothing recorded (or a failure, with ``retry_failed``); the intent is now
      recorded and this caller holds the request: send it.
    * ``in_doubt``: an intent (or an ``unknown`` outcome) without a final outcome;
      ``record`` is it and this caller now holds the request: look it up by reference,
      send only if it is not found.
    * ``done``: a final outcome (``ok``, or ``failed``) is recorded in ``record``: do not
      send.
    * ``elsewhere``: another live worker holds the request (shared ledgers only).
    """

    status: ClaimStatus
    record: LedgerRecord | None = None


@runtime_checkable
class Ledger(Protocol):
    """Where a campaign's intents and outcomes are kept. Implementations must make
    :meth:`begin` atomic: two callers never both get ``new``/``in_doubt`` for one index
    while the first is alive."""

    async def begin(
        self,
        campaign: str,
        index: int,
        reference: str,
        digest: str,
        *,
        retry_failed: bool = False,
    ) -> Claim:
        """Claim request ``index``, recording its intent if nothing is recorded yet."""
        ...

    async def finish(self, campaign: str, record: LedgerRecord) -> None:
        """Record the outcome of a request claimed with :meth:`begin` and release it."""
        ...

    async def records(self, campaign: str) -> list[LedgerRecord]:
        """Every record of the campaign, by index (for reports and tests)."""
        ...

    async def aclose(self) -> None:
        """Release what this process holds; the ledger stays on disk/in Redis."""
        ...


def check_campaign(campaign: object) -> str:
    """A valid campaign id, or :class:`SinchConfigError`."""
    if not isinstance(campaign, str) or not campaign or len(campaign) > MAX_CAMPAIGN:
        raise SinchConfigError(
            f"campaign must be a non-empty string of at most {MAX_CAMPAIGN} characters"
        )
    return campaign


def campaign_reference(campaign: str, index: int) -> str:
    """The deterministic ``client_reference`` of input ``index`` of a campaign."""
    return f"{campaign}:{index}"


def request_digest(request: Any) -> str:
    """A short hash of a request's JSON (its ``client_reference`` included)."""
    return hashlib.sha256(dumps(request)).hexdigest()[:32]


# --- sqlite -----------------------------------------------------------------------------

_SCHEMA = """
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
"""
_COLUMNS = "idx, reference, state, digest, intent_at, batch_id, error_type, error, done_at"


def _row(row: tuple[Any, ...]) -> LedgerRecord:
    return LedgerRecord(*row)


class SqliteLedger:
    """A :class:`Ledger` in one SQLite file (WAL), for a single process.

    Writes are small single-row transactions done on the event loop thread: with WAL and
    ``synchronous="NORMAL"`` (the default) a commit writes to the OS without an fsync, in
    microseconds, and survives the process being killed (``SIGKILL``); only a power loss or
    OS crash may lose the last commits. ``synchronous="FULL"`` fsyncs every commit (also
    power-safe, much slower). The file is locked (``path + ".lock"``, POSIX ``flock``)
    while open: a second process gets :class:`LedgerBusyError`.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise SinchConfigError("synchronous must be 'NORMAL' or 'FULL'")
        self.path = Path(path)
        self._synchronous = synchronous
        self._db: sqlite3.Connection | None = None
        self._lock: IO[bytes] | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            self._lock = _flock(self.path.with_name(self.path.name + ".lock"))
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            self._unlock()
            raise LedgerError(f"cannot open ledger {self.path}: {exc}") from exc
        self._db = db
        return db

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    async def begin(
        self,
        campaign: str,
        index: int,
        reference: str,
        digest: str,
        *,
        retry_failed: bool = False,
    ) -> Claim:
        db = self._conn()
        try:
            # the common case (nothing recorded yet) in one statement
            inserted = db.execute(
                "INSERT OR IGNORE INTO sinch_ledger (campaign, idx, reference, state, digest, "
                "intent_at) VALUES (?, ?, ?, 'intent', ?, ?)",
                (campaign, index, reference, digest, time.time()),
            ).rowcount
            if inserted == 1:
                return Claim("new")
            row = db.execute(
                f"SELECT {_COLUMNS} FROM sinch_ledger WHERE campaign = ? AND idx = ?",
                (campaign, index),
            ).fetchone()
            record = _row(row)
            if record.state == "ok" or (record.state == "failed" and not retry_failed):
                return Claim("done", record)
            if record.state != "failed":
                return Claim("in_doubt", record)
            db.execute(
                "UPDATE sinch_ledger SET reference = ?, state = 'intent', digest = ?, "
                "intent_at = ?, batch_id = NULL, error_type = NULL, error = NULL, "
                "done_at = NULL WHERE campaign = ? AND idx = ?",
                (reference, digest, time.time(), campaign, index),
            )
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: {exc}") from exc
        return Claim("new")

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
            raise LedgerError(f"ledger {self.path}: {exc}") from exc

    async def records(self, campaign: str) -> list[LedgerRecord]:
        db = self._conn()
        try:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM sinch_ledger WHERE campaign = ? ORDER BY idx",
                (campaign,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: {exc}") from exc
        return [_row(r) for r in rows]

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
    return fh
