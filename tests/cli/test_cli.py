"""The sinch-async command, run against FakeSinch (in a thread of its own) and as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sinch_async.cli import app
from tests.support.cli import ThreadedFake, run, runner


def test_send_get_list_cancel(served: ThreadedFake) -> None:
    sent = run(served, "--json", "send", "--to", "+46701234567", "--body", "hi", "--from", "+1202")
    assert sent.exit_code == 2 and "from_" in sent.output  # no number, no sender id (issue 18)
    sent = run(served, "--json", "send", "--to", "+46701234567", "--body", "hi", "--from", "Acme")
    assert sent.exit_code == 0, sent.output
    batch = json.loads(sent.stdout)
    assert batch["to"] == ["+46701234567"] and batch["id"] in served.fake.batches

    got = run(served, "--json", "batches", "get", batch["id"])
    assert json.loads(got.stdout)["id"] == batch["id"]
    listed = run(served, "--json", "batches", "list", "--max", "5")
    assert [b["id"] for b in json.loads(listed.stdout)] == [batch["id"]]
    table = run(served, "batches", "list")
    assert batch["id"] in table.stdout  # a readable table for people
    canceled = run(served, "--json", "batches", "cancel", batch["id"])
    assert json.loads(canceled.stdout)["canceled"] is True


def test_groups_inbounds_and_reports(served: ThreadedFake) -> None:
    created = run(served, "--json", "groups", "create", "--name", "VIP", "--member", "+46701234567")
    group = json.loads(created.stdout)
    assert group["name"] == "VIP"
    members = run(served, "--json", "groups", "members", group["id"])
    assert json.loads(members.stdout) == ["+46701234567"]
    assert group["id"] in run(served, "--json", "groups", "list").stdout
    assert json.loads(run(served, "--json", "groups", "get", group["id"]).stdout)["size"] == 1

    served.call(served.fake.add_inbound, from_="+46701234567", to="12345", body="STOP")
    inbounds = json.loads(run(served, "--json", "inbounds", "list", "--to", "12345").stdout)
    assert [m["body"] for m in inbounds] == ["STOP"]

    batch = json.loads(run(served, "--json", "send", "--to", "+46701234567", "--body", "x").stdout)
    report = json.loads(
        run(served, "--json", "delivery-reports", "get", batch["id"], "--type", "full").stdout
    )
    assert report["statuses"][0]["status"] == "Delivered"
    listed = json.loads(run(served, "--json", "delivery-reports", "list").stdout)
    assert {r["batch_id"] for r in listed} == {batch["id"]}


def test_inbound_sync_to_jsonl_resumes(served: ThreadedFake, tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    seeded = served.call(
        served.fake.seed_inbounds, 300, start=start, spacing=timedelta(seconds=10), to="12345"
    )
    out = tmp_path / "inbounds.jsonl"
    first = run(served, "--json", "inbounds", "sync", "--since", "3h", "--out", str(out))
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout.strip().splitlines()[-1])["written"] == 300
    later = served.call(served.fake.add_inbound, from_="+46700000000", to="12345", body="new")
    second = run(served, "--json", "inbounds", "sync", "--out", str(out))
    assert json.loads(second.stdout.strip().splitlines()[-1])["written"] == 1
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted([i["id"] for i in seeded] + [later["id"]])


def test_inbound_sync_progress_ends_with_the_last_counts(
    served: ThreadedFake, tmp_path: Path
) -> None:
    """The progress line that stays is the last update: items, pages and rate included
    (it once ended at ``1/1 0 pages``)."""
    served.call(served.fake.add_inbound, from_="+46700000000", to="12345", body="one")
    out = tmp_path / "one.jsonl"
    result = run(served, "inbounds", "sync", "--since", "1h", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "1/1 1 pages" in result.stderr and "0 pages" not in result.stderr


def test_errors_and_exit_codes(served: ThreadedFake) -> None:
    missing = runner.invoke(app, ["batches", "list"], env={"SINCH_SERVICE_PLAN_ID": ""})
    assert missing.exit_code == 2 and "sinch-async demo" in missing.output
    api = run(served, "batches", "get", "01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert api.exit_code == 1 and "404" in api.output
    bad = run(served, "send", "--to", "+1-555-CALL-NOW", "--body", "x")
    assert bad.exit_code == 2 and "Invalid input" in bad.output
    usage = run(served, "send", "--body", "x")  # --to is missing
    assert usage.exit_code == 2
    wrong_since = run(served, "inbounds", "sync", "--since", "yesterday", "--out", "/tmp/x")
    assert wrong_since.exit_code == 2


@pytest.mark.process
def test_console_script_demo_runs_offline(tmp_path: Path) -> None:
    """`sinch-async demo` as a real process, no SINCH_* configuration, loopback only."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SINCH_")}
    exe = Path(sys.executable).with_name("sinch-async")
    out = tmp_path / "demo.jsonl"
    proc = subprocess.run(
        [str(exe), "demo", "--inbounds", "3000", "--sends", "200", "--out", str(out)],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "3000 of 3000" in proc.stdout and "200 of 200" in proc.stdout
    assert len(out.read_text().splitlines()) == 3000


@pytest.mark.process
@pytest.mark.realtime("real processes: polls the child's output file")
def test_sigint_stops_a_sync_cleanly_and_it_resumes(tmp_path: Path) -> None:
    """SIGINT mid-sync: the process exits 130 after a whole line; a rerun completes the
    window exactly (every item once)."""
    import signal
    import time

    script = tmp_path / "serve.py"
    script.write_text(
        "import asyncio, sys\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from sinch_async.testing import FakeSinch\n"
        "async def main():\n"
        "    async with FakeSinch(latency=0.01) as fake:\n"
        "        fake.seed_inbounds(2000, start=datetime.now(UTC) - timedelta(hours=1),\n"
        "                           spacing=timedelta(seconds=1), to='12345')\n"
        "        print(fake.base_url, flush=True)\n"
        "        await asyncio.sleep(120)\n"
        "asyncio.run(main())\n"
    )
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        environ = {
            **os.environ,
            "SINCH_SERVICE_PLAN_ID": "test-plan",
            "SINCH_API_TOKEN": "test-token",
            "SINCH_BASE_URL": base_url,
        }
        exe = str(Path(sys.executable).with_name("sinch-async"))
        out = tmp_path / "in.jsonl"
        cmd = [exe, "inbounds", "sync", "--since", "2h", "--out", str(out), "--prefetch", "1"]
        proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            not out.exists() or len(out.read_bytes().splitlines()) < 300
        ):
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, stderr  # 128 + SIGINT, as a shell reports Ctrl-C
        assert b"interrupted after" in stderr and b"Traceback" not in stderr
        partial = len(out.read_text().splitlines())
        assert 0 < partial < 2000
        rerun = subprocess.run(cmd, env=environ, capture_output=True, timeout=60)
        assert rerun.returncode == 0, rerun.stderr
        ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
        assert len(ids) == len(set(ids)) == 2000
    finally:
        server.terminate()
        server.wait(10)
