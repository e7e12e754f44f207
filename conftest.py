"""Loaded by pytest before tests/conftest.py: puts every service folder on the import path.

pyproject's pytest `pythonpath` cannot glob, and a service's package is importable only from
its own folder (as in its image), so a new services/<name> would otherwise need an edit there.
"""

from __future__ import annotations

import sys

from tests.support.service_paths import service_import_roots

# In front, as pyproject's pythonpath entries go: the checkout's code, not an installed copy.
sys.path[:0] = [str(root) for root in service_import_roots() if str(root) not in sys.path]
