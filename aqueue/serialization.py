"""JSON encoding of arguments and results, with errors that name the culprit."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aqueue.errors import PayloadTooLarge

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The C encoder the json module itself builds on every call, built once: a
# third of the cost of encoding the typical small argument list. It skips the
# check for circular references; those end in RecursionError, reported below
# as a ValueError, like the json module's own "Circular reference detected".
def _build_c_encoder() -> Any:
    make = getattr(json.encoder, "c_make_encoder", None)
    try:
        return (
            make(
                None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False
            )
            if make is not None
            else None
        )
    except TypeError:  # another Python's signature: the plain encoder will do
        return None


_c_encoder = _build_c_encoder()


def _encode(value: Any) -> str:
    if _c_encoder is None or isinstance(value, str):
        text = _encoder.encode(value)
    else:
        try:
            text = "".join(_c_encoder(value, 0))
        except RecursionError:
            raise ValueError("circular reference, or nesting too deep to encode") from None
    # JSON escapes U+0000 and every control character, so those are stored as
    # text any database accepts. A lone surrogate (e.g. a file name read with
    # os.listdir) is not Unicode: no database can store it as text. ASCII text
    # cannot hold one, and checking that is nearly free.
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"contains a lone surrogate ({exc.object[exc.start]!r}), which is not valid "
                "Unicode (decode bytes with errors='replace' or keep them as base64)"
            ) from None
    return text


def _describe_failure(value: Any) -> str:
    try:
        _encode(value)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return "not JSON"


def encode_arguments(
    task: str, args: Sequence[Any], kwargs: Mapping[str, Any], limit: int
) -> tuple[str, str]:
    """Encode a call's arguments, or raise ``TypeError`` naming the bad argument.

    Raises :class:`PayloadTooLarge` when the two encodings exceed ``limit`` bytes.
    """
    try:
        # Tuples encode as arrays; the empty cases are common enough to skip.
        args_json = _encode(args) if args else "[]"
        kwargs_json = _encode(kwargs) if kwargs else "{}"
    except (TypeError, ValueError):
        for index, value in enumerate(args):
            _check_one(task, f"positional argument {index}", value)
        for key, value in kwargs.items():
            _check_one(task, f"keyword argument {key!r}", value)
        raise TypeError(f"arguments of task {task!r} cannot be encoded as JSON") from None
    # A character is at most 4 bytes of UTF-8: count bytes only near the limit.
    if (len(args_json) + len(kwargs_json)) * 4 <= limit:
        return args_json, kwargs_json
    size = len(args_json.encode()) + len(kwargs_json.encode())
    if size > limit:
        raise PayloadTooLarge(
            f"arguments of task {task!r} encode to {size} bytes, over the limit of {limit} "
            "(Queue(max_payload_bytes=...))"
        )
    return args_json, kwargs_json


def _check_one(task: str, what: str, value: Any) -> None:
    try:
        _encode(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} of task {task!r} (a {type(value).__name__}) cannot be encoded as JSON: {exc}"
        ) from None


def encode_result(value: Any, limit: int) -> str:
    """Encode a task's return value; ``TypeError``/``PayloadTooLarge`` if it cannot be stored."""
    try:
        encoded = _encode(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"the task returned a {type(value).__name__}, which cannot be encoded as JSON: "
            f"{_describe_failure(value)}"
        ) from None
    if len(encoded.encode()) > limit:
        raise PayloadTooLarge(
            f"the task's result encodes to over {limit} bytes (Queue(max_payload_bytes=...))"
        )
    return encoded


def encode(value: Any) -> str:
    """Encode a value aqueue itself produced (errors, progress)."""
    return _encode(value)


def storable_text(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udc80`` escapes, so that an
    error message or traceback can always be stored."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


#: The longest error type, message and traceback stored, in characters; the
#: rest is cut with a marker saying how much (see :func:`bounded`).
MAX_ERROR_TYPE = 200
MAX_ERROR_MESSAGE = 8 * 1024
MAX_TRACEBACK = 64 * 1024


def bounded(text: str, limit: int, *, keep_end: bool = False) -> str:
    """``text`` if it has at most ``limit`` characters, else cut to about that
    with a marker saying how many were left out. ``keep_end`` keeps the start
    and the end (a traceback's last lines say what was raised), otherwise the
    start."""
    if len(text) <= limit:
        return text
    if not keep_end:
        kept = text[:limit]
        return f"{kept}… [{len(text) - len(kept)} more characters cut]"
    head, tail = text[: limit // 4], text[len(text) - (limit - limit // 4) :]
    return f"{head}\n… [{len(text) - len(head) - len(tail)} characters cut] …\n{tail}"


def error_fields(kind: str, message: str, traceback: str | None) -> dict[str, str | None]:
    """An error as aqueue stores it: always storable (lone surrogates escaped)
    and bounded (see :data:`MAX_ERROR_MESSAGE`)."""
    return {
        "type": bounded(storable_text(kind), MAX_ERROR_TYPE),
        "message": bounded(storable_text(message), MAX_ERROR_MESSAGE),
        "traceback": None
        if traceback is None
        else bounded(storable_text(traceback), MAX_TRACEBACK, keep_end=True),
    }


def bounded_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored error object (``type``, ``message``, ``traceback``) bounded as
    :func:`error_fields` bounds new ones — for rows written around aqueue, or
    before errors were bounded, and for imports."""
    if error is None:
        return None
    message, tb = error.get("message"), error.get("traceback")
    return {
        **error,
        **error_fields(
            str(error.get("type", "Error")),
            "" if message is None else str(message),
            None if tb is None else str(tb),
        ),
    }


def decode(text: str | bytes | None) -> Any:
    """Decode stored JSON; ``None`` stays ``None``."""
    if text is None:
        return None
    return json.loads(text)
