"""``python -m todo_api``: the one way the API starts (make dev, the image, the tests)."""

from __future__ import annotations

import sys

from todo_api.server import main

if __name__ == "__main__":
    sys.exit(main())
