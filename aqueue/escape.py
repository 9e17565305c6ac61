"""Text from job rows and task errors, made safe for where it is printed.

Names, error types and messages are data: whoever enqueues a job (or writes a
row) chooses them. Printed raw on a terminal, control characters retitle the
window, clear the screen or recolour it, and a right-to-left override hides
text; written raw to a log, a newline forges a line. :func:`printable` shows
every such character as a visible escape (``\\x1b``, ``\\n``, ``\\u202e``).
HTML pages escape through Jinja2 instead, JSON through its encoder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def printable(text: str, *, multiline: bool = False) -> str:
    """``text`` with each character Python does not call printable (control and
    format characters, separators other than the space) written as its escape;
    ``multiline`` keeps newlines and tabs (a traceback)."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or (multiline and ch in "\n\t") else repr(ch)[1:-1] for ch in text
    )


def json_line(value: object, default: Callable[[Any], Any] | None = None) -> str:
    """``value`` as one line of JSON (UTF-8 kept) in which no character a
    terminal would act on appears raw: the encoder escapes the C0 controls;
    the rest (C1 controls, direction overrides) are written as ``\\uXXXX``."""
    import json

    text = json.dumps(value, ensure_ascii=False, default=default)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _json_escape(ch) for ch in text)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
