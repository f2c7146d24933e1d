"""Resource groups hung off :class:`~sinch_async.SinchClient` (``client.batches`` ...)."""

from .batches import BatchesResource
from .delivery_reports import DeliveryReportsResource
from .groups import GroupsResource
from .inbounds import InboundsResource

__all__ = ["BatchesResource", "DeliveryReportsResource", "GroupsResource", "InboundsResource"]
