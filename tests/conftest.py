"""Shared test helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ANCHORS = Path(
    os.environ.get(
        "SINCH_ANCHORS_DIR",
        Path(__file__).resolve().parents[2] / "shared" / "anchors" / "sinch-official",
    )
)


def anchors_dir() -> Path:
    """The official fixture folder; skip (or fail, when CI requires it) if absent."""
    if not ANCHORS.is_dir():
        reason = f"Sinch anchor fixtures not found at {ANCHORS} (../shared is absent)"
        if os.environ.get("SINCH_REQUIRE_ANCHORS") == "1":
            pytest.fail(reason + "; SINCH_REQUIRE_ANCHORS=1 demands them", pytrace=False)
        pytest.skip(reason)
    return ANCHORS


class _NoStreamWriter:
    """aiohttp >= 3.14 wants a stream_writer; aioresponses 0.7.x does not pass one."""

    output_size = 0


@pytest.fixture(autouse=True)
def _aioresponses_aiohttp314_compat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let aioresponses build responses on aiohttp 3.14 (pnuckowski/aioresponses#289).

    Test-only shim: aiohttp 3.14 is a security release, so we adapt the mock library
    instead of pinning aiohttp back.
    """
    import inspect

    import aioresponses.core as core
    from aiohttp import ClientResponse

    if "stream_writer" not in inspect.signature(ClientResponse.__init__).parameters:
        return

    class CompatResponse(ClientResponse):
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs.setdefault("stream_writer", _NoStreamWriter())
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(core, "ClientResponse", CompatResponse)
