"""Property tests: what leaves the SDK, and what bad server output can do to it."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_async import Batch, DryRunResult, SinchDecodeError, TextBatchRequest
from sinch_async._converter import decode, decode_page, dumps
from sinch_async._validation import check_batch_request

msisdn = st.from_regex(r"\+[1-9][0-9]{9,13}", fullmatch=True)
aware = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z$")


@settings(max_examples=200, deadline=None)
@given(
    to=st.lists(msisdn, min_size=1, max_size=5),
    body=st.text(max_size=50),
    from_=st.none() | msisdn,
    send_at=st.none() | aware,
    client_reference=st.none() | st.text(max_size=20),
    flash=st.none() | st.booleans(),
)
def test_requests_never_carry_null_and_dates_end_in_z(
    to: list[str],
    body: str,
    from_: str | None,
    send_at: datetime | None,
    client_reference: str | None,
    flash: bool | None,
) -> None:
    req = TextBatchRequest(
        to=to,
        body=body,
        from_=from_,
        send_at=send_at,
        client_reference=client_reference,
        flash_message=flash,
    )
    check_batch_request(req)
    data = orjson.loads(dumps(req))
    assert None not in data.values()
    assert "from_" not in data
    assert data["to"] == to  # every recipient, with its +
    assert ("from" in data) == (from_ is not None)
    if send_at is not None:
        assert ISO_Z.match(data["send_at"])
        assert datetime.fromisoformat(data["send_at"]) == send_at


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
batchish = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "type": st.sampled_from(["mt_text", "mt_binary", "mt_media", "mt_new"]) | json_values,
        "to": json_values,
        "body": json_values,
        "created_at": st.sampled_from(["2026-01-01T00:00:00Z", "yesterday"]) | json_values,
        "canceled": json_values,
        "parameters": json_values,
        "from_ton": json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(payload=json_values | batchish)
def test_decoding_any_json_raises_only_decode_errors(payload: object) -> None:
    body = json.dumps(payload).encode()  # stdlib: also emits ints past 64 bits
    for cls in (Batch, DryRunResult):
        with contextlib.suppress(SinchDecodeError):
            decode(body, cls)
    with contextlib.suppress(SinchDecodeError):
        decode_page(body, "batches", Batch)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64))
def test_decoding_arbitrary_bytes_raises_only_decode_errors(raw: bytes) -> None:
    with contextlib.suppress(SinchDecodeError):
        decode(raw, Batch)
