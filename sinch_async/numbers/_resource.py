"""``client.numbers``: the Sinch Numbers API (project-scoped, OAuth2, token paging)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import orjson

from .._auth import Auth
from .._errors import (
    ClientClosedError,
    SinchConfigError,
    SinchDecodeError,
    SinchValidationError,
)
from .._session import Engine, Session
from ._converter import decode, structure
from ._models import ActiveNumber, AvailableNumber, AvailableRegion
from ._pager import TokenPage, TokenPager, TokenPagerCheckpoint

__all__ = ["DEFAULT_NUMBERS_BASE_URL", "NumbersBackend", "NumbersResource"]

DEFAULT_NUMBERS_BASE_URL = "https://numbers.api.sinch.com"
_LIST_FILTERS = (
    "regionCode",
    "type",
    "capability",
    "numberPattern.pattern",
    "numberPattern.searchPattern",
    "orderBy",
)
T = TypeVar("T")


class NumbersBackend:
    """Shared by a client and its ``with_options`` views: builds (once per aiohttp
    session) an :class:`Engine` for the Numbers host that borrows the client's aiohttp
    session, auth, limits, retry policy and hooks."""

    def __init__(
        self, main: Engine, auth: Auth, project_id: str | None, base_url: str | None
    ) -> None:
        self._main = main
        self._auth = auth
        self._project_id = project_id
        self._base_url = (base_url or DEFAULT_NUMBERS_BASE_URL).rstrip("/")
        self._engine: Engine | None = None

    @property
    def base(self) -> str:
        """``{numbers origin}/v1/projects/{project_id}``."""
        return f"{self._base_url}/v1/projects/{self._project_id}"

    def check(self) -> None:
        if self._project_id is None:
            raise SinchConfigError(
                "client.numbers needs project credentials: create the client with "
                "project_id, key_id and key_secret (the Numbers API does not accept a "
                "service_plan_id + api_token)"
            )

    def engine(self) -> Engine:
        """The Numbers engine (call inside the running loop)."""
        self.check()
        main = self._main
        if main.closed:
            raise ClientClosedError("this SinchClient is closed")
        http = main._ensure_session()
        engine = self._engine
        if engine is None or engine._session is not http:
            engine = Engine(
                base_url=self._base_url,
                auth=self._auth,
                timeouts=main.timeouts,
                max_connections=1,
                session=http,
                user_agent=main.base_headers["User-Agent"],
                default_headers=main.base_headers,
                limits=main.limits,
                retry=main.retry,
            )
            engine.hooks = main.hooks  # shared: add_hook reaches Numbers calls too
            engine.base = self.base
            self._engine = engine
        return engine


def _number_segment(phone_number: str) -> str:
    if not isinstance(phone_number, str):
        raise SinchValidationError("phone_number", "must be a string")
    number = "".join(phone_number.split())
    if not (number.startswith("+") and number[1:].isdigit() and 2 <= len(number) <= 16):
        raise SinchValidationError(
            "phone_number", f"must be E.164 with a leading '+', got {phone_number!r}"
        )
    return number  # '+' is literal in a path


def _query_string(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='.')}={quote(v, safe='')}" for k, v in pairs)


def _values(name: str, value: str | Iterable[str] | None) -> list[tuple[str, str]]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise SinchValidationError(name, f"values must be non-empty strings, got {item!r}")
    return [(name, item) for item in items]


def _pattern(pattern: str | None, search_pattern: str | None) -> list[tuple[str, str]]:
    pairs = _values("numberPattern.pattern", pattern)
    if search_pattern is not None:
        if pattern is None:
            raise SinchValidationError("search_pattern", "needs number_pattern")
        pairs += _values("numberPattern.searchPattern", search_pattern.upper())
    return pairs


def _sms_config(service_plan_id: str | None, campaign_id: str | None) -> dict[str, str] | None:
    if service_plan_id is None:
        if campaign_id is not None:
            raise SinchValidationError("campaign_id", "needs sms_service_plan_id")
        return None
    config = {"servicePlanId": service_plan_id}
    if campaign_id is not None:
        config["campaignId"] = campaign_id
    return config


class NumbersResource:
    """Active numbers (list, get, update, release), available numbers (search, check,
    rent, rent any) and available regions of the client's project.

    Needs project credentials; a service-plan client raises :class:`SinchConfigError`
    on first use.
    """

    def __init__(self, session: Session, backend: NumbersBackend) -> None:
        self._session = session
        self._backend = backend

    def _numbers_session(self) -> Session:
        return Session(self._backend.engine(), self._session.options)

    async def _call(
        self,
        method: str,
        path: str,
        result: type[T],
        *,
        body: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        name: str,
    ) -> T:
        session = self._numbers_session()
        resp = await session.request(
            method,
            path,
            body=None if body is None else orjson.dumps(body),
            idempotent=idempotent,
            name=name,
        )
        return decode(resp.body, result, status=resp.status)

    async def _fetch_active(self, query: list[tuple[str, str]]) -> TokenPage[ActiveNumber]:
        session = self._numbers_session()
        resp = await session.request(
            "GET", f"/activeNumbers?{_query_string(query)}", name="list activeNumbers"
        )
        return _decode_page(resp.body, "activeNumbers", ActiveNumber, resp.status)

    # --- active numbers -----------------------------------------------------------------

    def list(
        self,
        *,
        region_code: str | None = None,
        number_type: str | None = None,
        capabilities: str | Iterable[str] | None = None,
        number_pattern: str | None = None,
        search_pattern: str | None = None,
        order_by: str | None = None,
        page_size: int = 100,
        max_items: int | None = None,
        resume: TokenPagerCheckpoint | Mapping[str, Any] | None = None,
    ) -> TokenPager[ActiveNumber]:
        """Walk the project's active numbers (token paging; resumable via
        ``pager.checkpoint``). ``capabilities`` goes out as repeated ``capability``."""
        self._backend.check()
        filters = [
            *_values("regionCode", region_code),
            *_values("type", number_type),
            *_values("capability", capabilities),
            *_pattern(number_pattern, search_pattern),
            *_values("orderBy", order_by),
        ]
        return TokenPager(
            self._fetch_active,
            resource="activeNumbers",
            filters=filters,
            page_size=page_size,
            max_items=max_items,
            resume=resume,
            filter_names=_LIST_FILTERS,
        )

    async def get(self, phone_number: str) -> ActiveNumber:
        """One active number (:class:`NotFoundError` if the project does not rent it)."""
        number = _number_segment(phone_number)
        return await self._call(
            "GET", f"/activeNumbers/{number}", ActiveNumber, name="get activeNumber"
        )

    async def update(
        self,
        phone_number: str,
        *,
        display_name: str | None = None,
        sms_service_plan_id: str | None = None,
        sms_campaign_id: str | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """PATCH a number: only the fields given are sent (``""`` unlinks a plan)."""
        number = _number_segment(phone_number)
        body: dict[str, Any] = {}
        if display_name is not None:
            body["displayName"] = display_name
        sms = _sms_config(sms_service_plan_id, sms_campaign_id)
        if sms is not None:
            body["smsConfiguration"] = sms
        if callback_url is not None:
            body["callbackUrl"] = callback_url
        if not body:
            raise SinchValidationError("update", "nothing to update")
        return await self._call(
            "PATCH",
            f"/activeNumbers/{number}",
            ActiveNumber,
            body=body,
            idempotent=True,
            name="update activeNumber",
        )

    async def release(self, phone_number: str) -> ActiveNumber:
        """Release (stop renting) a number. Billable: never retried automatically."""
        number = _number_segment(phone_number)
        return await self._call(
            "POST",
            f"/activeNumbers/{number}:release",
            ActiveNumber,
            idempotent=False,
            name="release activeNumber",
        )

    # --- available numbers ----------------------------------------------------------------

    async def search(
        self,
        *,
        region_code: str,
        number_type: str,
        capabilities: str | Iterable[str] | None = None,
        number_pattern: str | None = None,
        search_pattern: str | None = None,
        size: int | None = None,
    ) -> builtins.list[AvailableNumber]:
        """Numbers available to rent (one page, at most ``size``)."""
        self._backend.check()
        pairs = [
            *_values("regionCode", region_code),
            *_values("type", number_type),
            *_pattern(number_pattern, search_pattern),
            *_values("capabilities", capabilities),
        ]
        if size is not None:
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise SinchValidationError("size", "must be a positive integer")
            pairs.append(("size", str(size)))
        session = self._numbers_session()
        resp = await session.request(
            "GET", f"/availableNumbers?{_query_string(pairs)}", name="search availableNumbers"
        )
        return _decode_page(resp.body, "availableNumbers", AvailableNumber, resp.status).items

    async def check_availability(self, phone_number: str) -> AvailableNumber:
        """One available number (:class:`NotFoundError` if it cannot be rented)."""
        number = _number_segment(phone_number)
        return await self._call(
            "GET", f"/availableNumbers/{number}", AvailableNumber, name="get availableNumber"
        )

    async def rent(
        self,
        phone_number: str,
        *,
        sms_service_plan_id: str | None = None,
        sms_campaign_id: str | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """Rent a number. Billable: never retried automatically (check with :meth:`get`)."""
        number = _number_segment(phone_number)
        body: dict[str, Any] = {}
        sms = _sms_config(sms_service_plan_id, sms_campaign_id)
        if sms is not None:
            body["smsConfiguration"] = sms
        if callback_url is not None:
            body["callbackUrl"] = callback_url
        return await self._call(
            "POST",
            f"/availableNumbers/{number}:rent",
            ActiveNumber,
            body=body,
            idempotent=False,
            name="rent availableNumber",
        )

    async def rent_any(
        self,
        *,
        region_code: str,
        number_type: str,
        capabilities: str | Iterable[str] | None = None,
        number_pattern: str | None = None,
        search_pattern: str | None = None,
        sms_service_plan_id: str | None = None,
        sms_campaign_id: str | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """Search and rent one number in one call. Billable: never retried automatically."""
        body: dict[str, Any] = {"regionCode": region_code, "type": number_type}
        if capabilities is not None:
            body["capabilities"] = [v for _, v in _values("capabilities", capabilities)]
        if number_pattern is not None:
            pattern = {"pattern": number_pattern}
            if search_pattern is not None:
                pattern["searchPattern"] = search_pattern.upper()
            body["numberPattern"] = pattern
        sms = _sms_config(sms_service_plan_id, sms_campaign_id)
        if sms is not None:
            body["smsConfiguration"] = sms
        if callback_url is not None:
            body["callbackUrl"] = callback_url
        self._backend.check()
        return await self._call(
            "POST",
            "/availableNumbers:rentAny",
            ActiveNumber,
            body=body,
            idempotent=False,
            name="rentAny availableNumber",
        )

    async def regions(
        self, types: str | Iterable[str] | None = None
    ) -> builtins.list[AvailableRegion]:
        """Regions where numbers can be rented (optionally only of ``types``)."""
        self._backend.check()
        pairs = _values("types", types)
        path = "/availableRegions" + (f"?{_query_string(pairs)}" if pairs else "")
        session = self._numbers_session()
        resp = await session.request("GET", path, name="list availableRegions")
        return _decode_page(resp.body, "availableRegions", AvailableRegion, resp.status).items


def _decode_page(body: bytes, key: str, item: type[T], status: int) -> TokenPage[T]:
    try:
        data = orjson.loads(body)
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        raw = data.get(key) or []
        items = [structure(entry, item) for entry in raw]
        token = data.get("nextPageToken") or ""
        total = data.get("totalSize")
        if not isinstance(token, str) or not (total is None or isinstance(total, int)):
            raise TypeError("nextPageToken / totalSize of the wrong type")
    except Exception as exc:
        raise SinchDecodeError(
            f"cannot decode a {key} page: {exc}", status=status, body=body
        ) from exc
    return TokenPage(items, token, total)
