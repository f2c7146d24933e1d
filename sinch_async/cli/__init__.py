"""The ``sinch-async`` command line (needs the ``cli`` extra: typer and rich).

This module imports neither: without them [`main`][] prints the install hint and exits
2, so a core install (``pip install sinch-async``) has a console script that explains
itself instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__all__ = ["app", "main"]

#: The packages of the ``cli`` extra (see pyproject.toml).
CLI_PACKAGES = ("typer", "rich")
INSTALL_HINT = "pip install 'sinch-async[cli]'"


def main(prog_name: str = "sinch-async") -> None:
    """Console-script entry point: check the ``cli`` extra, then run the command."""
    if sys.argv[1:] == ["--version"]:  # answered without the extra too
        from .._version import __version__

        print(f"sinch-async {__version__}")
        return
    for name in CLI_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing = exc.name or name
            print(
                f"{prog_name}: the command line needs the 'cli' extra ({missing} is not "
                f"installed): {INSTALL_HINT}",
                file=sys.stderr,
            )
            sys.exit(2)
    from ._app import run

    run(prog_name)


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer app, imported only when asked for
        from ._app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
