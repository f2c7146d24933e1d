"""Scenario 3, official: the official synchronous ``sinch`` SDK (if importable) against
FakeSinch, one thread and ``--concurrency`` threads.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import threading
from typing import Any, Literal

from .._measure import Meter, log, undisturbed, wait_for_quiet
from .._report import Report, Row
from .._servers import PLAN, TOKEN, ServerProcess, ServerSpec
from ._runs import BODY, SENDER, Counts, RunResult, msisdn


def _official_client(url: str) -> Any:
    """The official sync ``sinch.SinchClient`` pointed at ``url``, or an exception."""
    official_client: Any = importlib.import_module("sinch").SinchClient
    client = official_client(service_plan_id=PLAN, sms_api_token=TOKEN, sms_region="us")
    # 2.x builds the service-plan origin as sms_domain_with_service_plan_id.format(region)
    client.configuration.sms_domain_with_service_plan_id = url
    origin = client.configuration.get_sms_origin_for_auth()
    if origin != url:  # never let a benchmark reach the real API
        raise RuntimeError(f"official SDK would send to {origin!r}, not {url!r}")
    return client


def _official_send(client: Any, i: int, counts: Counts) -> None:
    try:
        batch = client.sms.batches.send_sms(to=[msisdn(i)], from_=SENDER, body=BODY)
        if getattr(batch, "id", None):
            counts.ok += 1
        else:
            counts.fail(f"no batch id in {batch!r}")
    except Exception as exc:  # the official SDK raises its own hierarchy
        counts.fail(repr(exc))


def _official_run(
    mode: Literal["sequential", "threads"], n: int, concurrency: int, warmup: int
) -> RunResult:
    return undisturbed(lambda: _official_run_once(mode, n, concurrency, warmup))


def _official_run_once(
    mode: Literal["sequential", "threads"], n: int, concurrency: int, warmup: int
) -> RunResult:
    threads = 1 if mode == "sequential" else concurrency
    load_before = wait_for_quiet()
    with ServerProcess(ServerSpec("fake")) as server:
        meter = Meter(server)
        counts = Counts()
        lock = threading.Lock()
        next_index = itertools.count(warmup)
        ready = threading.Barrier(threads + 1, timeout=120)
        go = threading.Barrier(threads + 1, timeout=120)
        errors: list[BaseException] = []

        def worker(w: int) -> None:
            local = Counts()
            try:
                client = _official_client(server.base_url)
                for k in range(max(1, warmup // threads)):
                    _official_send(client, w * 1000 + k, Counts())
            except BaseException as exc:
                errors.append(exc)
                ready.abort()
                return
            ready.wait()
            go.wait()
            while (i := next(next_index)) < warmup + n:
                _official_send(client, i, local)
            with lock:
                counts.ok += local.ok
                counts.failed += local.failed
                counts.first_error = counts.first_error or local.first_error

        pool = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(threads)]
        for t in pool:
            t.start()
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            for t in pool:
                t.join(10)
            raise errors[0] if errors else RuntimeError("official SDK workers failed") from None
        meter.start()
        go.wait()
        for t in pool:
            t.join(600)
        meter.stop()
        stats = server.stop()
    result = RunResult(
        client=f"official {mode}" + ("" if threads == 1 else f" x{threads}"),
        server="fake",
        latency=0.0,
        n=n,
        concurrency=threads,
        ok=counts.ok,
        failed=counts.failed,
        elapsed_s=round(meter.wall, 4),
        sends_per_s=round(n / meter.wall, 1),
        client_cpu_s=meter.client_cpu,
        server_cpu_s=meter.server_cpu,
        other_cpu_s=meter.other_cpu,
        load_before=load_before,
        first_error=counts.first_error,
        server_stats=stats,
    )
    log(result.describe())
    return result


def scenario_official(args: argparse.Namespace, report: Report) -> None:
    scen = "3. official `sinch` SDK (sync)"
    try:
        sinch = importlib.import_module("sinch")
    except ImportError:
        log("official: `import sinch` failed: not installed, skipped")
        report.data["official"] = {"installed": False}
        report.rows.append(Row(scen, "sends/s", "not installed", "—", None))
        return
    version = getattr(sinch, "__version__", "?")
    try:
        with ServerProcess(ServerSpec("fake")) as server:
            _official_client(server.base_url)
    except Exception as exc:
        log(f"official: sinch {version} cannot be pointed at 127.0.0.1: {exc!r}")
        report.data["official"] = {"installed": True, "version": version, "error": repr(exc)}
        report.rows.append(Row(scen, "sends/s", "cannot target 127.0.0.1", "—", None))
        return
    n = min(args.n, args.official_n)
    log(f"official: sinch {version}, n={n}, sequential and {args.concurrency} threads")
    seq = _official_run("sequential", n, args.concurrency, args.warmup)
    thr = _official_run("threads", n, args.concurrency, args.warmup)
    ours = report.context.get("fake_ceiling_sdk")
    report.data["official"] = {
        "installed": True,
        "version": version,
        "n": n,
        "runs": [seq.as_json(), thr.as_json()],
        "sinch_async_send_many_vs_fake": ours,
    }
    report.rows += [
        Row(
            scen,
            f"sinch {version}: 1 thread sends/s",
            f"{seq.sends_per_s:,.0f}" + ("" if seq.failed == 0 else f" ({seq.failed} failed)"),
        ),
        Row(
            scen,
            f"sinch {version}: {args.concurrency} threads sends/s",
            f"{thr.sends_per_s:,.0f}" + ("" if thr.failed == 0 else f" ({thr.failed} failed)"),
        ),
    ]
    if ours:
        report.rows.append(
            Row(
                scen,
                "send_many / official threads (vs FakeSinch)",
                f"{ours / thr.sends_per_s:.2f}x",
            )
        )
