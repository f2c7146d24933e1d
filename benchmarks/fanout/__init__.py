"""Fan-out benchmark: ``client.batches.send_many`` against a raw aiohttp loop and more.

Run from the repository root::

    python -m benchmarks.fanout                      # all (throughput, latency, official, limiter)
    python -m benchmarks.fanout throughput --n 5000 --concurrency 64
    python -m benchmarks.fanout memory --count 1000000
    python -m benchmarks.fanout profile              # cProfile of send_many vs the echo server

Every server runs in a child process bound to 127.0.0.1 (see ``_servers.py``); a fresh
one is started for every measured run, so FakeSinch's stored batches never slow a later
run. A Markdown table goes to stdout, progress to stderr, raw numbers to a JSON file
under ``benchmarks/results/``. See ``benchmarks/README.md``.

Layout: ``_cli`` (options, which scenarios, table and JSON), ``_runs`` (the raw and
``send_many`` clients, one measured run, medians), one module per scenario
(``throughput``, ``latency``, ``official``, ``limiter``, ``memory``, ``profiling``), and
the measuring and reporting machinery shared with the other benchmarks in
``benchmarks/_measure.py`` and ``benchmarks/_report.py``.
"""

from __future__ import annotations

from .._measure import log
from .._report import code_info, machine_info
from ._cli import main

__all__ = ["code_info", "log", "machine_info", "main"]  # benchmarks.sync uses the first three
