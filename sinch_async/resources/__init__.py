"""Resource groups hung off :class:`~sinch_async.SinchClient` (``client.batches`` ...)."""

from .batches import BatchesResource

__all__ = ["BatchesResource"]
