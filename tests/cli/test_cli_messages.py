"""``sinch-async messages list``: batches and inbounds merged newest first (issue #12), through
the command against a FakeSinch in a thread (the client side is tests/client/test_messages.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.support.cli import ThreadedFake, run


def test_cli_messages_list(served: ThreadedFake) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    sent = served.call(served.fake.seed_batches, 5, start=start, spacing=timedelta(minutes=2))
    served.call(
        served.fake.seed_inbounds,
        5,
        start=start + timedelta(minutes=1),
        spacing=timedelta(minutes=2),
        to="12345",
    )
    both = run(served, "--json", "messages", "list", "--since", "3h")
    assert both.exit_code == 0, both.output
    rows = json.loads(both.stdout)
    assert [r["direction"] for r in rows] == ["mo", "mt"] * 5
    assert rows == sorted(rows, key=lambda r: r["at"], reverse=True)
    assert rows[0]["record"]["to"] == "12345" and rows[1]["record"]["type"] == "mt_text"

    mo = json.loads(
        run(served, "--json", "messages", "list", "--direction", "mo", "--to", "12345").stdout
    )
    assert [r["direction"] for r in mo] == ["mo"] * 5
    capped = json.loads(run(served, "--json", "messages", "list", "--max-items", "3").stdout)
    assert len(capped) == 3
    mt = run(served, "messages", "list", "--direction", "mt", "--from", "+15550000000")
    assert mt.exit_code == 0, mt.output
    assert all(b["id"] in mt.stdout for b in sent) and rows[0]["id"] not in mt.stdout
    wrong = run(served, "messages", "list", "--direction", "sideways")
    assert wrong.exit_code == 2


def test_cli_messages_until_client_reference_and_alphanumeric_from(served: ThreadedFake) -> None:
    """``--until``, ``--client-reference`` and an alphanumeric ``--from`` (issue 18)."""
    start = datetime.now(UTC) - timedelta(hours=3)
    sent = served.call(
        served.fake.seed_batches,
        6,
        start=start,
        spacing=timedelta(minutes=20),
        from_=lambda i: "MyBrand" if i % 2 else "+15550000000",
        client_reference=lambda i: "campaign-a" if i < 3 else "campaign-b",
    )
    received = served.call(
        served.fake.seed_inbounds,
        6,
        start=start + timedelta(minutes=10),
        spacing=timedelta(minutes=20),
        client_reference=lambda i: "campaign-a" if i < 3 else "campaign-b",
    )

    def ids(*args: str) -> list[str]:
        result = run(served, "--json", "messages", "list", "--since", "4h", *args)
        assert result.exit_code == 0, result.output
        return [row["id"] for row in json.loads(result.stdout)]

    until = (start + timedelta(minutes=55)).isoformat()  # the first three of each side
    early = {b["id"] for b in sent[:3]} | {m["id"] for m in received[:3]}
    assert set(ids("--until", until)) == early
    assert set(ids("--until", "125m")) == early  # 125 minutes ago: the same instant, roughly
    assert set(ids("--client-reference", "campaign-b")) == {b["id"] for b in sent[3:]} | {
        m["id"] for m in received[3:]
    }
    assert ids("--from", "MyBrand") == [b["id"] for b in reversed(sent) if b["from"] == "MyBrand"]
    bad = run(served, "messages", "list", "--until", "\u0663d")
    assert bad.exit_code == 2 and "--until" in bad.output
