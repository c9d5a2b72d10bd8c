"""Each week's dashboard as data the store keeps, and the way between weeks.

The digest run stores its ``Digests`` (every figure and list the pages show)
as plain JSON, one row per week; the service renders pages from it on request,
so nothing is written to disk and last month's dashboard looks as it did then.
Fields added to the figures later get their defaults when an older week is
read back; unknown fields are ignored, so a newer govbot can read older weeks.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from typing import Any

from bot.digest.figures import Digests

FORMAT = 1  # the payload's shape; a different number is refused rather than misread


class ArchiveError(ValueError):
    """A stored week that this govbot cannot read back."""


def to_payload(digests: Digests) -> dict[str, Any]:
    return {"format": FORMAT, "digests": _encode(digests)}


def from_payload(payload: Any) -> Digests:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ArchiveError("this week's dashboard was stored in a format this govbot does not read")
    try:
        return _decode(Digests, payload["digests"])
    except (KeyError, TypeError, ValueError) as error:
        raise ArchiveError(f"this week's stored dashboard cannot be read back ({error})") from None


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: _encode(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _encode(item) for key, item in value.items()}
    return value


def _decode(kind: Any, data: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        return None if data is None else _decode(options[0], data)
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_decode(item, value) for value in data]
    if origin is tuple:
        return tuple(_decode(item, value) for item, value in zip(typing.get_args(kind), data, strict=True))
    if origin is dict:
        _, item = typing.get_args(kind)
        return {key: _decode(item, value) for key, value in data.items()}
    if kind is datetime:
        return datetime.fromisoformat(data)
    if kind is date:
        return date.fromisoformat(data)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        known = {item.name: item for item in dataclasses.fields(kind) if item.init}
        return kind(**{name: _decode(hints[name], data[name]) for name in known if name in data})
    if kind is Any or kind in (str, int, float, bool):
        if kind is float and isinstance(data, int):
            return float(data)
        return data
    raise TypeError(f"cannot read a {kind!r} back")


def neighbours(weeks: list[date], week: date) -> tuple[date | None, date | None]:
    """The stored weeks just before and after ``week``."""
    earlier = [w for w in weeks if w < week]
    later = [w for w in weeks if w > week]
    return (earlier[-1] if earlier else None), (later[0] if later else None)
