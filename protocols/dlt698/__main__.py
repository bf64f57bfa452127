"""``python -m protocols.dlt698 explain HEX ...`` (see :mod:`protocols.dlt698.explain`)."""

from __future__ import annotations

import sys

from .explain import main

if __name__ == "__main__":
    sys.exit(main())
