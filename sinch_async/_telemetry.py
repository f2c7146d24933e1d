"""How log lines name what they are about (no OpenTelemetry here: see ``tracing.py``)."""

from __future__ import annotations

from typing import Any

from ._validation import ascii_digits

__all__ = ["reference_fields"]


def reference_fields(reference: str | None) -> tuple[str, dict[str, Any]]:
    """A send's ``client_reference`` as a log line shows it, and its ``extra`` keys.

    ``sinch_client_reference`` always; a campaign's reference (``CAMPAIGN:INDEX``, what
    ``send_many(campaign=...)`` gives a row without one) also names the campaign and the
    row: ``sinch_campaign``, ``sinch_row``.
    """
    if reference is None:
        return "without client_reference", {"sinch_client_reference": None}
    extra: dict[str, Any] = {"sinch_client_reference": reference}
    campaign, sep, index = reference.rpartition(":")
    if sep and campaign and ascii_digits(index, 1, 18):
        row = int(index)
        extra["sinch_campaign"] = campaign
        extra["sinch_row"] = row
        return f"client_reference {reference!r} (campaign {campaign!r} row {row})", extra
    return f"client_reference {reference!r}", extra
