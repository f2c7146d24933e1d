"""Every batch and error fixture from Sinch's official SDKs round-trips through the converter.

The fixtures are read from ``../shared/anchors/sinch-official`` (never copied into the
repo). Round-trip means JSON -> record -> JSON gives back the same JSON. Quirks of the
hand-written fixtures that real Sinch could also send are tolerated and named here.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sinch_async._converter import decode, decode_page, dumps
from sinch_async.models import (
    Batch,
    BatchDeliveryReport,
    BinaryBatch,
    BinaryBatchRequest,
    BinaryBatchUpdate,
    CreateGroupRequest,
    DeliveryFeedback,
    DryRunResult,
    Encoding,
    ErrorBody,
    Group,
    Inbound,
    MediaBatch,
    MediaBatchRequest,
    MediaBatchUpdate,
    MediaBody,
    MoBinary,
    MoMedia,
    MoText,
    RecipientDeliveryReport,
    ReplaceGroupRequest,
    TextBatch,
    TextBatchRequest,
    TextBatchUpdate,
    UpdateGroupRequest,
)
from tests.support.paths import ROOT, anchors_dir

# fixture path (relative to the anchors folder) -> record type
RECORDS: dict[str, Any] = {
    "java/sms-v1/BinaryRequestDto.json": BinaryBatchRequest,
    "java/sms-v1/MediaRequestDto.json": MediaBatchRequest,
    "java/sms-v1/UpdateSMSBinaryRequestDto.json": BinaryBatchUpdate,
    "java/sms-v1/UpdateSMSMediaRequestDto.json": MediaBatchUpdate,
    "java/sms-v1/UpdateSMSTextRequestDto.json": TextBatchUpdate,
    "java/sms-v1/batches/MediaBodyDto.json": MediaBody,
    "java/sms-v1/batches/request/BinaryRequestDto.json": BinaryBatchRequest,
    "java/sms-v1/batches/request/MediaRequestDto.json": MediaBatchRequest,
    "java/sms-v1/batches/request/TextRequestDto.json": TextBatchRequest,
    "java/sms-v1/batches/request/SendDeliveryFeedbackRequestDto.json": DeliveryFeedback,
    "java/sms-v1/batches/request/UpdateBinaryRequestDto.json": BinaryBatchUpdate,
    "java/sms-v1/batches/request/UpdateMediaRequestDto.json": MediaBatchUpdate,
    "java/sms-v1/batches/request/UpdateTextRequestDto.json": TextBatchUpdate,
    "java/sms-v1/batches/response/BinaryResponseDto.json": Batch,
    "java/sms-v1/batches/response/MediaResponseDto.json": Batch,
    "java/sms-v1/batches/response/TextResponseDto.json": Batch,
    "java/sms-v1/batches/response/DryRunResponseDto.json": DryRunResult,
    "java/sms-v1/error-response.json": ErrorBody,
    "dotnet/Sms/Batch/BinaryResponse.json": Batch,
    "dotnet/Sms/Batch/MediaResponse.json": Batch,
    "dotnet/Sms/Batch/TextResponse.json": Batch,
    "dotnet/Sms/Batch/SendBinaryBatchRequest.json": BinaryBatchRequest,
    "dotnet/Sms/Batch/SendMediaBatchRequest.json": MediaBatchRequest,
    "dotnet/Sms/Batch/SendTextBatchRequest.json": TextBatchRequest,
    "dotnet/Sms/Batch/UpdateBinaryRequest.json": BinaryBatchUpdate,
    "dotnet/Sms/Batch/UpdateMediaRequest.json": MediaBatchUpdate,
    "dotnet/Sms/Batch/UpdateTextRequest.json": TextBatchUpdate,
    "java/sms-v1/deliveryreports/BatchDeliveryReportMMSDto.json": BatchDeliveryReport,
    "java/sms-v1/deliveryreports/BatchDeliveryReportSMSDto.json": BatchDeliveryReport,
    "java/sms-v1/deliveryreports/RecipientDeliveryReportMMSDto.json": RecipientDeliveryReport,
    "java/sms-v1/deliveryreports/RecipientDeliveryReportSMSDto.json": RecipientDeliveryReport,
    "java/sms-v1/groups/GroupDto.json": Group,
    "java/sms-v1/groups/request/GroupRequestDto.json": CreateGroupRequest,
    "java/sms-v1/groups/request/GroupUpdateRequestDto.json": UpdateGroupRequest,
    "java/sms-v1/CreateGroupRequestDto.json": CreateGroupRequest,
    "java/sms-v1/ReplaceGroupRequestDto.json": ReplaceGroupRequest,
    "java/sms-v1/inbounds/InboundBinaryDto.json": Inbound,
    "java/sms-v1/inbounds/InboundMediaDto.json": Inbound,
    "java/sms-v1/inbounds/InboundTextDto.json": Inbound,
    "dotnet/Sms/Inbounds/InboundMedia.json": Inbound,
}

# list responses: path -> (items key, item type)
_LISTS = {
    "batches/response/ListBatchesResponseDto": ("batches", Batch),
    "deliveryreports/response/ListDeliveryReportResponseDto": (
        "delivery_reports",
        RecipientDeliveryReport,
    ),
    "groups/response/ListGroupsResponseDto": ("groups", Group),
    "inbounds/response/internal/InboundsListResponseDto": ("inbounds", Inbound),
}
PAGES: dict[str, tuple[str, Any]] = {
    f"java/sms-v1/{stem}Page{n}.json": spec for stem, spec in _LISTS.items() for n in range(3)
}


def _load(rel: str) -> tuple[bytes, Any]:
    raw = (anchors_dir() / rel).read_bytes()
    return raw, _normalise(orjson.loads(raw))


def _normalise(data: Any) -> Any:
    """The JSON we expect back, where a fixture quirk is something real Sinch could send.

    GroupDto.json and CreateGroupRequestDto.json give ``auto_update.to`` as a JSON number
    while the API documents a string (a phone number or short code, which may need a
    leading ``+``): we accept the number and hand it back as the string it stands for.
    """
    if isinstance(data, dict):
        out = {k: _normalise(v) for k, v in data.items()}
        auto = out.get("auto_update")
        if isinstance(auto, dict) and isinstance(auto.get("to"), int):
            out["auto_update"] = {**auto, "to": str(auto["to"])}
        return out
    if isinstance(data, list):
        return [_normalise(v) for v in data]
    return data


def test_every_fixture_is_classified() -> None:
    root = anchors_dir()
    known = set(RECORDS) | set(PAGES)
    unclassified = [
        rel
        for p in sorted(root.rglob("*.json"))
        if (rel := p.relative_to(root).as_posix()) not in known
    ]
    assert unclassified == []


@pytest.mark.parametrize("rel", sorted(RECORDS))
def test_record_round_trips(rel: str) -> None:
    raw, data = _load(rel)
    record = decode(raw, RECORDS[rel])
    assert orjson.loads(dumps(record)) == data


@pytest.mark.parametrize("rel", sorted(PAGES))
def test_page_round_trips(rel: str) -> None:
    raw, data = _load(rel)
    key, item_type = PAGES[rel]
    page = decode_page(raw, key, item_type)
    assert (page.count, page.page, page.page_size) == (
        data["count"],
        data["page"],
        data["page_size"],
    )
    # page_size in a response is the number of items on that page (0 on the empty last page)
    assert page.page_size == len(page.items)
    assert [orjson.loads(dumps(item)) for item in page.items] == data[key]


def test_batch_union_picks_the_record_by_type() -> None:
    expected = {
        "java/sms-v1/batches/response/TextResponseDto.json": TextBatch,
        "java/sms-v1/batches/response/BinaryResponseDto.json": BinaryBatch,
        "java/sms-v1/batches/response/MediaResponseDto.json": MediaBatch,
    }
    for rel, cls in expected.items():
        raw, data = _load(rel)
        batch = decode(raw, Batch)
        assert isinstance(batch, cls)
        assert batch.id == data["id"]
        assert batch.from_ == data["from"]
        assert batch.created_at is not None and batch.created_at.tzinfo is not None


def test_placeholder_enum_value_survives_as_string() -> None:
    # DryRunResponseDto.json carries "encoding": "encoding string", a placeholder; an unknown
    # value Sinch might add later must survive the same way instead of failing the decode.
    raw, _ = _load("java/sms-v1/batches/response/DryRunResponseDto.json")
    result = decode(raw, DryRunResult)
    assert result.per_recipient is not None
    encoding = result.per_recipient[0].encoding
    assert encoding == "encoding string" and not isinstance(encoding, Encoding)


def test_binary_request_keeps_text_only_fields_the_fixture_sends() -> None:
    # java BinaryRequestDto.json sends flash_message/truncate_concat/max_number_of_message_parts
    # on a binary batch (older spec versions allowed them); nothing may be dropped.
    raw, data = _load("java/sms-v1/BinaryRequestDto.json")
    req = decode(raw, BinaryBatchRequest)
    assert req.flash_message is data["flash_message"]
    assert req.max_number_of_message_parts == data["max_number_of_message_parts"]


def test_anchor_folder_location_is_outside_the_repo() -> None:
    # the fixtures must be read from ../shared, not from a copy inside the repository
    repo = ROOT
    assert repo not in anchors_dir().resolve().parents


def test_inbound_union_and_number_quirk() -> None:
    kinds = {
        "java/sms-v1/inbounds/InboundTextDto.json": MoText,
        "java/sms-v1/inbounds/InboundBinaryDto.json": MoBinary,
        "java/sms-v1/inbounds/InboundMediaDto.json": MoMedia,
    }
    for rel, cls in kinds.items():
        raw, data = _load(rel)
        inbound = decode(raw, Inbound)
        assert isinstance(inbound, cls) and inbound.from_ == data["from"]
    raw, _ = _load("java/sms-v1/groups/GroupDto.json")
    group = decode(raw, Group)
    assert group.auto_update is not None and group.auto_update.to == "15551231234"
