"""``python -m sinch_async``: the same as the ``sinch-async`` command."""

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main("python -m sinch_async")
