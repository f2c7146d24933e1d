"""The Numbers API in the fake: ``/v1/projects/{project}/…`` on the same server, with
seeded active numbers, token paging, rent/release, Google-style error bodies."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

from ._http import Reply, RequestContext, Router
from ._util import ApiError, JSONObject

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
    """Active and available numbers of one project (plain camelCase dicts)."""

    def __init__(
        self,
        project_id: str,
        authenticate: Callable[[str], None],
        rng: random.Random | None = None,
    ) -> None:
        self.project_id = project_id
        self._authenticate = authenticate
        self._rng = rng or random.Random()
        self.active: dict[str, JSONObject] = {}
        self.available: dict[str, JSONObject] = {}
        self._tokens: dict[str, int] = {}

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
        """Add ``n`` active numbers ``+{start}``, ``+{start+1}``…; returns them."""
        numbers = [f"+{start + i}" for i in range(n)]
        for number in numbers:
            self.active[number] = self.active_record(number, **fields)
        return numbers

    def seed_available(self, n: int, *, start: int = 12065550000, **fields: Any) -> list[str]:
        """Add ``n`` numbers that can be rented."""
        numbers = [f"+{start + i}" for i in range(n)]
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
            return handler(ctx)

        return route

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
        region, kind = ctx.query_value("regionCode"), ctx.query_value("type")
        caps = set(self._values(ctx, "capability"))
        pattern = ctx.query_value("numberPattern.pattern")
        position = ctx.query_value("numberPattern.searchPattern")
        try:
            size = int(ctx.query_value("pageSize") or "100")
        except ValueError:
            return _error(400, 'parsing field "pageSize": not an integer')
        if not 1 <= size <= 1000:
            return _error(400, "pageSize must be 1..1000")
        matching = [
            r
            for r in sorted(self.active.values(), key=lambda r: str(r["phoneNumber"]))
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
        if "displayName" in body:
            record["displayName"] = body["displayName"]
        if "callbackUrl" in body:
            record["callbackUrl"] = body["callbackUrl"]
        sms = body.get("smsConfiguration")
        if isinstance(sms, dict):
            config = dict(record.get("smsConfiguration") or {})
            config["scheduledProvisioning"] = {
                "servicePlanId": sms.get("servicePlanId", ""),
                "campaignId": sms.get("campaignId", ""),
                "status": "WAITING",
                "lastUpdatedTime": None,
                "errorCodes": [],
            }
            record["smsConfiguration"] = config
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
        caps = set(self._values(ctx, "capabilities"))
        pattern = ctx.query_value("numberPattern.pattern")
        position = ctx.query_value("numberPattern.searchPattern")
        size = int(ctx.query_value("size") or "10")
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
        sms = body.get("smsConfiguration")
        if isinstance(sms, dict):
            active["smsConfiguration"] = {
                "servicePlanId": "",
                "campaignId": "",
                "scheduledProvisioning": {
                    "servicePlanId": sms.get("servicePlanId", ""),
                    "campaignId": sms.get("campaignId", ""),
                    "status": "WAITING",
                    "lastUpdatedTime": None,
                    "errorCodes": [],
                },
            }
        self.active[number] = active
        return Reply(200, active)

    def _rent(self, ctx: RequestContext) -> Reply:
        number, verb = self._split(ctx)
        if verb != "rent":
            return _error(404, f"no method {verb!r}")
        body = self._body(ctx)
        if "__invalid__" in body:
            return _error(400, "invalid JSON body")
        record = self.available.get(number)
        if record is None:
            return _not_found("AvailableNumber", number)
        return self._take(record, body)

    def _rent_any(self, ctx: RequestContext) -> Reply:
        body = self._body(ctx)
        region, kind = body.get("regionCode"), body.get("type")
        if not region or not kind:
            return _error(400, "regionCode and type are required")
        caps = set(body.get("capabilities") or [])
        pattern = body.get("numberPattern") or {}
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
        types = set(self._values(ctx, "types"))
        regions: dict[str, set[str]] = {}
        for record in self.available.values():
            regions.setdefault(str(record["regionCode"]), set()).add(str(record["type"]))
        out = [
            {"regionCode": code, "regionName": code, "types": sorted(kinds)}
            for code, kinds in sorted(regions.items())
            if not types or kinds & types
        ]
        return Reply(200, {"availableRegions": out})
