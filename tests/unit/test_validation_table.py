"""Table-driven fidelity: requests Sinch accepts go out (normalised as documented), requests it
refuses (or that are unsafe) are refused before any request, naming the field.

Sources: ../shared/docs/sinch-sms-api.md (the reference), the official SDK fixtures in
../shared/anchors (their valid values; some of their unit-test values break documented rules,
e.g. the parameter key "an identifier" or the udh "foo udh", and are in the invalid table),
and the API guide's number formats.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from aioresponses import CallbackResult, aioresponses

from sinch_async import (
    AutoUpdate,
    BinaryBatchUpdate,
    GroupKeyword,
    MediaBatchUpdate,
    MediaBody,
    SinchClient,
    SinchValidationError,
    TextBatchRequest,
)

BASE = "https://eu.sms.api.sinch.com/xms/v1/plan-1"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GROUP = "01FC66621XXXXX119Z8PMV1AHY"  # the fixtures' group id
MOCK_GROUP = "01W4FFL35P4NC4K35SMSGROUP1"  # Sinch's mock server: not a ULID
BIN_BODY = "SGkgJHtuYW1lfSAoJHthbl9pZGVudGlmaWVyfSkgISBIb3cgYXJlIHlvdT8="  # fixture
BATCH = {"id": "01FC66621XXXXX119Z8PMV1QPQ", "to": ["+46701234567"], "type": "mt_text"}
GROUP_JSON = {"id": GROUP, "name": "x", "size": 1}

Op = Callable[[SinchClient], Awaitable[Any]]


def text(**kw: Any) -> Op:
    fields = {"to": ["+46701234567"], "body": "Hi", **kw}
    return lambda c: c.batches.send_text(**fields)


VALID: list[tuple[str, Op, dict[str, Any]]] = [
    # (id, operation, what must be on the wire: JSON body subset, or {"query": {...}})
    ("e164", text(), {"to": ["+46701234567"]}),
    ("no-plus", text(to=["46701234567"]), {"to": ["46701234567"]}),
    ("00-prefix", text(to=["0046701234567"]), {"to": ["+46701234567"]}),
    ("spaces", text(to=["+46 70 123 45 67"]), {"to": ["+46701234567"]}),
    ("brackets-dashes", text(to=["+1 (555) 123-1234"]), {"to": ["+15551231234"]}),
    ("dots", text(to=["+46.70.123.45.67"]), {"to": ["+46701234567"]}),
    ("short-code", text(to=["12345"]), {"to": ["12345"]}),
    ("short-code-3", text(to=["911"]), {"to": ["911"]}),
    ("group-ulid", text(to=[GROUP]), {"to": [GROUP]}),
    ("group-mock-id", text(to=[MOCK_GROUP]), {"to": [MOCK_GROUP]}),
    ("group-any-id", text(to=["vip_customers-2"]), {"to": ["vip_customers-2"]}),
    (
        "mixed",
        text(to=["+15551231234", "15551256344", GROUP]),
        {"to": ["+15551231234", "15551256344", GROUP]},
    ),
    ("trailing-newline", text(to=["+46701234567\n"]), {"to": ["+46701234567"]}),
    ("1000-recipients", text(to=[f"+4670{i:07d}" for i in range(1000)]), {}),
    ("body-2000", text(body="x" * 2000), {"body": "x" * 2000}),
    ("unicode-body", text(body="Hej då 👋"), {"body": "Hej då 👋"}),
    (
        "parameters",
        text(body="Hi ${name}", parameters={"name": {"+46701234567": "Ada", "default": "you"}}),
        {"parameters": {"name": {"+46701234567": "Ada", "default": "you"}}},
    ),
    ("param-key-chars", text(parameters={"a.b-c_D9": {"default": "v"}}), {}),
    ("dr-upper", text(delivery_report="FULL"), {"delivery_report": "full"}),
    ("dr-final", text(delivery_report="per_recipient_final"), {}),
    ("dr-unknown", text(delivery_report="future_kind"), {"delivery_report": "future_kind"}),
    (
        "send-expire-3d",
        text(send_at=T0, expire_at=T0 + timedelta(days=3)),
        {"send_at": "2026-12-01T12:00:00Z", "expire_at": "2026-12-04T12:00:00Z"},
    ),
    ("callback-2048", text(callback_url="https://a.example/" + "x" * 2029), {}),
    ("reference-2048", text(client_reference="r" * 2048), {}),
    ("from-alnum", text(from_="MyBrand"), {"from": "MyBrand"}),
    ("from-alnum-space", text(from_="Acme 2"), {"from": "Acme 2"}),
    ("from-short-code", text(from_="12345"), {"from": "12345"}),
    ("from-as-given", text(from_="+46 70 123 45 67"), {"from": "+46 70 123 45 67"}),
    ("ton-npi-fixture", text(from_ton=6, from_npi=18), {"from_ton": 6, "from_npi": 18}),
    ("parts-flash", text(max_number_of_message_parts=1, flash_message=True), {}),
    (
        "binary-fixture",
        lambda c: c.batches.send_binary(to=["+15551231234"], body=BIN_BODY, udh="666F6F20756468"),
        {"type": "mt_binary", "udh": "666F6F20756468"},
    ),
    (
        "binary-empty-body",
        lambda c: c.batches.send_binary(to=["+15551231234"], body="", udh="0605040B8423F0"),
        {"body": ""},
    ),
    (
        "binary-140",
        lambda c: c.batches.send_binary(
            to=["+15551231234"], body="QUFB" * 44 + "QQ==", udh="00" * 7
        ),
        {},
    ),
    (
        "media-long-url",
        lambda c: c.batches.send_media(
            to=["+15551231234"], media_body=MediaBody(url="https://a.example/" + "m" * 3000)
        ),
        {"type": "mt_media"},
    ),
    (
        "dry-run-text",
        lambda c: c.batches.dry_run_text(
            to=["+46 70 123 45 67"], body="x", per_recipient=True, number_of_recipients=1000
        ),
        {"to": ["+46701234567"], "query": {"per_recipient": "true"}},
    ),
    (
        "replace-binary",
        lambda c: c.batches.replace_binary("01B", to=["0046701234567"], body="aGk=", udh="00"),
        {"to": ["+46701234567"], "type": "mt_binary"},
    ),
    (
        "update-common-fields",
        lambda c: c.batches.update("01B", to_add=["0046701234567"], delivery_report="SUMMARY"),
        {"type": "mt_text", "to_add": ["+46701234567"], "delivery_report": "summary"},
    ),
    (
        "update-binary",
        lambda c: c.batches.update("01B", BinaryBatchUpdate(udh="0605040B8423F0")),
        {"type": "mt_binary", "udh": "0605040B8423F0"},
    ),
    (
        "update-media",
        lambda c: c.batches.update("01B", MediaBatchUpdate(body=MediaBody(url="https://a/b"))),
        {"type": "mt_media"},
    ),
    (
        "feedback-1500",
        lambda c: c.batches.send_delivery_feedback("01B", [f"+4670{i:07d}" for i in range(1500)]),
        {},
    ),
    ("feedback-empty", lambda c: c.batches.send_delivery_feedback("01B", []), {"recipients": []}),
    (
        "group-create",
        lambda c: c.groups.create(
            name="My new customers",
            members=["+1 555 123 1234"],
            child_groups=[GROUP, MOCK_GROUP],
            auto_update=AutoUpdate(
                to="15551231234", add=GroupKeyword(first_word="JOIN", second_word="VIP")
            ),
        ),
        {"members": ["+15551231234"], "child_groups": [GROUP, MOCK_GROUP]},
    ),
    (
        "group-update",
        lambda c: c.groups.update(GROUP, add=["0046701234567"], add_from_group=MOCK_GROUP),
        {"add": ["+46701234567"], "add_from_group": MOCK_GROUP},
    ),
    (
        "group-replace",
        lambda c: c.groups.replace(GROUP, members=["+46 70-123 45 67"]),
        {"members": ["+46701234567"]},
    ),
    (
        "report-status-upper",
        lambda c: c.delivery_reports.get("01B", status=["DELIVERED", "failed"]),
        {"query": {"status": "Delivered,Failed"}},
    ),
    (
        "report-status-unknown",
        lambda c: c.delivery_reports.get("01B", status=["SomethingNew"], code=[0, 402]),
        {"query": {"status": "SomethingNew", "code": "0,402"}},
    ),
    (
        "list-150-senders",
        lambda c: _first(c.batches.list(from_=[f"+4670{i:07d}" for i in range(150)])),
        {},
    ),
    (
        "inbounds-150-to",
        lambda c: _first(c.inbounds.list(to=["0046701234567", *[f"1{i:04d}" for i in range(149)]])),
        {"query_prefix": {"to": "+46701234567,"}},
    ),
]

INVALID: list[tuple[str, Op, str]] = [
    # (id, operation, the field the error must name)
    ("to-empty", text(to=[]), "to"),
    ("to-1001", text(to=[f"+4670{i:07d}" for i in range(1001)]), "to"),
    ("to-string", text(to=7), "TextBatchRequest"),
    ("too-short", text(to=["+4670"]), "to"),
    ("leading-zero-fixture", text(to=["+0987654321"]), "to"),
    ("words", text(to=["hello world"]), "to"),
    ("vanity", text(to=["+1-555-CALL-NOW"]), "to"),
    ("two-digits", text(to=["12"]), "to"),
    ("group-newline", text(to=[GROUP + "\n"]), "to"),
    ("group-65", text(to=["g" * 65]), "to"),
    ("body-2001", text(body="x" * 2001), "body"),
    (
        "body-none",
        lambda c: c.batches.send(TextBatchRequest(to=["+4670123456"], body=None)),
        "body",
    ),  # type: ignore[arg-type]
    (
        "binary-not-base64",
        lambda c: c.batches.send_binary(to=["+15551231234"], body="not base64!", udh="00"),
        "body",
    ),
    (
        "udh-fixture-not-hex",
        lambda c: c.batches.send_binary(to=["+15551231234"], body=BIN_BODY, udh="foo udh"),
        "udh",
    ),
    (
        "binary-141",
        lambda c: c.batches.send_binary(to=["+15551231234"], body="QUFB" * 47, udh="00" * 1),
        "body",
    ),
    (
        "binary-update-no-udh",
        lambda c: c.batches.update("01B", BinaryBatchUpdate(body="aGk=")),
        "udh",
    ),
    ("parameters-list", text(parameters=[1]), "parameters"),
    ("param-key-fixture-space", text(parameters={"an identifier": {"default": "v"}}), "parameters"),
    ("param-key-newline", text(parameters={"name\n": {"default": "v"}}), "parameters"),
    ("param-values", text(parameters={"name": "v"}), "parameters"),
    ("dr-empty", text(delivery_report=""), "delivery_report"),
    ("dr-int", text(delivery_report=5), "delivery_report"),
    ("naive-send-at", text(send_at=datetime(2026, 12, 1)), "send_at"),
    ("expire-before", text(send_at=T0, expire_at=T0 - timedelta(1)), "expire_at"),
    ("expire-4d", text(send_at=T0, expire_at=T0 + timedelta(days=3, seconds=1)), "expire_at"),
    ("callback-fixture-not-url", text(callback_url="callback url"), "callback_url"),
    ("callback-2049", text(callback_url="https://a.example/" + "x" * 2031), "callback_url"),
    ("reference-2049", text(client_reference="r" * 2049), "client_reference"),
    ("from-empty", text(from_=" "), "from_"),
    ("from-no-number-no-letter", text(from_="+1202"), "from_"),
    ("from-unicode-digits", text(from_="\u0664\u0666\u0667\u0660\u0661"), "from_"),
    ("from-comma", text(from_="Acme,Inc"), "from_"),
    ("from-control", text(from_="Acme\n"), "from_"),
    ("ton-7", text(from_ton=7), "from_ton"),
    ("npi-19", text(from_npi=19), "from_npi"),
    ("parts-0", text(max_number_of_message_parts=0), "max_number_of_message_parts"),
    ("misspelt-field", text(delivery_reprot="full"), "TextBatchRequest"),
    (
        "media-ftp",
        lambda c: c.batches.send_media(to=["+15551231234"], media_body=MediaBody(url="ftp://x")),
        "media_body.url",
    ),
    (
        "media-not-body",
        lambda c: c.batches.send_media(to=["+15551231234"], media_body="https://a/b"),
        "media_body",
    ),
    ("id-dotdot", lambda c: c.batches.get(".."), "batch_id"),
    ("id-dot", lambda c: c.batches.cancel("."), "batch_id"),
    ("id-control", lambda c: c.batches.get("01B\n"), "batch_id"),
    ("group-id-dotdot", lambda c: c.groups.delete(".."), "group_id"),
    (
        "keyword-two-words-fixture",
        lambda c: c.groups.create(
            auto_update=AutoUpdate(to="15551231234", add=GroupKeyword(first_word="Add 1st"))
        ),
        "auto_update.add.first_word",
    ),
    (
        "keyword-16",
        lambda c: c.groups.create(
            auto_update=AutoUpdate(to="15551231234", add=GroupKeyword(first_word="k" * 16))
        ),
        "auto_update.add.first_word",
    ),
    ("group-name-21", lambda c: c.groups.create(name="n" * 21), "name"),
    (
        "members-10001",
        lambda c: c.groups.create(members=[f"+467{i:08d}" for i in range(10_001)]),
        "members",
    ),
    ("child-groups-11", lambda c: c.groups.create(child_groups=[MOCK_GROUP] * 11), "child_groups"),
    (
        "add-from-bad-group",
        lambda c: c.groups.update(GROUP, add_from_group="+4670"),
        "add_from_group",
    ),
    ("status-empty", lambda c: c.delivery_reports.get("01B", status=[""]), "status"),
    ("code-negative", lambda c: c.delivery_reports.get("01B", code=[-1]), "code"),
    ("page-size-0", lambda c: _first(c.batches.list(page_size=0)), "page_size"),
    ("update-nothing", lambda c: c.batches.update("01B"), "update"),
    (
        "resume-negative-page",
        lambda c: _first(
            c.batches.list(
                resume={
                    "resource": "batches",
                    "filters": [],
                    "page_size": 10,
                    "page": -1,
                    "offset": 0,
                    "yielded": 0,
                }
            )
        ),
        "resume",
    ),
    (
        "resume-foreign-filter",
        lambda c: _first(
            c.batches.list(
                resume={
                    "resource": "batches",
                    "filters": [["admin", "1"]],
                    "page_size": 10,
                    "page": 0,
                    "offset": 0,
                    "yielded": 0,
                }
            )
        ),
        "resume",
    ),
]


async def _first(pager: Any) -> Any:
    async for item in pager:
        return item
    return None


def _respond(url: Any, **kwargs: Any) -> CallbackResult:
    path = urlsplit(str(url)).path
    if path.endswith("/delivery_feedback"):
        return CallbackResult(status=202, body=b"")
    if "/delivery_report" in path:
        body = {"batch_id": "01B", "statuses": [], "total_message_count": 0, "type": "full"}
        return CallbackResult(status=200, body=orjson.dumps(body))
    if path.endswith("/dry_run"):
        return CallbackResult(
            status=200, body=orjson.dumps({"number_of_recipients": 1, "number_of_messages": 1})
        )
    if path.endswith("/batches") and kwargs.get("method", "POST") == "GET":
        return CallbackResult(status=200, body=orjson.dumps({"count": 0, "page": 0, "batches": []}))
    if path.endswith("/inbounds"):
        return CallbackResult(
            status=200, body=orjson.dumps({"count": 0, "page": 0, "inbounds": []})
        )
    if "/groups" in path:
        return CallbackResult(status=200, body=orjson.dumps(GROUP_JSON))
    sent = orjson.loads(kwargs["data"]) if kwargs.get("data") else {}
    return CallbackResult(status=201, body=orjson.dumps({**BATCH, "type": sent.get("type")}))


@pytest.mark.parametrize(("case", "op", "wire"), VALID, ids=[v[0] for v in VALID])
async def test_valid_request_reaches_the_wire_normalised(
    eu_client: SinchClient, case: str, op: Op, wire: dict[str, Any]
) -> None:
    with aioresponses() as mocked:
        for method in ("GET", "POST", "PUT", "DELETE"):
            mocked.add(
                re.compile(r"https://eu\.sms\.api\.sinch\.com/.*"),
                method,
                callback=_respond,
                repeat=True,
            )
        await op(eu_client)
        calls = [(k[0], k[1], c.kwargs) for k, cs in mocked.requests.items() for c in cs]
    assert len(calls) == 1, f"{case}: {calls}"
    _method, url, kwargs = calls[0]
    query = {k: v[0] for k, v in parse_qs(urlsplit(str(url)).query).items()}
    body = orjson.loads(kwargs["data"]) if kwargs.get("data") else {}
    for key, value in wire.items():
        if key == "query":
            assert {k: query.get(k) for k in value} == value, case
        elif key == "query_prefix":
            for name, prefix in value.items():
                assert query[name].startswith(prefix), case
        else:
            assert body.get(key) == value, f"{case}: {key}"
    assert b"null" not in (kwargs.get("data") or b""), case


def test_tables_are_big_enough() -> None:
    assert len(VALID) >= 40 and len(INVALID) >= 40


@pytest.mark.parametrize(("case", "op", "field"), INVALID, ids=[v[0] for v in INVALID])
async def test_invalid_request_is_refused_before_any_request(
    eu_client: SinchClient, case: str, op: Op, field: str
) -> None:
    with aioresponses() as mocked:  # any request at all fails the test
        with pytest.raises(SinchValidationError) as err:
            await op(eu_client)
        assert not mocked.requests, case
    assert err.value.field == field, f"{case}: {err.value}"
