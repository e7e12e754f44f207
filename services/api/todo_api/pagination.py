"""Opaque keyset cursors for the newest-first todo list.

A cursor is base64url (no padding) of ``<createdAt in epoch ms>.<id hex>``,
the position of the last todo on the page. Clients must treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import UTC, datetime, timedelta

from todo_common.repository import Position

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PLAIN = re.compile(r"^(\d{1,15})\.([0-9a-f]{32})$")
_MAX_MS = int((datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH).total_seconds() * 1000)
MAX_CURSOR_LENGTH = 100


class InvalidCursorError(ValueError):
    pass


def encode_cursor(position: Position) -> str:
    millis = (position.created_at - _EPOCH) // timedelta(milliseconds=1)
    raw = f"{millis}.{position.id.hex}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> Position:
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise InvalidCursorError(cursor)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise InvalidCursorError(cursor) from None
    match = _PLAIN.fullmatch(raw)
    if match is None or int(match.group(1)) > _MAX_MS:
        raise InvalidCursorError(cursor)
    created_at = _EPOCH + timedelta(milliseconds=int(match.group(1)))
    return Position(created_at=created_at, id=uuid.UUID(hex=match.group(2)))
