"""Resource groups hung off [`SinchClient`][] (``client.batches`` ...)."""

from .batches import BatchesResource
from .delivery_reports import DeliveryReportsResource
from .groups import GroupsResource
from .inbounds import InboundsResource

__all__ = ["BatchesResource", "DeliveryReportsResource", "GroupsResource", "InboundsResource"]
