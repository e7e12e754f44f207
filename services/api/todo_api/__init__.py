"""The Todo API: a FastAPI service over the shared ``todo_common`` layer.

Run it with ``python -m todo_api`` (what ``make dev``, the image and the tests do).
"""

__version__ = "0.1.0"
