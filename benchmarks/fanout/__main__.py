"""``python -m benchmarks.fanout [scenario] [options]``."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
