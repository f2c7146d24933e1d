"""Measuring machinery shared by the benchmarks: progress lines on stderr, waiting for a
quiet machine, wall and CPU time (client, server, everything else) over a measured
window, and redoing a run that other processes disturbed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ._servers import ServerProcess, process_cpu_seconds, system_busy_seconds

__all__ = [
    "DISCARDED",
    "SETTINGS",
    "Measured",
    "Meter",
    "Settings",
    "log",
    "mib",
    "pct",
    "undisturbed",
    "wait_for_quiet",
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Settings:
    #: wait up to this many seconds before each measured run for other load to drop
    settle: float = 30.0
    #: "quiet" = other processes use less than this many cores
    quiet_below: float = 0.25
    #: a run during which other processes used more than this many cores is redone
    disturbed_above: float = 0.3


SETTINGS = Settings()


def wait_for_quiet() -> float | None:
    """Wait (bounded by ``SETTINGS.settle``) until the machine is nearly idle.

    The benchmark shares a 2-core machine with whatever else runs (test suites...), so
    each measured run starts when other processes use < ``quiet_below`` cores, or when
    the wait runs out. Returns the last measured load in cores (None if unknown).
    """
    deadline = time.monotonic() + SETTINGS.settle
    started = time.monotonic()
    while True:
        b0, t0 = system_busy_seconds(), time.monotonic()
        time.sleep(0.5)
        b1, t1 = system_busy_seconds(), time.monotonic()
        if b0 is None or b1 is None:
            return None
        load = (b1 - b0) / (t1 - t0)
        if load < SETTINGS.quiet_below or t1 >= deadline:
            waited = t1 - started
            if waited > 1.0:
                state = "quiet" if load < SETTINGS.quiet_below else "still busy"
                log(f"waited {waited:.0f}s for other load to drop: {state} ({load:.2f} cores)")
            return round(load, 3)


def mib(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)


def pct(value: float | None) -> str:
    return "?" if value is None else f"{value * 100:.0f}%"


class Meter:
    """Wall time plus client and server CPU seconds over the measured window."""

    def __init__(self, server: ServerProcess | None) -> None:
        self._server = server
        self.wall = 0.0
        self.client_cpu: float | None = None
        self.server_cpu: float | None = None
        #: CPU seconds used by everything else on the machine during the window
        self.other_cpu: float | None = None
        self._t0 = 0.0
        self._b0: float | None = None
        self._c0: float | None = None
        self._s0: float | None = None

    def _server_cpu(self) -> float | None:
        return None if self._server is None else self._server.cpu_seconds()

    def start(self) -> None:
        self._c0 = process_cpu_seconds()
        self._s0 = self._server_cpu()
        self._b0 = system_busy_seconds()
        self._t0 = time.perf_counter()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self._t0
        c1, s1, b1 = process_cpu_seconds(), self._server_cpu(), system_busy_seconds()
        if c1 is not None and self._c0 is not None:
            self.client_cpu = c1 - self._c0
        if s1 is not None and self._s0 is not None:
            self.server_cpu = s1 - self._s0
        if b1 is not None and self._b0 is not None:
            self.other_cpu = max(
                0.0, (b1 - self._b0) - (self.client_cpu or 0.0) - (self.server_cpu or 0.0)
            )


class Measured(Protocol):
    """A measured run as :func:`undisturbed` sees it."""

    @property
    def other_util(self) -> float | None:
        """CPU used by other processes during the run, in cores (None if unknown)."""
        ...

    def as_json(self) -> dict[str, Any]: ...


M = TypeVar("M", bound=Measured)

#: Runs thrown away because other processes used > ``disturbed_above`` cores meanwhile.
DISCARDED: list[dict[str, Any]] = []


def undisturbed(measure: Callable[[], M], attempts: int = 3) -> M:
    """Run ``measure``; redo it (up to ``attempts`` times in all) while other processes
    used more than ``SETTINGS.disturbed_above`` cores during the run."""
    for attempt in range(1, attempts + 1):
        result = measure()
        other = result.other_util
        if other is None or other <= SETTINGS.disturbed_above or attempt == attempts:
            return result
        log(f"disturbed: other processes used {other:.2f} cores; discarding, measuring again")
        DISCARDED.append(result.as_json())
    raise AssertionError("unreachable")
