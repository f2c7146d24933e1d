"""``python -m sinch_async demo``: the batch lifecycle end to end.

With ``SINCH_SERVICE_PLAN_ID``/``SINCH_API_TOKEN`` (and ``SINCH_REGION`` or
``SINCH_BASE_URL``) set, it only *reads* from your account (lists recent batches: no SMS
is sent). Without credentials it starts the embedded FakeSinch server on 127.0.0.1 and
runs every batch operation against it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys

from . import MediaBody, SinchClient, SinchError, TextBatchRequest

__all__ = ["main"]


async def _walk_recent(client: SinchClient) -> int:
    pager = client.batches.list(page_size=100)
    seen = 0
    async for page in pager.pages():
        seen += len(page.items)
        print(f"  page {page.page}: {len(page.items)} batches (of {page.count})")
    return seen


async def _demo_fake() -> None:
    from .testing import FakeSinch

    async with FakeSinch() as fake, fake.client() as client:
        print(f"FakeSinch listening on {fake.base_url} (no credentials configured)")
        text = await client.batches.send_text(
            to=["+46701234567", "+46701234568"],
            from_="+12025550134",
            body="Hi ${name}, your order ships today",
            parameters={"name": {"+46701234567": "Ada", "default": "there"}},
            delivery_report="full",
            client_reference="order-17",
            feedback_enabled=True,
        )
        print(f"sent text batch      {text.id}")
        binary = await client.batches.send_binary(
            to=["+46701234567"], body=base64.b64encode(b"\x01\x02").decode(), udh="0605040B8423F0"
        )
        print(f"sent binary batch    {binary.id}")
        media = await client.batches.send_media(
            to=["+12025550199"],
            media_body=MediaBody(url="https://example.com/cat.png", message="a cat"),
        )
        print(f"sent media batch     {media.id}")
        dry = await client.batches.dry_run(
            TextBatchRequest(to=["+46701234567"], body="Hej 🙂 " * 12), per_recipient=True
        )
        print(f"dry run              {dry.number_of_messages} message part(s)")
        got = await client.batches.get(text.id)
        print(f"get                  {got.id} to {len(got.to)} recipients")
        updated = await client.batches.update(text.id, to_add=["+46701234569"])
        print(f"update               now {len(updated.to)} recipients")
        await client.batches.send_delivery_feedback(text.id, recipients=["+46701234567"])
        print("delivery feedback    accepted")
        for i in range(40):
            await client.batches.send_text(to=[f"+4670000{i:04d}"], body=f"bulk {i}")
        total = await _walk_recent(client)
        print(f"listed               {total} batches page by page")
        canceled = await client.batches.cancel(media.id)
        print(f"cancel               {canceled.id} canceled={getattr(canceled, 'canceled', None)}")


async def _demo_real() -> None:
    async with SinchClient.from_env() as client:
        print(f"Reading batches of the last 24 h from {client.base_url} (nothing is sent)")
        total = await _walk_recent(client)
        print(f"{total} batches")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m sinch_async", description=__doc__)
    parser.add_argument("command", choices=["demo"], help="what to run")
    parser.parse_args(argv)
    configured = bool(os.environ.get("SINCH_SERVICE_PLAN_ID") and os.environ.get("SINCH_API_TOKEN"))
    try:
        asyncio.run(_demo_real() if configured else _demo_fake())
    except SinchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
