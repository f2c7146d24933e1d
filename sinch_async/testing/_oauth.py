"""Project (OAuth2 client-credentials) authentication for the fake (§1.2).

``POST /oauth2/token`` issues opaque bearer tokens for ``key_id:key_secret`` (HTTP Basic,
form body ``grant_type=client_credentials``); xms requests under the project id must carry
one that has not expired by the fake's clock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from ._http import Reply, RequestContext, Router
from ._util import ApiError

__all__ = ["TOKEN_PATH", "TokenIssuer"]

TOKEN_PATH = "/oauth2/token"
_FORM = "application/x-www-form-urlencoded"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(status: int, error: str, description: str) -> Reply:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="sinch"'
    return Reply(status, {"error": error, "error_description": description}, headers)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    key_id, sep, key_secret = decoded.partition(":")
    return (key_id, key_secret) if sep else None


class TokenIssuer:
    """Issues and checks access tokens; counts token requests."""

    def __init__(
        self,
        *,
        key_id: str,
        key_secret: str,
        token_ttl: float,
        clock: Callable[[], datetime],
    ) -> None:
        if token_ttl <= 0:
            raise ValueError("token_ttl must be > 0")
        self.key_id = key_id
        self.key_secret = key_secret
        self.token_ttl = float(token_ttl)
        #: Requests received on the token endpoint (failed and fault-injected included).
        self.requests = 0
        #: Issued token → expiry (fake clock).
        self.tokens: dict[str, datetime] = {}
        self._clock = clock

    def register(self, router: Router) -> None:
        """Add ``POST /oauth2/token`` to ``router`` (absolute paths)."""
        router.add("POST", TOKEN_PATH, self.token_route)

    def expire_all(self) -> None:
        """Every token issued so far is expired from now on."""
        now = self._clock()
        for token in self.tokens:
            self.tokens[token] = min(self.tokens[token], now)

    def token_route(self, ctx: RequestContext) -> Reply:
        """``POST /oauth2/token`` → ``{access_token, token_type, expires_in, scope}``."""
        credentials = _basic_credentials(ctx.headers.get("Authorization", ""))
        if credentials is None:
            return _oauth_error(401, "invalid_client", "HTTP Basic client credentials required")
        key_id, key_secret = credentials
        id_ok = hmac.compare_digest(key_id.encode(), self.key_id.encode())
        secret_ok = hmac.compare_digest(key_secret.encode(), self.key_secret.encode())
        if not (id_ok and secret_ok):
            return _oauth_error(401, "invalid_client", "unknown key id or wrong key secret")
        content_type = ctx.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != _FORM:
            return _oauth_error(400, "invalid_request", f"Content-Type must be {_FORM}")
        try:
            form = dict(parse_qsl(ctx.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return _oauth_error(400, "invalid_request", "form body is not UTF-8")
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error(400, "invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "use client_credentials")
        token = secrets.token_urlsafe(32)
        self.tokens[token] = self._clock() + timedelta(seconds=self.token_ttl)
        body = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": int(self.token_ttl),
            "scope": "",
        }
        return Reply(200, body, dict(_NO_STORE))

    def authenticate(self, header: str) -> None:
        """Accept ``Bearer <issued, unexpired token>``; raise a 401 ``ApiError`` otherwise."""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401,
                "unauthorized",
                "a bearer access token is required",
                {"WWW-Authenticate": "Bearer"},
            )
        expires = self.tokens.get(token)
        if expires is None:
            raise ApiError(
                401,
                "unauthorized",
                "unknown access token",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if self._clock() >= expires:
            raise ApiError(
                401,
                "unauthorized",
                "access token expired",
                {
                    "WWW-Authenticate": (
                        'Bearer error="invalid_token", error_description="token expired"'
                    )
                },
            )

    def authenticate_key(self, header: str) -> None:
        """Accept what `authenticate` accepts, or HTTP Basic with the project's key
        id and secret (the Numbers API takes both, reference §1); raise a 401
        ``ApiError`` otherwise."""
        if header.partition(" ")[0].lower() != "basic":
            self.authenticate(header)
            return
        credentials = _basic_credentials(header)
        if credentials is not None:
            key_id, key_secret = credentials
            id_ok = hmac.compare_digest(key_id.encode(), self.key_id.encode())
            secret_ok = hmac.compare_digest(key_secret.encode(), self.key_secret.encode())
            if id_ok and secret_ok:
                return
        raise ApiError(
            401, "unauthorized", "unknown key id or wrong key secret", {"WWW-Authenticate": "Basic"}
        )
