"""Reporting shared by the benchmarks: Markdown table rows and the report a run fills in,
and what was measured where (the code's location and hash, the machine) for the JSON.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "Report", "Row", "code_info", "machine_info", "markdown"]

#: Where the JSON results (and profiler listings) go; git-ignored.
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    scenario: str
    metric: str
    value: str
    target: str = "—"
    met: bool | None = None

    @property
    def met_text(self) -> str:
        return "—" if self.met is None else ("yes" if self.met else "**NO**")


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    #: numbers one scenario hands to another (the latency target needs the ceiling)
    context: dict[str, float] = field(default_factory=dict)


def code_info() -> dict[str, Any]:
    """Which sinch_async was measured: its location and a hash of its sources."""
    import hashlib

    import sinch_async

    root = Path(sinch_async.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return {"sinch_async_path": str(root), "sinch_async_sources_sha256": digest.hexdigest()}


def machine_info() -> dict[str, Any]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for package in ("sinch-async", "aiohttp", "orjson", "attrs", "cattrs", "yarl", "sinch"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "event_loop": "asyncio default",
        "packages": versions,
    }


def markdown(rows: Sequence[Row]) -> str:
    lines = ["| scenario | metric | value | target | met? |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = (r.scenario, r.metric, r.value, r.target, r.met_text)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
