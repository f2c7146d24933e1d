"""Client configuration: regions, base URLs, timeouts, a secret that never prints, and URLs
shown without their userinfo (`redact_url`).

The table of settings a client reads from the environment, the accounts file and the
command line, and the rules that combine them, live in `sinch_async._settings`."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import attrs

from . import _constants as C
from ._errors import SinchConfigError
from ._validation import check_seconds

__all__ = [
    "OAUTH_REGIONS",
    "Secret",
    "Timeouts",
    "is_loopback",
    "redact_url",
    "resolve_base_url",
]

#: Regions where project (OAuth2) authentication reaches the SMS API.
OAUTH_REGIONS = ("us", "eu")


class Secret:
    """A credential that shows as ``'********'`` in ``repr``/``str`` and logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise SinchConfigError("a credential must be a non-empty string")
        if any(ord(ch) < 33 or ord(ch) == 127 for ch in value):
            # a newline would fail every request (or split a header); say so now
            raise SinchConfigError("a credential must not contain spaces or control characters")
        self._value = value

    def reveal(self) -> str:
        """The real value, for the Authorization header only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str:
        raise TypeError("Secret cannot be pickled")


@attrs.frozen
class Timeouts:
    """Timeouts in seconds, each a finite number > 0 (``None`` disables one).

    ``total`` bounds a whole request (including waiting for a pooled connection),
    ``connect`` opening a new connection, ``read`` the wait for each chunk of the response
    (off by default: responses are small and ``total`` covers them).
    """

    total: float | None = C.DEFAULT_TOTAL_TIMEOUT
    connect: float | None = C.DEFAULT_CONNECT_TIMEOUT
    read: float | None = C.DEFAULT_READ_TIMEOUT

    def __attrs_post_init__(self) -> None:
        for name in ("total", "connect", "read"):
            value = getattr(self, name)
            check_seconds(value, f"Timeouts.{name}", optional=True, positive=True, config=True)


def is_loopback(hostname: str) -> bool:
    """``localhost`` or a loopback IP address (127.0.0.0/8, ::1); nothing that merely starts
    with ``127.`` (``127.0.0.1.evil.com`` resolves wherever its owner wants)."""
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """``url`` fit to show: userinfo (``user:password@``) as ``***@``, a query or fragment
    as ``?***`` / ``#***``. For messages, tables and reprs; never raises."""
    if not isinstance(url, str):
        return repr(type(url))
    scheme, sep, rest = url.partition("//")
    if not sep:  # no authority: "user:pass@host" still hides what precedes the '@'
        scheme, rest = "", url
    ends = [i for i in (rest.find(c) for c in "/?#") if i >= 0]
    end = min(ends) if ends else len(rest)
    netloc, tail = rest[:end], rest[end:]
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    for mark in "?#":
        if mark in tail:
            tail = tail[: tail.index(mark)] + mark + "***"
            break
    return scheme + sep + netloc + tail


def resolve_base_url(
    region: str | None, base_url: str | None, *, allow_insecure_http: bool, project: bool = False
) -> str:
    """The origin every request goes to (without ``/xms/v1``).

    ``base_url`` wins over ``region``; plain ``http://`` is allowed only for loopback
    hosts (a local FakeSinch) unless ``allow_insecure_http`` is set.
    """
    if base_url is None:
        if region is None:
            raise SinchConfigError(
                f"region is required (one of {', '.join(C.REGIONS)}), or pass base_url="
            )
        region = region.lower()
        if region not in C.REGIONS:
            raise SinchConfigError(
                f"unknown region {region!r}; expected one of {', '.join(C.REGIONS)}"
            )
        # Project (OAuth2) credentials use the zt. hosts, with the project id in the path.
        return f"https://{'zt.' if project else ''}{region}.sms.api.sinch.com"
    if not isinstance(base_url, str):
        raise SinchConfigError("base_url must be a string")
    url = base_url.rstrip("/")
    if url.endswith(C.API_PATH):
        url = url[: -len(C.API_PATH)]
    try:
        parts = urlsplit(url)
        hostname, _port = parts.hostname, parts.port  # .port validates the port number
    except ValueError as exc:
        raise SinchConfigError(
            f"base_url is not a valid URL ({redact_url(str(exc))}): {redact_url(base_url)!r}"
        ) from None
    if parts.scheme not in ("http", "https") or not hostname or url != url.strip():
        raise SinchConfigError(f"base_url must be an http(s) URL, got {redact_url(base_url)!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SinchConfigError("base_url must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not is_loopback(hostname) and not allow_insecure_http:
        raise SinchConfigError(
            f"refusing plain http:// to non-loopback host {parts.hostname!r}: the API token "
            "would travel unencrypted (pass allow_insecure_http=True to override)"
        )
    return url
