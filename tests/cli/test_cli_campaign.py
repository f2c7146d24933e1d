"""A campaign says "complete" only when it is (issue 17, section 1), on the command line:
``send-bulk``'s ``complete`` and exit code come from the campaign's status in the ledger
(every worker's rows), ``--lease`` and ``--takeover-wait``, and ``campaign status``.

On the previous main a normal run of three workers sharing a Redis ledger exited 4
(``claimed_elsewhere`` counted as incomplete) although every row was sent
(``test_three_workers_that_finish_a_campaign_all_exit_0``), and a dead worker's claimed
rows were left unsent (``test_send_bulk_takes_over_a_dead_workers_rows``).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest

from sinch_async._ledger import (
    CampaignStatus,
    LedgerRecord,
    RowStatus,
    SqliteLedger,
    WorkerClaims,
    campaign_reference,
    row_digest,
)
from sinch_async.cli._commands_bulk import BulkResult, OpenRow, _run, _summary, read_csv
from sinch_async.cli._output import Output
from sinch_async.testing import FakeSinch
from tests.support.cli import ThreadedFake, run

BODY = "Hi {name}"


def write_rows(path: Path, n: int) -> Path:
    lines = ["to,name"] + [f"+4670{i:07d},Person {i}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def last_json(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def stored(server: ThreadedFake) -> Counter[str]:
    return Counter(
        b["client_reference"] for b in server.call(lambda: dict(server.fake.batches)).values()
    )


def status(**kw: Any) -> CampaignStatus:
    return CampaignStatus(**{"campaign": "c", "exists": True, "total": 10, **kw})


# --- complete and the exit code come from the campaign's status --------------------------------


@pytest.mark.parametrize(
    ("result", "code"),
    [
        # this run sent 2 rows; 8 went to other workers, who finished them: complete
        ({"sent": 2, "status": status(sent=10, not_started=0)}, 0),
        # ... one of theirs failed: the campaign is complete, with a failed row
        ({"sent": 2, "status": status(sent=9, failed=1, not_started=0)}, 1),
        # ... one is still held by another worker: incomplete
        ({"sent": 2, "status": status(sent=9, claimed=1, not_started=0)}, 4),
        ({"sent": 2, "status": status(sent=9, in_doubt=1, not_started=0)}, 4),
        ({"sent": 2, "status": status(sent=9, not_started=1)}, 4),
        ({"sent": 2, "status": status(total=None, sent=10)}, 4),  # row count unknown
        # the ledger could not be read at the end: this run's own view
        ({"sent": 2}, 4),
    ],
)
def test_complete_and_exit_code_come_from_the_campaign_status(
    result: dict[str, Any], code: int
) -> None:
    from sinch_async._fanout import FanoutProgress

    progress = FanoutProgress(claimed_elsewhere=8, finished_elsewhere=8)
    bulk = BulkResult(total=10, campaign="c", progress=progress, **result)
    assert bulk.exit_code == code
    assert bulk.complete is (code in (0, 1))


def test_the_summary_names_up_to_20_rows_without_an_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def in_doubt() -> CampaignStatus:
        async with SqliteLedger(tmp_path / "l.db") as led:
            for i in range(25):
                await led.begin("c", i, campaign_reference("c", i), "d" * 12)
            await led.set_total("c", 30)
        return await SqliteLedger(tmp_path / "l.db").status("c")

    st = asyncio.run(in_doubt())
    rows = [OpenRow.of(r, f"+46{r.index}") for r in st.rows]
    result = BulkResult(total=30, campaign="c", status=st, open_rows=rows)
    assert result.exit_code == 4
    _summary(Output(json=True), result, None)
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["complete"] is False and len(data["open_rows"]) == 20
    assert data["open_rows"][0] == {
        "row": 1,
        "to": "+460",
        "state": "in_doubt",
        "worker": None,
        "lease_left": None,
        "error": None,
    }
    assert data["status"]["in_doubt"] == 25 and data["status"]["not_started"] == 5
    _summary(Output(json=False), result, None)
    text = capsys.readouterr().out
    assert "Rows without a final outcome (first 20 of 30)" in text
    assert "the campaign is not complete" in text and "not started" in text


# --- campaign status -------------------------------------------------------------------------


def test_campaign_status_of_a_sqlite_ledger(served: ThreadedFake, tmp_path: Path) -> None:
    csv_file = write_rows(tmp_path / "p.csv", 6)
    ledger = tmp_path / "l.db"
    args = ["--json", "send-bulk", "--csv", str(csv_file), "--body", BODY]
    first = run(served, *args, "--ledger", str(ledger), "--campaign", "c1")
    assert first.exit_code == 0, first.output
    s = last_json(first)
    assert s["complete"] is True and s["status"]["sent"] == 6 and s["open_rows"] == []
    done = run(served, "--json", "campaign", "status", "--campaign", "c1", "--ledger", str(ledger))
    assert done.exit_code == 0, done.output
    data = last_json(done)
    assert (data["total"], data["sent"], data["complete"], data["rows"]) == (6, 6, True, [])
    # a row of it found in doubt (a run killed mid-send): not complete, named
    asyncio.run(_in_doubt(ledger, "c1", 6))
    doubt = run(served, "--json", "campaign", "status", "--campaign", "c1", "--ledger", str(ledger))
    assert doubt.exit_code == 4, doubt.output
    data = last_json(doubt)
    assert data["in_doubt"] == 1 and data["not_started"] == 3 and data["total"] == 10
    assert [(r["row"], r["state"]) for r in data["rows"]] == [
        (7, "in_doubt"),
        (8, "not_started"),
        (9, "not_started"),
        (10, "not_started"),
    ]
    table = run(served, "campaign", "status", "--campaign", "c1", "--ledger", str(ledger))
    assert table.exit_code == 4 and "Rows without a final outcome" in table.stdout
    # the id on a line of its own, the table's title short: nothing wraps at 80 columns
    lines = table.stdout.splitlines()
    assert "Campaign c1" in lines and any(line.strip() == "Every worker" for line in lines)


async def _in_doubt(path: Path, campaign: str, index: int) -> None:
    async with SqliteLedger(path) as led:
        await led.begin(campaign, index, campaign_reference(campaign, index), "d" * 12)
        await led.set_total(campaign, 10)


def test_campaign_status_usage(served: ThreadedFake, tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.db")
    for args in (
        ["campaign", "status", "--campaign", "c"],
        ["campaign", "status", "--campaign", "c", "--ledger", ledger, "--redis", "redis://x"],
    ):
        assert run(served, *args).exit_code == 2, args
    missing = run(served, "campaign", "status", "--campaign", "c", "--ledger", ledger)
    assert missing.exit_code == 3 and "no ledger file" in missing.stderr
    asyncio.run(_in_doubt(tmp_path / "l.db", "other", 0))
    unknown = run(served, "campaign", "status", "--campaign", "c", "--ledger", ledger)
    assert unknown.exit_code == 2 and "nothing recorded" in unknown.stderr
    csv_file = write_rows(tmp_path / "p.csv", 1)
    lease = run(served, "send-bulk", "--csv", str(csv_file), "--body", BODY, "--ledger", ledger)
    assert lease.exit_code == 0
    args = ["send-bulk", "--csv", str(csv_file), "--body", BODY, "--ledger", ledger]
    assert run(served, *args, "--lease", "5").exit_code == 2  # --lease is for --redis


def test_send_bulk_help_names_the_options_and_the_limiter_key(served: ThreadedFake) -> None:
    text = " ".join(run(served, "send-bulk", "--help").stdout.split())
    for words in ("--lease", "--takeover-wait", "default_limiter_key", "campaign status"):
        assert words in text, words


# --- Redis: many workers -----------------------------------------------------------------------


def _flush(redis_url: str) -> None:
    redis = pytest.importorskip("redis")
    plain = redis.Redis.from_url(redis_url)
    plain.flushdb()
    plain.close()


async def _dead_worker(redis_url: str, csv_file: Path, campaign: str, rows: list[int]) -> None:
    """A worker that claimed ``rows`` (intent recorded, 1 s lease) and was killed."""
    import redis.asyncio as redis_asyncio

    from sinch_async.redis._ledger import RedisLedger

    data = read_csv(csv_file, BODY, None)
    redis = redis_asyncio.from_url(redis_url)
    led = RedisLedger(redis, worker="dead-worker", lease=1.0)
    for i in rows:
        ref = campaign_reference(campaign, i)
        request = attrs.evolve(data.requests[i], client_reference=ref)
        claim = await led.begin(campaign, i, ref, row_digest(request, campaign, i), intent_at=0)
        assert claim.status == "new"
    assert led._renewer is not None
    led._renewer.cancel()  # killed: the claims are not renewed, nor released
    await redis.aclose()


@pytest.mark.realtime("redis clock: the dead worker's 1 s claims expire by Redis PX")
def test_send_bulk_takes_over_a_dead_workers_rows(
    served: ThreadedFake, tmp_path: Path, redis_url: str
) -> None:
    _flush(redis_url)
    csv_file = write_rows(tmp_path / "p.csv", 10)
    asyncio.run(_dead_worker(redis_url, csv_file, "c2", [3, 6]))
    # while the dead worker's claims last: not complete, and who holds what
    st = run(served, "--json", "campaign", "status", "--campaign", "c2", "--redis", redis_url)
    assert st.exit_code == 4, st.output
    held = last_json(st)
    assert held["claimed"] + held["in_doubt"] == 2 and held["total"] is None
    if held["claimed"]:
        assert held["workers"][0]["worker"] == "dead-worker"
    args = ["--json", "send-bulk", "--csv", str(csv_file), "--body", BODY, "--campaign", "c2"]
    result = run(served, *args, "--redis", redis_url, "--lease", "1")
    assert result.exit_code == 0, result.output
    s = last_json(result)
    assert s["complete"] is True and s["taken_over"] == 2 and s["held_elsewhere"] == 0
    assert s["sent"] == 10 and s["status"]["sent"] == 10
    assert set(stored(served).values()) == {1} and len(stored(served)) == 10
    done = run(served, "--json", "campaign", "status", "--campaign", "c2", "--redis", redis_url)
    assert done.exit_code == 0 and last_json(done)["sent"] == 10
    _flush(redis_url)


def test_send_bulk_names_rows_it_could_not_wait_for(
    served: ThreadedFake, tmp_path: Path, redis_url: str
) -> None:
    _flush(redis_url)
    csv_file = write_rows(tmp_path / "p.csv", 8)
    asyncio.run(_dead_worker(redis_url, csv_file, "c3", [2, 5]))
    args = ["--json", "send-bulk", "--csv", str(csv_file), "--body", BODY, "--campaign", "c3"]
    result = run(served, *args, "--redis", redis_url, "--takeover-wait", "0")
    assert result.exit_code == 4, result.output
    s = last_json(result)
    assert s["complete"] is False and s["held_elsewhere"] == 2 and s["sent"] == 6
    named = [(r["row"], r["to"], r["state"], r["worker"]) for r in s["open_rows"]]
    assert named == [
        (3, "+46700000002", "claimed", "dead-worker"),
        (6, "+46700000005", "claimed", "dead-worker"),
    ]
    assert all(0 < r["lease_left"] <= 1 for r in s["open_rows"])
    assert s["status"]["workers"] == [
        {
            "worker": "dead-worker",
            "claims": 2,
            "lease_left": s["status"]["workers"][0]["lease_left"],
        }
    ]
    _flush(redis_url)


async def test_three_workers_that_finish_a_campaign_all_exit_0(
    tmp_path: Path, redis_url: str
) -> None:
    redis_asyncio = pytest.importorskip("redis.asyncio")
    from sinch_async.redis._ledger import RedisLedger

    csv_file = write_rows(tmp_path / "p.csv", 600)
    data = read_csv(csv_file, BODY, None)
    redis = redis_asyncio.from_url(redis_url)
    await redis.flushdb()
    try:
        async with FakeSinch(latency=0.002) as fake:

            async def worker(n: int) -> BulkResult:
                ledger = RedisLedger(redis, worker=f"w{n}")
                try:
                    async with fake.client() as client:
                        return await _run(
                            client,
                            data,
                            ledger=ledger,
                            campaign="three",
                            output=Output(json=True),
                            concurrency=8,
                            retry_failed=False,
                            force_resend=False,
                        )
                finally:
                    await ledger.aclose()

            results = await asyncio.gather(*(worker(n) for n in range(3)))
            refs = Counter(b["client_reference"] for b in fake.batches.values())
    finally:
        await redis.flushdb()
        await redis.aclose()
    assert len(refs) == 600 and set(refs.values()) == {1}
    assert sum(r.claimed_elsewhere for r in results) > 0, "the workers did not share"
    # each row's fresh outcome reported by exactly one worker
    assert sum(r.sent - r.resumed for r in results) == 600
    for r in results:
        assert (r.exit_code, r.complete) == (0, True), (r.progress, r.status)
        assert r.status is not None and r.status.sent == 600


def test_worker_claims_read_back() -> None:
    """A small check of the named-row helper the summary uses."""
    row = OpenRow.of(RowStatus(4, "claimed", "c:4", "intent", "w", 2.5), "+4670")
    assert row.as_json() == {
        "row": 5,
        "to": "+4670",
        "state": "claimed",
        "worker": "w",
        "lease_left": 2.5,
        "error": None,
    }
    assert WorkerClaims("w", 1).lease_left is None
    assert LedgerRecord(0, "c:0", "ok", "d", 0.0).final
