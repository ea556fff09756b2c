"""``python -m embkit``: the same as the ``embkit`` command."""

from __future__ import annotations

import sys

from embkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
