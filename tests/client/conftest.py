"""``SinchClient`` (engine, resources, pagers, sync, send_many, ledgers, auth, accounts)
against FakeSinch in the test's loop or an in-process/child aiohttp server.

Fixture of this area: ``client`` = ``fake.client(**kwargs)``, options per module or test with
``pytest.mark.sinch_client(**kwargs)``. Root fixtures used here: ``fake`` (options with
``pytest.mark.fake_sinch``), ``clock``, ``fake_sinch_factory``, ``redis_url``/``redis_client``
(those tests are marked ``redis``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from sinch_async import SinchClient

if TYPE_CHECKING:
    from sinch_async.testing import FakeSinch


@pytest.fixture
async def client(request: pytest.FixtureRequest, fake: FakeSinch) -> AsyncIterator[SinchClient]:
    """A client of ``fake`` (closed after the test); see the module docstring for options."""
    marker = request.node.get_closest_marker("sinch_client")
    options = dict(marker.kwargs) if marker is not None else {}
    async with fake.client(**options) as c:
        yield c
