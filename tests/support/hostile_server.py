"""A deliberately misbehaving imitation of the Sinch xms v1 API, run in its own process.

    python tests/support/hostile_server.py [--watch-stdin]

binds 127.0.0.1 on a free port, prints exactly one line ``PORT <n>`` and serves until it is
killed (or, with ``--watch-stdin``, until its stdin reaches EOF, so it never outlives the
test run that started it). Routes live under ``/xms/v1/{plan}/...``; bearer auth is not
checked. The service-plan id picks the misbehaviour, so one server serves every scenario:

==========================  ================================================================
plan                        behaviour
==========================  ================================================================
``honest``                  a control: 250 inbounds, honest pages and count
``repeat-page``             ``GET /inbounds`` always answers page 0's items *and* ``"page": 0``
                            whatever page was asked; honest ``count`` (250)
``repeat-page-bigcount``    the same with ``count`` 10,000,000
``relabel-page``            page 0's items labelled with the page number asked; count 250
``lying-count-high``        count 1,000,000, but only 300 real items (3 pages of 100), then
                            empty pages
``lying-count-low``         count 10, but 500 real items: full pages keep coming past it
``jitter-count``            300 honest inbounds within the last hour, but ``count`` is off by
                            a different amount (-5..+5, never 0) in every response
``redirect``                every request answers 307 to ``http://127.0.0.1:1/elsewhere``
                            with a body that looks like a valid page or batch
``undecodable-201``         ``POST /batches`` answers 201 with ``"to": "not-a-list"``
``undecodable-201-baddate`` ... 201 with ``"created_at": "yesterday"`` (the id is readable)
``undecodable-201-noid``    ... 201 with a batch-like JSON object that has no ``id``
``undecodable-201-nonjson`` ... 201 with ``<html>created</html>``
``normalised-echo``         ``POST /batches`` stores the batch but echoes ``to`` normalised
                            (``+46...`` -> ``46...``, ``0046...`` -> ``+46...``); the first
                            POST of each ``client_reference`` answers 503 *after* storing.
                            ``GET /batches`` lists the stored batches (normalised ``to``,
                            ``created_at`` = store time, ms precision, ``Z``)
==========================  ================================================================

Inbound times (and so the windows a sync sees) are anchored at the last ``POST /_reset``
(or server start): item ``i`` (``MO<plan-tag><i>``) was received ``(i + 1) * 10`` seconds
earlier, newest first. Honest-data scenarios honour ``start_date``/``end_date``; the
repeating ones ignore every filter.

Test support: ``GET /_stats`` -> ``{"requests": {plan: n, "plan METHOD /path": n, ...},
"posts": {plan: [body, ...]}, "stored": {plan: [batch id, ...]}, "tripped": [plan, ...],
"log": [...]}`` and ``POST /_reset`` (clears everything and re-anchors the clock).

Tripwire: a plan that gets more than ``TRIPWIRE`` requests since the last reset is answered
400 ``hostile_tripwire`` from then on, so a client stuck in an endless walk fails within
seconds instead of running into the test's timeout. Tests assert far lower counts.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import signal
import socket
import sys
import threading
from collections import Counter, defaultdict, deque
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

TRIPWIRE = 1000
REDIRECT_TO = "http://127.0.0.1:1/elsewhere"
SPACING = timedelta(seconds=10)

HONEST = "honest"
REPEAT_PAGE = "repeat-page"
REPEAT_PAGE_BIGCOUNT = "repeat-page-bigcount"
RELABEL_PAGE = "relabel-page"
LYING_COUNT_HIGH = "lying-count-high"
LYING_COUNT_LOW = "lying-count-low"
JITTER_COUNT = "jitter-count"
REDIRECT = "redirect"
UNDECODABLE = "undecodable-201"
UNDECODABLE_BADDATE = "undecodable-201-baddate"
UNDECODABLE_NOID = "undecodable-201-noid"
UNDECODABLE_NONJSON = "undecodable-201-nonjson"
NORMALISED_ECHO = "normalised-echo"

#: Batch ids the undecodable scenarios put in their 201 bodies (None: no readable id).
UNDECODABLE_IDS: dict[str, str | None] = {
    UNDECODABLE: "01HOSTILE00000000000000001",
    UNDECODABLE_BADDATE: "01HOSTILE00000000000000002",
    UNDECODABLE_NOID: None,
    UNDECODABLE_NONJSON: None,
}

#: How many real inbounds each list scenario holds.
INBOUND_TOTALS = {
    HONEST: 250,
    REPEAT_PAGE: 250,
    REPEAT_PAGE_BIGCOUNT: 250,
    RELABEL_PAGE: 250,
    LYING_COUNT_HIGH: 300,
    LYING_COUNT_LOW: 500,
    JITTER_COUNT: 300,
}

#: ``count`` offsets for jitter-count, cycled: consecutive responses never agree.
JITTER = (1, -2, 3, -4, 5, -1, 2, -3, 4, -5)

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def fmt(value: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss.SSSZ``, the way xms writes timestamps."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def ulid(rng: random.Random, now: datetime) -> str:
    value = (int(now.timestamp() * 1000) << 80) | rng.getrandbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def normalise(number: str) -> str:
    """What normalised-echo stores: ``+`` dropped, a ``00`` prefix turned into ``+``."""
    if number.startswith("+"):
        return number[1:]
    if number.startswith("00"):
        return "+" + number[2:]
    return number


class BadRequest(Exception):
    pass


class State:
    """Everything the server remembers between requests (cleared by ``POST /_reset``)."""

    def __init__(self) -> None:
        self.rng = random.Random(1234)
        self.reset()

    def reset(self) -> None:
        self.anchor = datetime.now(UTC).replace(microsecond=0)
        self.requests: Counter[str] = Counter()
        self.posts: defaultdict[str, list[Any]] = defaultdict(list)
        self.stored: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.refs_seen: defaultdict[str, set[str]] = defaultdict(set)
        self.tripped: set[str] = set()
        self.log: deque[dict[str, Any]] = deque(maxlen=2000)
        self.jitter = itertools.cycle(JITTER)
        self._inbounds: dict[str, list[dict[str, Any]]] = {}

    def inbounds(self, plan: str) -> list[dict[str, Any]]:
        """The plan's real inbounds, newest first."""
        items = self._inbounds.get(plan)
        if items is None:
            tag = "".join(word[0] for word in plan.split("-")).upper()
            items = [
                {
                    "type": "mo_text",
                    "id": f"MO{tag}{i:06d}",
                    "from": f"+4670{i:07d}",
                    "to": "12345",
                    "body": "x",
                    "received_at": fmt(self.anchor - (i + 1) * SPACING),
                }
                for i in range(INBOUND_TOTALS[plan])
            ]
            self._inbounds[plan] = items
        return items

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "posts": dict(self.posts),
            "stored": {plan: [b["id"] for b in batches] for plan, batches in self.stored.items()},
            "tripped": sorted(self.tripped),
            "log": list(self.log),
        }


def reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        content_type="application/json",
        headers=headers,
    )


def error(status: int, code: str, text: str) -> web.Response:
    return reply(status, {"code": code, "text": text})


def paging(query: Any) -> tuple[int, int]:
    try:
        page = int(query.get("page", 0))
        page_size = int(query.get("page_size", 30))
    except ValueError as exc:
        raise BadRequest(f"bad paging parameter: {exc}") from None
    if page < 0 or not 1 <= page_size <= 100:
        raise BadRequest("page must be >= 0 and page_size 1..100")
    return page, page_size


def in_window(items: list[dict[str, Any]], key: str, query: Any) -> list[dict[str, Any]]:
    try:
        start = parse_time(query["start_date"]) if "start_date" in query else None
        end = parse_time(query["end_date"]) if "end_date" in query else None
    except ValueError as exc:
        raise BadRequest(f"bad date: {exc}") from None
    out = []
    for item in items:
        when = parse_time(item[key])
        if (start is None or when >= start) and (end is None or when < end):
            out.append(item)
    return out


def page_body(key: str, items: list[dict[str, Any]], page: int, count: int) -> dict[str, Any]:
    return {"count": count, "page": page, "page_size": len(items), key: items}


# --- scenarios ------------------------------------------------------------------------------


def list_inbounds(state: State, plan: str, query: Any) -> web.Response:
    if plan not in INBOUND_TOTALS:
        return reply(200, page_body("inbounds", [], 0, 0))
    page, page_size = paging(query)
    data = state.inbounds(plan)
    if plan in (REPEAT_PAGE, REPEAT_PAGE_BIGCOUNT, RELABEL_PAGE):
        first = data[:page_size]  # filters ignored: always page 0's items
        if plan == RELABEL_PAGE:
            return reply(200, page_body("inbounds", first, page, len(data)))
        count = 10_000_000 if plan == REPEAT_PAGE_BIGCOUNT else len(data)
        return reply(200, page_body("inbounds", first, 0, count))
    matching = in_window(data, "received_at", query)
    items = matching[page * page_size : (page + 1) * page_size]
    count = len(matching)
    if plan == LYING_COUNT_HIGH:
        count = 1_000_000
    elif plan == LYING_COUNT_LOW:
        count = 10
    elif plan == JITTER_COUNT:
        count = max(0, count + next(state.jitter))
    return reply(200, page_body("inbounds", items, page, count))


def undecodable_send(plan: str, body: Any) -> web.Response:
    batch_id = UNDECODABLE_IDS[plan]
    if plan == UNDECODABLE_NONJSON:
        return web.Response(status=201, text="<html>created</html>", content_type="text/html")
    request = body if isinstance(body, dict) else {}
    batch: dict[str, Any] = {
        "id": batch_id,
        "type": "mt_text",
        "to": request.get("to", ["+46701234567"]),
        "body": request.get("body", "x"),
        "created_at": "2026-01-01T00:00:00.000Z",
        "canceled": False,
    }
    if plan == UNDECODABLE:
        batch["to"] = "not-a-list"
    elif plan == UNDECODABLE_BADDATE:
        batch["created_at"] = "yesterday"
    elif plan == UNDECODABLE_NOID:
        del batch["id"]
    if "client_reference" in request:
        batch["client_reference"] = request["client_reference"]
    return reply(201, batch)


def store_batch(state: State, plan: str, body: Any, *, normalise_to: bool) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("to"), list):
        raise BadRequest("a batch needs a JSON object with a 'to' list")
    now = datetime.now(UTC)
    to = [normalise(str(n)) for n in body["to"]] if normalise_to else list(body["to"])
    batch = {k: v for k, v in body.items() if k not in ("to", "type")}
    batch.update(
        id=ulid(state.rng, now),
        type=body.get("type", "mt_text"),
        to=to,
        created_at=fmt(now),
        modified_at=fmt(now),
        canceled=False,
    )
    batch.setdefault("delivery_report", "none")
    state.stored[plan].append(batch)
    return batch


def send_batch(state: State, plan: str, body: Any) -> web.Response:
    if plan in UNDECODABLE_IDS:
        return undecodable_send(plan, body)
    batch = store_batch(state, plan, body, normalise_to=plan == NORMALISED_ECHO)
    reference = batch.get("client_reference")
    if plan == NORMALISED_ECHO and reference is not None and reference not in state.refs_seen[plan]:
        state.refs_seen[plan].add(reference)
        return error(503, "service_unavailable", "stored it, but will not say so")
    return reply(201, batch)


def list_batches(state: State, plan: str, query: Any) -> web.Response:
    page, page_size = paging(query)
    matching = list(reversed(state.stored.get(plan, [])))  # newest first
    if "client_reference" in query:
        wanted = query["client_reference"]
        matching = [b for b in matching if b.get("client_reference") == wanted]
    matching = in_window(matching, "created_at", query)
    items = matching[page * page_size : (page + 1) * page_size]
    return reply(200, page_body("batches", items, page, len(matching)))


def get_batch(state: State, plan: str, batch_id: str) -> web.Response:
    for batch in state.stored.get(plan, []):
        if batch["id"] == batch_id:
            return reply(200, batch)
    return error(404, "not_found", f"batch '{batch_id}' not found")


def redirect(state: State, path: str, method: str, body: Any) -> web.Response:
    """307 elsewhere, with a body a careless client would happily decode."""
    now = fmt(datetime.now(UTC))
    batch = {
        "id": "01HREDIRECT000000000000000",
        "type": "mt_text",
        "to": body.get("to", ["+46701234567"]) if isinstance(body, dict) else ["+46701234567"],
        "body": body.get("body", "hi") if isinstance(body, dict) else "hi",
        "created_at": now,
        "modified_at": now,
        "canceled": False,
    }
    payload: Any
    if path == "/inbounds":
        payload = page_body("inbounds", state.inbounds(HONEST)[:1], 0, 1)
    elif path == "/batches" and method == "GET":
        payload = page_body("batches", [batch], 0, 1)
    else:
        payload = batch
    return reply(307, payload, headers={"Location": REDIRECT_TO})


# --- HTTP plumbing --------------------------------------------------------------------------


async def api(request: web.Request) -> web.Response:
    state: State = request.app["state"]
    plan = request.match_info["plan"]
    path = "/" + request.match_info["tail"]
    method = request.method
    raw = await request.read()
    body: Any = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    state.requests[plan] += 1
    state.requests[f"{plan} {method} {path}"] += 1
    state.log.append({"plan": plan, "method": method, "path": path, "query": dict(request.query)})
    if method == "POST" and path == "/batches":
        state.posts[plan].append(body)
    if state.requests[plan] > TRIPWIRE:
        state.tripped.add(plan)
        return error(400, "hostile_tripwire", f"more than {TRIPWIRE} requests for {plan}")
    try:
        if plan == REDIRECT:
            return redirect(state, path, method, body)
        if path == "/inbounds" and method == "GET":
            return list_inbounds(state, plan, request.query)
        if path == "/batches" and method == "POST":
            return send_batch(state, plan, body)
        if path == "/batches" and method == "GET":
            return list_batches(state, plan, request.query)
        if path.startswith("/batches/") and method == "GET":
            return get_batch(state, plan, path.removeprefix("/batches/"))
    except BadRequest as exc:
        return error(400, "syntax_invalid_parameter_format", str(exc))
    return error(404, "not_found", f"{method} {path} is not imitated here")


async def stats(request: web.Request) -> web.Response:
    return reply(200, request.app["state"].stats())


async def reset(request: web.Request) -> web.Response:
    request.app["state"].reset()
    return reply(200, {"reset": True})


def make_app() -> web.Application:
    app = web.Application()
    app["state"] = State()
    app.router.add_get("/_stats", stats)
    app.router.add_post("/_reset", reset)
    app.router.add_route("*", "/xms/v1/{plan}/{tail:.*}", api)
    return app


async def serve(watch_stdin: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if watch_stdin:

        def wait_for_eof() -> None:
            sys.stdin.buffer.read()
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=wait_for_eof, daemon=True).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--watch-stdin", action="store_true", help="exit when stdin reaches EOF (parent gone)"
    )
    args = parser.parse_args()
    asyncio.run(serve(args.watch_stdin))


if __name__ == "__main__":
    main()
