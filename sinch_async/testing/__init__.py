"""Test helpers: ``FakeSinch``, a stateful in-memory Sinch SMS (xms v1) server.

```python
from sinch_async.testing import FakeSinch, Fault

async with FakeSinch() as fake:
    fake.add_fault(Fault(method="POST", path="/batches", status=503, times=1))
    async with fake.client() as client:
        ...
```

A pytest plugin (``sinch_async.testing.pytest_plugin``, auto-registered) provides the
``fake_sinch`` fixture.
"""

from ._fake import FakeSinch
from ._faults import Fault, FaultHandle
from ._http import RecordedRequest

__all__ = ["FakeSinch", "Fault", "FaultHandle", "RecordedRequest"]
