"""Paths the tests need: the repository, the test data, the child-process scripts, and the
official fixture folder (``../shared``, optional)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The repository root (the folder holding pyproject.toml).
ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
#: Data files of the tests (``tests/data``).
DATA = TESTS / "data"
SUPPORT = TESTS / "support"
#: Child-process scripts, started by path (``tests/support/procs``).
PROCS = SUPPORT / "procs"
README = ROOT / "README.md"
#: The documentation site's pages (``mkdocs.yml``).
DOCS = ROOT / "docs"

#: The official Sinch fixture folder (``SINCH_ANCHORS_DIR``, else ``../shared/anchors/...``).
ANCHORS = Path(
    os.environ.get("SINCH_ANCHORS_DIR", ROOT.parent / "shared" / "anchors" / "sinch-official")
)


def anchors_dir() -> Path:
    """The official fixture folder; skip (or fail, when CI requires it) if absent."""
    if not ANCHORS.is_dir():
        reason = f"Sinch anchor fixtures not found at {ANCHORS} (../shared is absent)"
        if os.environ.get("SINCH_REQUIRE_ANCHORS") == "1":
            pytest.fail(reason + "; SINCH_REQUIRE_ANCHORS=1 demands them", pytrace=False)
        pytest.skip(reason)
    return ANCHORS
