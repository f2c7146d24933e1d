"""The records of a ``send_many`` run and its invariant: every batch the server stored has
a recorded outcome (used by tests/process/test_process_send_many.py, whose child writes the
same rows, and tests/client/test_send_many_records.py, in-process)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from sinch_async import SendOutcome, TextBatchRequest

Row = dict[str, Any]


def requests(count: int) -> Iterator[TextBatchRequest]:
    for i in range(count):
        yield TextBatchRequest(to=[f"+4670{i:07d}"], body=f"bulk {i}")


def row(outcome: SendOutcome, *, unreported: bool) -> Row:
    """The same record ``proc_send_many.py`` writes."""
    return {
        "index": outcome.index,
        "client_reference": getattr(outcome.request, "client_reference", None),
        "batch_id": outcome.batch_id,
        "ok": outcome.ok,
        "unknown": outcome.unknown,
        "failed": outcome.failed,
        "unreported": unreported,
        "error": None if outcome.error is None else repr(outcome.error),
    }


def assert_every_stored_batch_recorded(
    rows: list[Row], stored: dict[str, dict[str, Any]], *, submitted: int
) -> None:
    """The invariant. ``stored`` is the fake's id → batch JSON."""
    indices = Counter(r["index"] for r in rows)
    twice = sorted(i for i, n in indices.items() if n > 1)
    assert not twice, f"indices recorded more than once: {twice[:20]}"
    assert set(indices) == set(range(submitted)), (
        f"{submitted} requests read from the input but {len(indices)} recorded; missing "
        f"{sorted(set(range(submitted)) - set(indices))[:20]}"
    )
    refs = Counter(r["client_reference"] for r in rows)
    assert None not in refs, "auto_client_reference left a request without a reference"
    assert all(n == 1 for n in refs.values()), "a client_reference was recorded twice"

    for r in rows:
        kinds = [r["ok"], r["unknown"], r["failed"]]
        assert kinds.count(True) == 1, f"outcome is not exactly one of ok/unknown/failed: {r}"
        if r["ok"]:
            assert r["batch_id"] is not None, f"ok outcome without a batch id: {r}"

    stored_by_ref: dict[str, list[str]] = {}
    for batch_id, batch in stored.items():
        assert batch["id"] == batch_id
        stored_by_ref.setdefault(batch.get("client_reference"), []).append(batch_id)

    ok_rows = [r for r in rows if r["ok"]]
    recorded_ids = {r["batch_id"] for r in ok_rows}
    unrecorded = set(stored) - recorded_ids
    assert not unrecorded, (
        f"{len(unrecorded)} stored batch(es) without a recorded outcome, e.g. "
        f"{[stored[i] for i in sorted(unrecorded)[:3]]}"
    )
    phantom = recorded_ids - set(stored)
    assert not phantom, f"recorded ok batch ids the server never stored: {sorted(phantom)[:5]}"
    assert len(recorded_ids) == len(ok_rows), "two ok outcomes carry the same batch id"

    # ... and by client_reference: each stored batch is the one its reference's record names
    by_ref = {r["client_reference"]: r for r in rows}
    for ref, ids in stored_by_ref.items():
        assert ref in by_ref, f"stored batch(es) {ids} with reference {ref!r} nobody recorded"
        assert len(ids) == 1, f"reference {ref!r} was stored {len(ids)} times: {ids}"
        record = by_ref[ref]
        assert record["ok"] and record["batch_id"] == ids[0], (
            f"stored batch {ids[0]} (reference {ref!r}) but its record says {record}"
        )
    for r in rows:
        if r["unknown"]:
            assert len(stored_by_ref.get(r["client_reference"], [])) <= 1
        if r["failed"]:
            assert r["client_reference"] not in stored_by_ref, f"failed but stored: {r}"
