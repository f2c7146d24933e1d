"""Test helpers: ``FakeSinch``, a stateful in-memory Sinch SMS (xms v1) server.

```python
from sinch_async.testing import FakeSinch, Fault

async with FakeSinch() as fake:
    fake.add_fault(Fault(method="POST", path="/batches", status=503, times=1))
    async with fake.client() as client:
        ...
```

Besides batches, the fake serves groups, delivery reports (``fake.set_outcome``), inbounds
(``fake.add_inbound`` or ``POST /_admin/inbounds``), POSTs signed webhooks itself
(``fake.callbacks``, ``await fake.wait_for_callbacks(n)``), POSTs signed Numbers events
(``await fake.post_numbers_event(url, secret=..., event_type=...)``, or
``post_numbers_event(url, numbers_event(...), secret)`` without a fake) and issues OAuth2
tokens at ``fake.auth_url`` for project authentication (``fake.project_client()``).

``FakeClock`` is virtual time: ``SinchClient(clock=clock)`` runs the client's waits
(retry backoff, 429 pauses, the messages-per-second budget, a call's deadline,
``send_many``'s grace) on it in no wall time, and ``FakeSinch(clock=clock)`` dates the
fake's world by it and waits its fault delays, latency and callback delays on it.
``await fake.settle()`` and ``await fake.wait_for_requests(n)`` replace sleeping in tests.

A pytest plugin (``sinch_async.testing.pytest_plugin``, auto-registered) provides the
``fake_sinch`` fixture.
"""

from ._callbacks import CallbackAttempt
from ._clock import FakeClock
from ._fake import FakeSinch
from ._faults import Fault, FaultHandle
from ._http import RecordedRequest
from ._numbers_events import numbers_event, post_numbers_event

__all__ = [
    "CallbackAttempt",
    "FakeClock",
    "FakeSinch",
    "Fault",
    "FaultHandle",
    "RecordedRequest",
    "numbers_event",
    "post_numbers_event",
]
