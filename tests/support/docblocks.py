"""The code blocks of the documentation (``docs/**/*.md`` and README.md), with their markers.

A fenced block may be preceded (on the line before its fence, blank lines allowed) by an
HTML comment that says how the tests use it; ``docs/development.md`` lists them:

* ``python`` + ``<!-- example -->``: the body of ``async def example(client, fake,
  since)``, run against a fresh FakeSinch;
* ``python`` + ``<!-- module -->``: a whole program, run as ``__main__`` with the
  ``SINCH_*`` variables pointing at a FakeSinch;
* ``python`` + ``<!-- pytest -->``: a test module of a user's suite, run by pytest;
* ``bash`` (no marker): ``sinch-async`` command lines, run against FakeSinch in the order of
  the page; ``<!-- no-run: REASON -->`` checks them against the command without running;
* ``toml``, ``json``: parsed (``<!-- callback -->`` / ``<!-- numbers-event -->``: a JSON
  body that parses as a known callback or Numbers event);
* ``csv`` + ``<!-- file: NAME -->``: a file the page's later command lines read;
* any block + ``<!-- no-test: REASON -->``: not tested, for the reason given (the opt-outs
  are listed in ``tests/package/test_docs.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import DOCS, README, ROOT

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_MARKER = re.compile(r"^<!--\s*(?P<name>[a-z-]+)(?::\s*(?P<arg>.*?))?\s*-->$")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its marker and its code."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    indent: str
    marker: str | None
    arg: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def page(self) -> str:
        return str(self.path.relative_to(ROOT))


def doc_files() -> list[Path]:
    """README.md and every Markdown page of the site (the hooks folder holds none)."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def blocks_of(path: Path) -> list[Block]:
    lines = path.read_text().split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        lang = opening["info"].strip().split(" ")[0] if opening["info"].strip() else ""
        j = i + 1
        body: list[str] = []
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = _MARKER.match(lines[k].strip()) if k >= 0 else None
        blocks.append(
            Block(
                path=path,
                line=i + 1,
                lang=lang,
                indent=indent,
                marker=marker["name"] if marker else None,
                arg=(marker["arg"] or "") if marker else "",
                code="\n".join(body) + "\n",
            )
        )
        i = j + 1
    return blocks


def all_blocks() -> list[Block]:
    return [block for path in doc_files() for block in blocks_of(path)]
