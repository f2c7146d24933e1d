"""pytest plugin: the ``fake_sinch`` and ``fake_sinch_factory`` fixtures.

Registered through the ``pytest11`` entry point, so every test suite in an environment
with ``sinch-async`` installed can use the fixtures without configuration. It never gets in
the way of a test run:

* it depends on nothing but pytest (and the SDK's own dependencies), and imports
  pytest-asyncio only if that is installed;
* with pytest-asyncio (``pip install 'sinch-async[testing]'``) the fixtures are async
  fixtures, usable from ``async def`` tests in auto or strict mode;
* without it, only a test that asks for one of the fixtures is affected: it errors at
  setup with the install hint, and every other test runs as before;
* ``pytest -p no:sinch_async`` turns the plugin off altogether.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from ._fake import FakeSinch

__all__ = ["FakeSinchFactory", "fake_sinch", "fake_sinch_factory"]

FakeSinchFactory = Callable[..., Awaitable["FakeSinch"]]

MISSING_PYTEST_ASYNCIO = (
    "the {name!r} fixture of sinch-async needs pytest-asyncio, which is not installed: "
    "pip install 'sinch-async[testing]'"
)

F = TypeVar("F", bound=Callable[..., Any])

try:
    import pytest_asyncio
except ImportError:  # pytest-asyncio is optional: see the module docstring
    pytest_asyncio = None  # type: ignore[assignment]


def _async_fixture(fn: F) -> F:
    """``pytest_asyncio.fixture(fn)``, or, without pytest-asyncio, a fixture of the same
    name that fails the test asking for it with the install hint."""
    if pytest_asyncio is not None:
        return cast(F, pytest_asyncio.fixture(fn))
    message = MISSING_PYTEST_ASYNCIO.format(name=fn.__name__)

    def unavailable() -> None:
        pytest.fail(message, pytrace=False)

    unavailable.__doc__ = fn.__doc__
    return cast(F, pytest.fixture(name=fn.__name__)(unavailable))


@_async_fixture
async def fake_sinch() -> AsyncIterator[FakeSinch]:
    """A started ``FakeSinch()`` with default credentials, closed after the test."""
    from ._fake import FakeSinch

    async with FakeSinch() as fake:
        yield fake


@_async_fixture
async def fake_sinch_factory() -> AsyncIterator[FakeSinchFactory]:
    """``await fake_sinch_factory(**kwargs)`` starts a configured ``FakeSinch``.

    Every fake created this way is closed after the test.
    """
    from ._fake import FakeSinch

    fakes: list[FakeSinch] = []

    async def make(*args: Any, **kwargs: Any) -> FakeSinch:
        fake = FakeSinch(*args, **kwargs)
        await fake.start()
        fakes.append(fake)
        return fake

    try:
        yield make
    finally:
        for fake in reversed(fakes):
            await fake.close()
