"""``client.numbers``: the Sinch Numbers API (project-scoped, OAuth2 or Basic, token
paging)."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, TypeVar

import orjson

from .._api import Api, Auth
from .._checkpoint import PagerCheckpoint
from .._converter import decode_items
from .._errors import SinchDecodeError
from .._limits import Limits
from .._pagination import OnUndecodable, Pager
from .._session import Session
from .._validation import (
    NUMBER_TYPES,
    check_capabilities,
    check_e164,
    check_hmac_secret,
    check_max_items,
    check_number_pattern,
    check_number_type,
    check_number_types,
    check_order_by,
    check_positive_int,
    check_region_code,
    check_seconds,
    check_sms_link,
    check_some_update,
    check_voice_configuration,
)
from ._converter import converter, decode, structure
from ._models import (
    ActiveNumber,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    VoiceTarget,
)
from ._pager import TokenPage
from ._provisioning import ProvisioningFailedError, ProvisioningState, ProvisioningTimeoutError

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
    """The Numbers API of a client (``{origin}/v1/projects/{project_id}``, ``auth``: the
    project's OAuth2 tokens or HTTP Basic with its key, camelCase JSON, its own budget);
    unavailable without project keys."""
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


#: Route templates (hooks, spans: never a number in a name).
_ACTIVE = "/activeNumbers/{phone_number}"
_AVAILABLE = "/availableNumbers/{phone_number}"


def _number_segment(phone_number: str) -> str:
    return check_e164(phone_number, "phone_number")  # '+' is literal in a path


def _pattern(pattern: str | None, search_pattern: str | None) -> list[tuple[str, str]]:
    checked = check_number_pattern(pattern, search_pattern)
    if checked is None:
        return []
    number_pattern, position = checked
    pairs = [("numberPattern.pattern", number_pattern)]
    if position is not None:
        pairs.append(("numberPattern.searchPattern", position))
    return pairs


def _configuration(
    body: dict[str, Any],
    sms_service_plan_id: str | None,
    sms_campaign_id: str | None,
    voice_configuration: VoiceTarget | None,
    callback_url: str | None,
) -> dict[str, Any]:
    """``body`` with the configuration objects given, and only those: the reference says
    an SMS-only request that carries a ``voiceConfiguration`` (or an empty one) fails."""
    sms = check_sms_link(sms_service_plan_id, sms_campaign_id)
    if sms is not None:
        body["smsConfiguration"] = sms
    voice = check_voice_configuration(voice_configuration)
    if voice is not None:
        body["voiceConfiguration"] = voice
    if callback_url is not None:
        body["callbackUrl"] = callback_url
    return body


class NumbersResource:
    """Active numbers (list, get, update, release, wait until provisioned), available
    numbers (search, check, rent, rent any), available regions and the project's callback
    configuration.

    Needs project credentials; a service-plan client raises [`SinchConfigError`][]
    on first use. Enum arguments (``number_type``, ``capabilities``, ``search_pattern``,
    ``order_by``, ``types``) take the API's values in any case (``"local"``,
    ``"sms"``); region codes go out upper-case; phone numbers must be E.164 with ``+``.
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
        route: str | None = None,
    ) -> T:
        return await self._session.call(
            method,
            path,
            result,
            body=None if body is None else orjson.dumps(body),
            idempotent=idempotent,
            name=name,
            route=route,
        )

    async def _fetch_active(self, query: list[tuple[str, str]]) -> TokenPage[ActiveNumber]:
        resp = await self._session.request(
            "GET", "/activeNumbers", query=query, name="numbers.list"
        )
        return _decode_page(resp.body, "activeNumbers", ActiveNumber, resp.status, each=True)

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
        on_undecodable: OnUndecodable = "raise",
    ) -> Pager[ActiveNumber]:
        """Walk the project's active numbers (token paging; resumable via
        ``pager.checkpoint``, an error's ``.checkpoint`` too). ``on_undecodable="skip"``
        passes a number the SDK cannot decode (see [`Pager`][]).

        ``capabilities`` goes out as repeated ``capability``; ``order_by`` is
        ``"phoneNumber"`` or ``"displayName"`` (``"phone_number"`` etc. accepted).

        Without ``number_type`` the reference leaves open which numbers come back: the
        API reference makes the filter optional, Sinch's own guide says only MOBILE
        numbers are then listed (an open question until checked live). To be sure to see
        every number, walk each type in turn with [`list_all_types`][].
        """
        self._session.check()
        filters = [
            # one value each (the reference's query has single strings, not lists)
            *(() if region_code is None else [("regionCode", check_region_code(region_code))]),
            *(() if number_type is None else [("type", check_number_type(number_type))]),
            *(("capability", v) for v in check_capabilities(capabilities)),
            *_pattern(number_pattern, search_pattern),
        ]
        order = check_order_by(order_by)
        if order is not None:
            filters.append(("orderBy", order))
        return Pager(
            self._fetch_active,
            paging="token",
            resource="activeNumbers",
            filters=filters,
            page_size=page_size,
            max_items=max_items,
            resume=resume,
            filter_names=_LIST_FILTERS,
            on_undecodable=on_undecodable,
        )

    def list_all_types(
        self,
        *,
        region_code: str | None = None,
        capabilities: str | Iterable[str] | None = None,
        number_pattern: str | None = None,
        search_pattern: str | None = None,
        order_by: str | None = None,
        page_size: int = 100,
        max_items: int | None = None,
        on_undecodable: OnUndecodable = "raise",
    ) -> AsyncIterator[ActiveNumber]:
        """Every active number whatever its type: [`list`][] once per type of the
        reference (MOBILE, LOCAL, TOLL_FREE, in that order; ``order_by`` holds within each
        type), because a list without a type may return only MOBILE numbers (see
        [`list`][]). At most ``max_items`` in all. Not resumable: use [`list`][] with
        a ``number_type`` for checkpoints. ``on_undecodable`` as in [`list`][]."""
        limit = check_max_items(max_items)
        pagers = [  # every argument checked before the first request
            self.list(
                region_code=region_code,
                number_type=kind,
                capabilities=capabilities,
                number_pattern=number_pattern,
                search_pattern=search_pattern,
                order_by=order_by,
                page_size=page_size,
                on_undecodable=on_undecodable,
            )
            for kind in NUMBER_TYPES
        ]
        return self._chain(pagers, limit)

    @staticmethod
    async def _chain(
        pagers: builtins.list[Pager[ActiveNumber]], limit: int | None
    ) -> AsyncIterator[ActiveNumber]:
        left = limit
        for pager in pagers:
            if left == 0:
                return
            async for number in pager:
                yield number
                if left is not None:
                    left -= 1
                    if left == 0:
                        return

    async def get(self, phone_number: str) -> ActiveNumber:
        """One active number ([`NotFoundError`][] if the project does not rent it)."""
        number = _number_segment(phone_number)
        return await self._call(
            "GET", f"/activeNumbers/{number}", ActiveNumber, name="numbers.get", route=_ACTIVE
        )

    async def update(
        self,
        phone_number: str,
        *,
        display_name: str | None = None,
        sms_service_plan_id: str | None = None,
        sms_campaign_id: str | None = None,
        voice_configuration: VoiceTarget | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """PATCH a number: only the fields given are sent.

        ``sms_service_plan_id`` links the number to an SMS service plan (``""`` unlinks;
        Sinch wants a number unlinked before it is linked to another plan),
        ``sms_campaign_id`` a US 10DLC campaign (with the plan). ``voice_configuration``
        (an [`RtcVoiceConfiguration`][], [`EstVoiceConfiguration`][] or
        [`FaxVoiceConfiguration`][]) routes its calls; never sent unless given.
        ``callback_url`` receives the number's provisioning events.

        Plan and voice changes are *scheduled*: the answer still shows the old values
        and the request under ``scheduled_provisioning`` /
        ``scheduled_voice_provisioning``; [`wait_provisioned`][] waits for the outcome.
        """
        number = _number_segment(phone_number)
        body: dict[str, Any] = {}
        if display_name is not None:
            body["displayName"] = display_name
        _configuration(
            body, sms_service_plan_id, sms_campaign_id, voice_configuration, callback_url
        )
        check_some_update(body)
        return await self._call(
            "PATCH",
            f"/activeNumbers/{number}",
            ActiveNumber,
            body=body,
            idempotent=True,
            name="numbers.update",
            route=_ACTIVE,
        )

    async def release(self, phone_number: str) -> ActiveNumber:
        """Release (stop renting) a number. Billable: retried automatically only when Sinch
        certainly did not process it (a 429, a connection never made), never after a 5xx
        or a timeout (check with [`get`][])."""
        number = _number_segment(phone_number)
        return await self._call(
            "POST",
            f"/activeNumbers/{number}:release",
            ActiveNumber,
            idempotent=False,
            name="numbers.release",
            route=f"{_ACTIVE}:release",
        )

    async def wait_provisioned(
        self,
        phone_number: str,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109 (a bound on polling, on the client's clock)
        poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
    ) -> ActiveNumber:
        """Wait until the number's scheduled SMS and voice provisioning (after ``rent``,
        ``rent_any`` or ``update``) has finished, and return it as it is then.

        Reads the number with [`get`][] at once, then after ``poll_interval`` seconds,
        doubling the wait each time up to ``max_poll_interval``; all waits pass on the
        client's clock (``SinchClient(clock=...)``). Provisioning is pending while
        ``scheduled_provisioning`` / ``scheduled_voice_provisioning`` shows a status
        other than ``FAILED``; a number with neither is done at once.

        Raises [`ProvisioningFailedError`][] (``error_codes`` from Sinch) when either
        shows ``FAILED``, and [`ProvisioningTimeoutError`][] when it is still pending
        after ``timeout`` seconds; API errors of the reads as [`get`][] raises them.
        """
        number = _number_segment(phone_number)
        limit = check_seconds(timeout, "timeout")
        wait = check_seconds(poll_interval, "poll_interval", positive=True)
        ceiling = check_seconds(max_poll_interval, "max_poll_interval", minimum=wait)
        clock = self._session.clock
        deadline = clock.monotonic() + limit
        while True:
            active = await self.get(number)
            state = ProvisioningState.of(active)
            if state.failed:
                raise ProvisioningFailedError(active, state)
            if not state.pending:
                return active
            left = deadline - clock.monotonic()
            if left <= 0:
                raise ProvisioningTimeoutError(active, state, limit)
            await clock.sleep(min(wait, left))
            wait = min(wait * 2, ceiling)

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
        """Numbers available to rent (one response, no paging). ``capabilities``: a
        number must have each one listed. ``size`` is the most to return; the reference
        documents no default and no maximum for it."""
        self._session.check()
        pairs = [
            ("regionCode", check_region_code(region_code)),
            ("type", check_number_type(number_type)),
            *_pattern(number_pattern, search_pattern),
            *(("capabilities", v) for v in check_capabilities(capabilities)),
        ]
        count = check_positive_int(size, "size", optional=True)
        if count is not None:
            pairs.append(("size", str(count)))
        resp = await self._session.request(
            "GET", "/availableNumbers", query=pairs, name="numbers.search"
        )
        return _decode_page(resp.body, "availableNumbers", AvailableNumber, resp.status).items

    async def check_availability(self, phone_number: str) -> AvailableNumber:
        """One available number ([`NotFoundError`][] if it cannot be rented)."""
        number = _number_segment(phone_number)
        return await self._call(
            "GET",
            f"/availableNumbers/{number}",
            AvailableNumber,
            name="numbers.check_availability",
            route=_AVAILABLE,
        )

    async def rent(
        self,
        phone_number: str,
        *,
        sms_service_plan_id: str | None = None,
        sms_campaign_id: str | None = None,
        voice_configuration: VoiceTarget | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """Rent a number (configuration as for [`update`][], only what is given is
        sent). Billable: retried automatically only when Sinch certainly did not process it
        (a 429, a connection never made), never after a 5xx or a timeout
        (``may_have_reached_sinch``: check with [`get`][]). The SMS and voice configuration
        is scheduled: see [`wait_provisioned`][]."""
        number = _number_segment(phone_number)
        body = _configuration(
            {}, sms_service_plan_id, sms_campaign_id, voice_configuration, callback_url
        )
        return await self._call(
            "POST",
            f"/availableNumbers/{number}:rent",
            ActiveNumber,
            body=body,
            idempotent=False,
            name="numbers.rent",
            route=f"{_AVAILABLE}:rent",
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
        voice_configuration: VoiceTarget | None = None,
        callback_url: str | None = None,
    ) -> ActiveNumber:
        """Search and rent one number in one call (filters as [`search`][],
        configuration as [`update`][]). Billable and not reconcilable by number: retried
        automatically only when Sinch certainly did not process it (a 429, a connection
        never made), never after a 5xx or a timeout. Sinch's guides say it works for US
        LOCAL numbers only."""
        body: dict[str, Any] = {
            "regionCode": check_region_code(region_code),
            "type": check_number_type(number_type),
        }
        if capabilities is not None:
            body["capabilities"] = check_capabilities(capabilities)
        checked = check_number_pattern(number_pattern, search_pattern)
        if checked is not None:
            pattern = {"pattern": checked[0]}
            if checked[1] is not None:
                pattern["searchPattern"] = checked[1]
            body["numberPattern"] = pattern
        _configuration(
            body, sms_service_plan_id, sms_campaign_id, voice_configuration, callback_url
        )
        self._session.check()
        return await self._call(
            "POST",
            "/availableNumbers:rentAny",
            ActiveNumber,
            body=body,
            idempotent=False,
            name="numbers.rent_any",
        )

    async def regions(
        self, types: str | Iterable[str] | None = None
    ) -> builtins.list[AvailableRegion]:
        """Regions where numbers can be rented, each with the number types offered there
        (only regions offering one of ``types`` when given)."""
        self._session.check()
        pairs = [("types", v) for v in check_number_types(types)]
        resp = await self._session.request(
            "GET", "/availableRegions", query=pairs, name="numbers.regions"
        )
        return _decode_page(resp.body, "availableRegions", AvailableRegion, resp.status).items

    # --- callback configuration -----------------------------------------------------------

    async def callback_configuration(self) -> CallbackConfiguration:
        """The project's callback configuration: its ``hmac_secret``, which signs the
        events Sinch POSTs to each number's ``callback_url`` (the URL itself is set per
        number, with [`update`][] or when renting)."""
        return await self._call(
            "GET",
            "/callbackConfiguration",
            CallbackConfiguration,
            name="numbers.callback_configuration",
        )

    async def update_callback_configuration(self, *, hmac_secret: str) -> CallbackConfiguration:
        """Set the project's callback ``hmac_secret`` (32..64 ASCII letters, digits and
        ``-``, the rule of Sinch's Python SDK); returns the configuration as Sinch has it
        now. The secret is never logged nor shown in reprs or errors."""
        body = {"hmacSecret": check_hmac_secret(hmac_secret)}
        return await self._call(
            "PATCH",
            "/callbackConfiguration",
            CallbackConfiguration,
            body=body,
            idempotent=True,
            name="numbers.update_callback_configuration",
        )


def _decode_page(
    body: bytes, key: str, item: type[T], status: int, *, each: bool = False
) -> TokenPage[T]:
    """A Numbers list response. ``each`` (a pager's page): an item that cannot be decoded
    is an [`UndecodableItem`][] in its place, for the pager to raise or
    skip; otherwise (a one-shot answer such as a search) it fails the whole answer."""
    try:
        data = orjson.loads(body)
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        raw = data.get(key) or []
        if each:
            if not isinstance(raw, list):
                raise TypeError(f"{key} is not a list")
            items = decode_items(converter, raw, item, key=key, status=status, body=body)
        else:
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
