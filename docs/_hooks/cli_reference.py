"""MkDocs hook: the CLI reference, generated from the ``sinch-async`` command at build time.

A page that holds the line ``<!-- cli-reference -->`` gets, in its place, one section per
command (depth first, in the order ``sinch-async --help`` lists them) with its usage line,
its help text and a table of its arguments and options, each as ``--help`` shows it;
``<!-- cli-exit-codes -->`` becomes the exit codes. The page cannot drift from the
command: nothing of it is written by hand.
``tests/package/test_docs_site.py`` checks that every command and option is on it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

MARKER = "<!-- cli-reference -->"
#: Where the exit codes (the root command's epilog) go; the reference leaves them out.
EXIT_CODES_MARKER = "<!-- cli-exit-codes -->"
PROG = "sinch-async"

_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def escape(text: str) -> str:
    """``text`` as literal Markdown: no HTML, no emphasis, no links, safe in a table cell."""
    return _SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def commands() -> Iterator[tuple[list[str], Any, Any]]:
    """``(path, command, context)`` of the root command and every subcommand, depth first."""
    import typer.main
    from typer._click.core import Context

    from sinch_async.cli import app

    root = typer.main.get_command(app)

    def walk(path: list[str], command: Any, parent: Any) -> Iterator[tuple[list[str], Any, Any]]:
        ctx = Context(command, info_name=path[-1], parent=parent)
        yield path, command, ctx
        for name, sub in getattr(command, "commands", {}).items():
            if not sub.hidden:
                yield from walk([*path, name], sub, ctx)

    yield from walk([PROG], root, None)


def _paragraphs(text: str) -> list[str]:
    """Click help text as Markdown blocks: a ``\\b`` paragraph (kept as written) becomes a
    code block, every other paragraph is re-flowed prose."""
    blocks: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        if paragraph.startswith("\b"):
            lines = paragraph[1:].strip("\n")
            blocks.append("```text\n" + lines + "\n```")
        else:
            blocks.append(escape(" ".join(line.strip() for line in paragraph.splitlines())))
    return blocks


def anchor(path: list[str]) -> str:
    """The id of a command's heading: ``sinch-async-batches-list``."""
    return "-".join(path)


def render() -> str:
    """The whole reference, as Markdown."""
    out: list[str] = []
    for path, command, ctx in commands():
        depth = min(len(path) + 2, 6)  # under the page's own h2
        name = " ".join(path)
        out.append(f"{'#' * depth} `{name}` {{#{anchor(path)}}}")
        out.append("")
        usage = " ".join(command.collect_usage_pieces(ctx))
        out.append(f"`{name} {usage}`")
        out.append("")
        if command.help:
            out.extend(block + "\n" for block in _paragraphs(command.help))
        subs = [(n, c) for n, c in getattr(command, "commands", {}).items() if not c.hidden]
        if subs:
            out.append("| command | what |")
            out.append("|---|---|")
            for sub_name, sub in subs:
                link = anchor([*path, sub_name])
                summary = sub.get_short_help_str(limit=300)
                out.append(f"| [`{sub_name}`](#{link}) | {escape(summary)} |")
            out.append("")
        rows = [(p, p.get_help_record(ctx)) for p in command.params]
        rows = [(p, record) for p, record in rows if record is not None]
        if rows:
            out.append("| argument or option | what |")
            out.append("|---|---|")
            for _param, (names, help_text) in rows:
                cell = " ".join(escape(help_text).split())
                out.append(f"| `{names}` | {cell} |")
            out.append("")
        if command.epilog and len(path) > 1:
            out.extend(block + "\n" for block in _paragraphs(command.epilog))
    return "\n".join(out)


def exit_codes() -> str:
    """The exit codes, as ``sinch-async --help`` prints them."""
    _path, root, _ctx = next(commands())
    return "\n".join(_paragraphs(root.epilog or ""))


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the markers with the reference (MkDocs calls this for every page)."""
    if EXIT_CODES_MARKER in markdown:
        markdown = markdown.replace(EXIT_CODES_MARKER, exit_codes())
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, render())
    return markdown
