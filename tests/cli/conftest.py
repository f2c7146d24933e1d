"""The ``sinch-async`` command (CliRunner against a ``ThreadedFake``, CLI package structure).

Fixture of this area: ``served``, a ``ThreadedFake`` (``tests.support.cli``) whose FakeSinch
takes the keywords of ``pytest.mark.fake_sinch(**kwargs)`` (default ``seed=5``). Root fixtures
used here: ``redis_url`` (those tests are marked ``redis``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cli import ThreadedFake


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[ThreadedFake]:
    """A FakeSinch in a thread of its own (the command runs its own event loop)."""
    marker = request.node.get_closest_marker("fake_sinch")
    options = dict(marker.kwargs) if marker is not None else {}
    with ThreadedFake(**options) as server:
        yield server
