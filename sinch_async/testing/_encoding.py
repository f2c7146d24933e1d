"""SMS part arithmetic (GSM-7 vs UCS-2) and ``${parameter}`` substitution for dry runs."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "MessageParts",
    "count_parts",
    "has_unmatched_parameter",
    "substitute",
    "truncate_to_single_part",
]

# GSM 03.38 default alphabet (without the ESC code point) and its extension table.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("\f^{}\\[~]|€")

_GSM_SINGLE, _GSM_MULTI = 160, 153
_UCS2_SINGLE, _UCS2_MULTI = 70, 67

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class MessageParts:
    """How a text travels: ``encoding`` (``text`` = GSM-7, ``unicode`` = UCS-2), parts, units.

    ``units`` are septets for GSM-7 (extended characters count twice) and UTF-16 code
    units for UCS-2 (characters outside the BMP, e.g. most emoji, count twice).
    """

    encoding: str
    parts: int
    units: int


def _parts(units: int, single: int, multi: int) -> int:
    return 1 if units <= single else math.ceil(units / multi)


def _is_gsm(text: str) -> bool:
    return all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text)


def count_parts(text: str) -> MessageParts:
    """Number of SMS parts needed for ``text``: GSM-7 160/153, else UCS-2 70/67."""
    if _is_gsm(text):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
        return MessageParts("text", _parts(units, _GSM_SINGLE, _GSM_MULTI), units)
    units = len(text.encode("utf-16-le")) // 2
    return MessageParts("unicode", _parts(units, _UCS2_SINGLE, _UCS2_MULTI), units)


def truncate_to_single_part(text: str) -> str:
    """Shorten ``text`` so it fits one part in its own encoding (``truncate_concat``)."""
    gsm = _is_gsm(text)
    limit = _GSM_SINGLE if gsm else _UCS2_SINGLE
    used = 0
    out: list[str] = []
    for ch in text:
        cost = 2 if (ch in _GSM_EXTENDED if gsm else ord(ch) > 0xFFFF) else 1
        if used + cost > limit:
            break
        used += cost
        out.append(ch)
    return "".join(out)


def _lookup(values: Mapping[str, str], recipient: str) -> str | None:
    bare = recipient.removeprefix("+")
    for key in (recipient, bare, "+" + bare, "default"):
        if key in values:
            return values[key]
    return None


def substitute(text: str, parameters: Mapping[str, Mapping[str, str]], recipient: str) -> str:
    """Replace ``${key}`` with the recipient's value (or ``default``); unknown keys stay."""

    def repl(match: re.Match[str]) -> str:
        values = parameters.get(match.group(1))
        if values is None:
            return match.group(0)
        value = _lookup(values, recipient)
        return match.group(0) if value is None else value

    if not parameters:
        return text
    return _PLACEHOLDER.sub(repl, text)


def has_unmatched_parameter(
    text: str, parameters: Mapping[str, Mapping[str, str]], recipient: str
) -> bool:
    """Does ``text`` use a known parameter with no value (and no default) for ``recipient``?

    Such a recipient's message is not sent (delivery code 405).
    """
    for match in _PLACEHOLDER.finditer(text):
        values = parameters.get(match.group(1))
        if values is not None and _lookup(values, recipient) is None:
            return True
    return False
