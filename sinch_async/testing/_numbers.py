"""The Numbers API in the fake: ``/v1/projects/{project}/…`` on the same server, with
seeded active numbers, token paging (``orderBy`` too), update/rent/rent any/release with
SMS and voice configuration, scheduled provisioning that finishes (or fails) after
``provisioning_delay`` seconds of the fake's clock, available regions, the project's
callback configuration, bearer tokens or HTTP Basic, Google-style error bodies."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from .. import _constants as C
from .._validation import parse_int
from ._http import Reply, RequestContext, Router
from ._util import ApiError, JSONObject, format_timestamp
from ._validation import check_phone_number

__all__ = ["NumbersStore"]

PREFIX = "/v1/projects/{project}"
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 405: "UNIMPLEMENTED"}  # fmt: skip


def _error(status: int, message: str, details: list[JSONObject] | None = None) -> Reply:
    body = {
        "error": {
            "code": status,
            "message": message,
            "status": _STATUS.get(status, "UNKNOWN"),
            "details": details or [],
        }
    }
    return Reply(status, body)


#: The reference's enums (§7.7); the fake refuses other values with 400, as the
#: status-codes page shows for ``type``.
NUMBER_TYPES = ("MOBILE", "LOCAL", "TOLL_FREE")
CAPABILITIES = ("SMS", "VOICE")
ORDER_BY = ("phoneNumber", "displayName")
SEARCH_PATTERNS = ("START", "CONTAINS", "END")
#: voice ``type`` -> the id field it needs
VOICE_IDS = {"RTC": "appId", "EST": "trunkId", "FAX": "serviceId"}
_ORDER_KEYS: dict[str, Callable[[JSONObject], Any]] = {
    "phoneNumber": lambda r: str(r["phoneNumber"]),
    "displayName": lambda r: (str(r.get("displayName") or ""), str(r["phoneNumber"])),
}


def _bad_value(field: str, value: object) -> Reply:
    return _error(400, f"parsing field {field!r}: {value!r} is not a valid value")


def _not_found(resource_type: str, number: str) -> Reply:
    detail = {
        "type": "ResourceInfo",
        "resourceType": resource_type,
        "resourceName": number,
        "owner": "",
        "description": "",
    }
    return _error(404, f"{resource_type} not found", [detail])


class NumbersStore:
    """Active and available numbers of one project (plain camelCase dicts).

    Knobs (settable attributes):

    * ``provisioning_delay``: seconds of the fake's clock a scheduled SMS or voice
      provisioning (after rent, rent any or an update with a configuration) takes:
      ``WAITING`` for the first half, ``IN_PROGRESS`` for the second, then done (the new
      configuration in place, no scheduled object). 0 (the default): done by the next
      request.
    * ``provisioning_failures``: an id (service plan, campaign, voice app, trunk or
      service) -> the error codes its provisioning fails with (``FAILED``; the codes on
      SMS only, as in the reference).
    * ``untyped_list_type``: what a list without ``type`` returns: None (the default)
      every type, or only that type (``"MOBILE"`` is what Sinch's guide says; the
      reference leaves it open).
    * ``hmac_secret``: the project's callback secret (``/callbackConfiguration``).
    * ``regions``: region code -> name, for ``/availableRegions`` (regions are those of
      the available numbers; a code without a name is its own name).

    Where the reference leaves a question open (its §16), the fake assumes, until
    checked against the live API:

    * a list without ``type`` returns numbers of every type, unless
      ``untyped_list_type`` is set (then only that type);
    * a released number disappears from the active numbers at once (no grace period,
      no ``RELEASED`` state: ``GET`` is 404 right after ``:release``);
    * ``availableNumbers:rentAny`` with no matching number is 404 ``NOT_FOUND`` with
      empty ``details`` (no ``ResourceInfo``);
    * ``availableNumbers`` search without ``size`` returns at most 10 numbers.
    """

    def __init__(
        self,
        project_id: str,
        authenticate: Callable[[str], None],
        rng: random.Random | None = None,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.project_id = project_id
        self._authenticate = authenticate
        self._rng = rng or random.Random()
        self._now = now or (lambda: datetime.now(UTC))
        self.active: dict[str, JSONObject] = {}
        self.available: dict[str, JSONObject] = {}
        self._tokens: dict[str, int] = {}
        self.provisioning_delay = 0.0
        self.provisioning_failures: dict[str, list[str]] = {}
        self.untyped_list_type: str | None = None
        self.hmac_secret = ""
        self.regions: dict[str, str] = {"US": "United States", "GB": "United Kingdom"}
        #: (number, "sms" | "voice") -> when its provisioning was scheduled
        self._scheduled: dict[tuple[str, str], datetime] = {}

    # -- seeding -------------------------------------------------------------------------

    def active_record(self, number: str, **fields: Any) -> JSONObject:
        record: JSONObject = {
            "phoneNumber": number,
            "projectId": self.project_id,
            "displayName": "",
            "regionCode": "US",
            "type": "LOCAL",
            "capability": ["SMS", "VOICE"],
            "money": {"currencyCode": "USD", "amount": "2.00"},
            "paymentIntervalMonths": 1,
            "nextChargeDate": "2026-12-01T00:00:00.123456Z",
            "expireAt": None,
            "smsConfiguration": {"servicePlanId": "", "campaignId": ""},
            "voiceConfiguration": {"type": "RTC", "appId": ""},
            "callbackUrl": "",
        }
        record.update(fields)
        return record

    def seed_active(self, n: int, *, start: int = 12025550000, **fields: Any) -> list[str]:
        """Add ``n`` active numbers ``+{start}``, ``+{start+1}``…; returns them. Each must be
        a number the SDK can address (`check_phone_number`), else ValueError."""
        numbers = [check_phone_number(f"+{start + i}") for i in range(n)]
        for number in numbers:
            self.active[number] = self.active_record(number, **fields)
        return numbers

    def seed_available(self, n: int, *, start: int = 12065550000, **fields: Any) -> list[str]:
        """Add ``n`` numbers that can be rented."""
        numbers = [check_phone_number(f"+{start + i}") for i in range(n)]
        for number in numbers:
            record: JSONObject = {
                "phoneNumber": number,
                "regionCode": "US",
                "type": "LOCAL",
                "capability": ["SMS", "VOICE"],
                "setupPrice": {"currencyCode": "USD", "amount": "0.00"},
                "monthlyPrice": {"currencyCode": "USD", "amount": "2.00"},
                "paymentIntervalMonths": 1,
                "supportingDocumentationRequired": False,
            }
            record.update(fields)
            self.available[number] = record
        return numbers

    # -- routes --------------------------------------------------------------------------

    def register(self, router: Router) -> None:
        router.add("GET", f"{PREFIX}/activeNumbers", self._guard(self._list_active))
        router.add("GET", f"{PREFIX}/activeNumbers/{{number}}", self._guard(self._get_active))
        router.add("PATCH", f"{PREFIX}/activeNumbers/{{number}}", self._guard(self._update))
        router.add("POST", f"{PREFIX}/activeNumbers/{{number}}", self._guard(self._release))
        router.add("GET", f"{PREFIX}/availableNumbers", self._guard(self._search))
        router.add("GET", f"{PREFIX}/availableNumbers/{{number}}", self._guard(self._get_avail))
        router.add("POST", f"{PREFIX}/availableNumbers/{{number}}", self._guard(self._rent))
        router.add("POST", f"{PREFIX}/availableNumbers:rentAny", self._guard(self._rent_any))
        router.add("GET", f"{PREFIX}/availableRegions", self._guard(self._regions))
        router.add("GET", f"{PREFIX}/callbackConfiguration", self._guard(self._get_callbacks))
        router.add("PATCH", f"{PREFIX}/callbackConfiguration", self._guard(self._set_callbacks))

    def _guard(self, handler: Callable[[RequestContext], Reply]) -> Callable[..., Reply]:
        def route(ctx: RequestContext) -> Reply:
            try:
                self._authenticate(ctx.headers.get("Authorization", ""))
            except ApiError as exc:
                reply = _error(exc.status, exc.text)
                reply.headers.update(exc.headers)
                return reply
            if ctx.params.get("project") != self.project_id:
                return _error(403, "permission denied for this project")
            self.advance()
            return handler(ctx)

        return route

    # -- provisioning --------------------------------------------------------------------

    def _stamp(self) -> str:
        return format_timestamp(self._now())

    def _schedule(self, record: JSONObject, body: JSONObject, *, renting: bool) -> None:
        """Schedule the SMS and voice configuration of ``body`` on ``record``."""
        number = str(record["phoneNumber"])
        sms = body.get("smsConfiguration")
        if isinstance(sms, dict):
            config = dict(record.get("smsConfiguration") or {})
            if renting:
                config.update(servicePlanId="", campaignId="")
            config["scheduledProvisioning"] = {
                "servicePlanId": sms.get("servicePlanId", ""),
                "campaignId": sms.get("campaignId", ""),
                "status": "WAITING",
                "lastUpdatedTime": self._stamp(),
                "errorCodes": [],
            }
            record["smsConfiguration"] = config
            self._scheduled[(number, "sms")] = self._now()
        voice = body.get("voiceConfiguration")
        if isinstance(voice, dict):
            config = dict(record.get("voiceConfiguration") or {})
            config["scheduledVoiceProvisioning"] = {
                **voice,
                "status": "WAITING",
                "lastUpdatedTime": self._stamp(),
            }
            record["voiceConfiguration"] = config
            self._scheduled[(number, "voice")] = self._now()

    def advance(self) -> None:
        """Move every scheduled provisioning on by the fake's clock (each request does)."""
        now = self._now()
        for (number, channel), since in list(self._scheduled.items()):
            record = self.active.get(number)
            key, inner = (
                ("smsConfiguration", "scheduledProvisioning")
                if channel == "sms"
                else ("voiceConfiguration", "scheduledVoiceProvisioning")
            )
            config = record.get(key) if record is not None else None
            scheduled = config.get(inner) if isinstance(config, dict) else None
            if not isinstance(config, dict) or not isinstance(scheduled, dict):
                del self._scheduled[(number, channel)]  # released meanwhile
                continue
            elapsed = (now - since).total_seconds()
            if elapsed >= self.provisioning_delay:
                del self._scheduled[(number, channel)]
                self._finish(config, channel, scheduled)
            elif elapsed * 2 >= self.provisioning_delay and scheduled["status"] == "WAITING":
                scheduled.update(status="IN_PROGRESS", lastUpdatedTime=self._stamp())

    def _finish(self, config: JSONObject, channel: str, scheduled: JSONObject) -> None:
        ids = [v for k, v in scheduled.items() if k not in ("status", "type") and v]
        codes = next(
            (self.provisioning_failures[i] for i in ids if i in self.provisioning_failures),
            None,
        )
        if codes is not None:
            scheduled.update(status="FAILED", lastUpdatedTime=self._stamp())
            if channel == "sms":
                scheduled["errorCodes"] = list(codes)
            return
        if channel == "sms":
            config["servicePlanId"] = scheduled.get("servicePlanId", "")
            config["campaignId"] = scheduled.get("campaignId", "")
            config["scheduledProvisioning"] = None
            return
        kind = str(scheduled.get("type") or "RTC")
        for name in VOICE_IDS.values():
            config.pop(name, None)
        config.update(
            type=kind,
            lastUpdatedTime=self._stamp(),
            scheduledVoiceProvisioning=None,
        )
        config[VOICE_IDS.get(kind, "appId")] = scheduled.get(VOICE_IDS.get(kind, "appId"), "")

    @staticmethod
    def _check_configuration(body: JSONObject) -> Reply | None:
        """A 400 for a configuration object the reference says Sinch refuses: an SMS one
        without ``servicePlanId``, a voice one without its type's id (or empty)."""
        sms = body.get("smsConfiguration")
        if "smsConfiguration" in body and (
            not isinstance(sms, dict) or not isinstance(sms.get("servicePlanId"), str)
        ):
            return _error(400, "smsConfiguration.servicePlanId is required")
        if "voiceConfiguration" not in body:
            return None
        voice = body.get("voiceConfiguration")
        if not isinstance(voice, dict) or not voice:
            return _error(400, "voiceConfiguration must not be empty")
        kind = voice.get("type", "RTC")
        if kind not in VOICE_IDS:
            return _bad_value("voiceConfiguration.type", kind)
        ident = voice.get(VOICE_IDS[kind])
        if not isinstance(ident, str) or not ident:
            return _error(400, f"voiceConfiguration.{VOICE_IDS[kind]} is required for {kind}")
        return None

    def _check_enums(
        self, ctx: RequestContext, *names: tuple[str, tuple[str, ...]]
    ) -> Reply | None:
        for name, allowed in names:
            for value in self._values(ctx, name):
                if value not in allowed:
                    return _bad_value(name, value)
        return None

    @staticmethod
    def _values(ctx: RequestContext, name: str) -> list[str]:
        return [v for k, v in ctx.query if k == name]

    @staticmethod
    def _body(ctx: RequestContext) -> JSONObject:
        if not ctx.body:
            return {}
        try:
            data = orjson.loads(ctx.body)
        except orjson.JSONDecodeError:
            return {"__invalid__": True}
        return data if isinstance(data, dict) else {"__invalid__": True}

    @staticmethod
    def _matches(record: JSONObject, pattern: str | None, position: str | None) -> bool:
        if not pattern:
            return True
        number = str(record["phoneNumber"])
        if position == "START":
            return number.startswith(pattern)
        if position == "END":
            return number.endswith(pattern)
        return pattern in number

    def _list_active(self, ctx: RequestContext) -> Reply:
        bad = self._check_enums(
            ctx,
            ("type", NUMBER_TYPES),
            ("capability", CAPABILITIES),
            ("numberPattern.searchPattern", SEARCH_PATTERNS),
            ("orderBy", ORDER_BY),
        )
        if bad is not None:
            return bad
        region = ctx.query_value("regionCode")
        kind = ctx.query_value("type") or self.untyped_list_type
        caps = set(self._values(ctx, "capability"))
        pattern = ctx.query_value("numberPattern.pattern")
        position = ctx.query_value("numberPattern.searchPattern")
        order = _ORDER_KEYS[ctx.query_value("orderBy") or "phoneNumber"]
        size = parse_int(ctx.query_value("pageSize") or "100")
        if size is None:
            return _error(400, 'parsing field "pageSize": not an integer')
        if not 1 <= size <= C.MAX_NUMBERS_PAGE_SIZE:
            return _error(400, f"pageSize must be 1..{C.MAX_NUMBERS_PAGE_SIZE}")
        matching = [
            r
            for r in sorted(self.active.values(), key=order)
            if (region is None or r["regionCode"] == region)
            and (kind is None or r["type"] == kind)
            and caps.issubset(r["capability"])
            and self._matches(r, pattern, position)
        ]
        start = 0
        token = ctx.query_value("pageToken")
        if token is not None:
            if token not in self._tokens:
                return _error(400, "invalid page token")
            start = self._tokens[token]
        page = matching[start : start + size]
        next_token = ""
        if start + size < len(matching):
            next_token = f"t{self._rng.getrandbits(64):016x}"
            self._tokens[next_token] = start + size
        body = {"activeNumbers": page, "nextPageToken": next_token, "totalSize": len(matching)}
        return Reply(200, body)

    def _split(self, ctx: RequestContext) -> tuple[str, str]:
        number, _, verb = ctx.params["number"].partition(":")
        return number, verb

    def _get_active(self, ctx: RequestContext) -> Reply:
        number, verb = self._split(ctx)
        record = self.active.get(number)
        if verb or record is None:
            return _not_found("ActiveNumber", number)
        return Reply(200, record)

    def _update(self, ctx: RequestContext) -> Reply:
        number, verb = self._split(ctx)
        record = self.active.get(number)
        if verb or record is None:
            return _not_found("ActiveNumber", number)
        body = self._body(ctx)
        if "__invalid__" in body:
            return _error(400, "invalid JSON body")
        bad = self._check_configuration(body)
        if bad is not None:
            return bad
        if "displayName" in body:
            record["displayName"] = body["displayName"]
        if "callbackUrl" in body:
            record["callbackUrl"] = body["callbackUrl"]
        self._schedule(record, body, renting=False)
        return Reply(200, record)

    def _release(self, ctx: RequestContext) -> Reply:
        number, verb = self._split(ctx)
        if verb != "release":
            return _error(404, f"no method {verb!r}")
        record = self.active.pop(number, None)
        if record is None:
            return _not_found("ActiveNumber", number)
        return Reply(200, record)

    def _search(self, ctx: RequestContext) -> Reply:
        region, kind = ctx.query_value("regionCode"), ctx.query_value("type")
        if region is None or kind is None:
            return _error(400, "regionCode and type are required")
        bad = self._check_enums(
            ctx,
            ("type", NUMBER_TYPES),
            ("capabilities", CAPABILITIES),
            ("numberPattern.searchPattern", SEARCH_PATTERNS),
        )
        if bad is not None:
            return bad
        caps = set(self._values(ctx, "capabilities"))
        pattern = ctx.query_value("numberPattern.pattern")
        position = ctx.query_value("numberPattern.searchPattern")
        size = parse_int(ctx.query_value("size") or "10")
        if size is None or size < 1:
            return _error(400, 'parsing field "size": not a positive integer')
        found = [
            r
            for r in sorted(self.available.values(), key=lambda r: str(r["phoneNumber"]))
            if r["regionCode"] == region
            and r["type"] == kind
            and caps.issubset(r["capability"])
            and self._matches(r, pattern, position)
        ]
        return Reply(200, {"availableNumbers": found[:size]})

    def _get_avail(self, ctx: RequestContext) -> Reply:
        number, verb = self._split(ctx)
        record = self.available.get(number)
        if verb or record is None:
            return _not_found("AvailableNumber", number)
        return Reply(200, record)

    def _take(self, record: JSONObject, body: JSONObject) -> Reply:
        number = str(record["phoneNumber"])
        self.available.pop(number, None)
        active = self.active_record(
            number,
            regionCode=record["regionCode"],
            type=record["type"],
            capability=list(record["capability"]),
            callbackUrl=body.get("callbackUrl", ""),
        )
        self.active[number] = active
        self._schedule(active, body, renting=True)
        return Reply(200, active)

    def _rent(self, ctx: RequestContext) -> Reply:
        number, verb = self._split(ctx)
        if verb != "rent":
            return _error(404, f"no method {verb!r}")
        body = self._body(ctx)
        if "__invalid__" in body:
            return _error(400, "invalid JSON body")
        bad = self._check_configuration(body)
        if bad is not None:
            return bad
        record = self.available.get(number)
        if record is None:
            return _not_found("AvailableNumber", number)
        return self._take(record, body)

    def _rent_any(self, ctx: RequestContext) -> Reply:
        body = self._body(ctx)
        if "__invalid__" in body:
            return _error(400, "invalid JSON body")
        region, kind = body.get("regionCode"), body.get("type")
        if not region or not kind:
            return _error(400, "regionCode and type are required")
        if kind not in NUMBER_TYPES:
            return _bad_value("type", kind)
        caps = set(body.get("capabilities") or [])
        if not caps <= set(CAPABILITIES):
            return _bad_value("capabilities", sorted(caps - set(CAPABILITIES)))
        pattern = body.get("numberPattern") or {}
        bad = self._check_configuration(body)
        if bad is not None:
            return bad
        for record in sorted(self.available.values(), key=lambda r: str(r["phoneNumber"])):
            if (
                record["regionCode"] == region
                and record["type"] == kind
                and caps.issubset(record["capability"])
                and self._matches(record, pattern.get("pattern"), pattern.get("searchPattern"))
            ):
                return self._take(record, body)
        return _error(404, "no number matches")

    def _regions(self, ctx: RequestContext) -> Reply:
        bad = self._check_enums(ctx, ("types", NUMBER_TYPES))
        if bad is not None:
            return bad
        types = set(self._values(ctx, "types"))
        regions: dict[str, set[str]] = {}
        for record in self.available.values():
            regions.setdefault(str(record["regionCode"]), set()).add(str(record["type"]))
        out = [
            {
                "regionCode": code,
                "regionName": self.regions.get(code, code),
                "types": sorted(kinds, key=NUMBER_TYPES.index),
            }
            for code, kinds in sorted(regions.items())
            if not types or kinds & types
        ]
        return Reply(200, {"availableRegions": out})

    # -- callback configuration ----------------------------------------------------------

    def _callbacks_body(self) -> Reply:
        return Reply(200, {"projectId": self.project_id, "hmacSecret": self.hmac_secret})

    def _get_callbacks(self, ctx: RequestContext) -> Reply:
        return self._callbacks_body()

    def _set_callbacks(self, ctx: RequestContext) -> Reply:
        body = self._body(ctx)
        if "__invalid__" in body:
            return _error(400, "invalid JSON body")
        secret = body.get("hmacSecret")
        if "hmacSecret" in body:
            if not isinstance(secret, str):
                return _bad_value("hmacSecret", secret)
            self.hmac_secret = secret
        return self._callbacks_body()
