"""``client.numbers``: the Sinch Numbers API (project-scoped, OAuth2, token paging)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import orjson

from .._api import Api, Auth
from .._checkpoint import PagerCheckpoint
from .._errors import SinchDecodeError, SinchValidationError
from .._limits import Limits
from .._pagination import Pager
from .._session import Session
from .._validation import check_e164
from ._converter import decode, structure
from ._models import ActiveNumber, AvailableNumber, AvailableRegion
from ._pager import TokenPage

__all__ = ["DEFAULT_NUMBERS_BASE_URL", "NumbersResource", "numbers_api"]

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


_NEEDS_PROJECT = (
    "client.numbers needs project credentials: create the client with project_id, key_id "
    "and key_secret (the Numbers API does not accept a service_plan_id + api_token)"
)


def numbers_api(
    *, project_id: str | None, auth: Auth | None, base_url: str | None, limits: Limits
) -> Api:
    """The Numbers API of a client (``{origin}/v1/projects/{project_id}``, the project's
    OAuth2 tokens, camelCase JSON, its own budget); unavailable without project keys."""
    if project_id is None or auth is None:
        return Api.missing("numbers", _NEEDS_PROJECT, decode)
    return Api(
        name="numbers",
        origin=(base_url or DEFAULT_NUMBERS_BASE_URL).rstrip("/"),
        prefix=f"/v1/projects/{project_id}",
        auth=auth,
        decode=decode,
        limits=limits,
    )


def _number_segment(phone_number: str) -> str:
    return check_e164(phone_number, "phone_number")  # '+' is literal in a path


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

    def __init__(self, session: Session) -> None:
        self._session = session  # bound to the Numbers API

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
        return await self._session.call(
            method,
            path,
            result,
            body=None if body is None else orjson.dumps(body),
            idempotent=idempotent,
            name=name,
        )

    async def _fetch_active(self, query: list[tuple[str, str]]) -> TokenPage[ActiveNumber]:
        resp = await self._session.request(
            "GET", "/activeNumbers", query=query, name="list activeNumbers"
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
        resume: PagerCheckpoint | Mapping[str, Any] | None = None,
    ) -> Pager[ActiveNumber]:
        """Walk the project's active numbers (token paging; resumable via
        ``pager.checkpoint``, an error's ``.checkpoint`` too). ``capabilities`` goes out
        as repeated ``capability``."""
        self._session.check()
        filters = [
            *_values("regionCode", region_code),
            *_values("type", number_type),
            *_values("capability", capabilities),
            *_pattern(number_pattern, search_pattern),
            *_values("orderBy", order_by),
        ]
        return Pager(
            self._fetch_active,
            paging="token",
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
        self._session.check()
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
        resp = await self._session.request(
            "GET", "/availableNumbers", query=pairs, name="search availableNumbers"
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
        self._session.check()
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
        self._session.check()
        pairs = _values("types", types)
        resp = await self._session.request(
            "GET", "/availableRegions", query=pairs, name="list availableRegions"
        )
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
