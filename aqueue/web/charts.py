"""The dashboard's charts as SVG drawn on the server: no script, nothing from
a CDN, and the page's refresh redraws them. Colours come from the stylesheet
(classes), never inline styles, which the page's CSP forbids."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from markupsafe import Markup, escape

from aqueue.web.flow import Bucket

WIDTH, HEIGHT = 720, 150
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 20
#: Stacked from the bottom up, each with its class in style.css.
SERIES = (("succeeded", "ok"), ("retried", "retry"), ("failed", "fail"))


def ceiling(value: float) -> int:
    """The axis top for ``value``: the next of 1, 2 or 5 times a power of ten."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if value <= factor * power:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def _clock(start: int) -> str:
    return datetime.fromtimestamp(start, UTC).strftime("%H:%M")


def _frame(buckets: Sequence[Bucket], top_value: int, label: str) -> list[str]:
    """The axes: the top value and zero, and the first, middle and last times."""
    base = HEIGHT - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}"'
        ' xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end">{top_value}</text>',
        f'<text class="tick" x="{LEFT - 4}" y="{base}" text-anchor="end">0</text>',
    ]
    if buckets:
        step = (WIDTH - LEFT - RIGHT) / len(buckets)
        for index, anchor in ((0, "start"), (len(buckets) // 2, "middle"), (-1, "end")):
            b = buckets[index]
            x = LEFT + (index % len(buckets)) * step + (step if anchor == "end" else 0)
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 4}" text-anchor="{anchor}">'
                f"{_clock(b.start)}</text>"
            )
    return parts


def outcome_bars(buckets: Sequence[Bucket], label: str) -> Markup:
    """Stacked bars of succeeded, retried and failed attempts per bucket."""
    peak = ceiling(max((b.succeeded + b.retried + b.failed for b in buckets), default=0))
    parts = _frame(buckets, peak, label)
    height = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(buckets), 1)
    for i, b in enumerate(buckets):
        counts = {"succeeded": b.succeeded, "retried": b.retried, "failed": b.failed}
        if not any(counts.values()):
            continue
        x = LEFT + i * step
        y = float(HEIGHT - BOTTOM)
        tip = f"{_clock(b.start)} UTC: " + ", ".join(f"{n} {name}" for name, n in counts.items())
        parts.append(f"<g><title>{escape(tip)}</title>")
        for name, css in SERIES:
            h = counts[name] / peak * height
            if h > 0:
                y -= h
                parts.append(
                    f'<rect class="{css}" x="{x + 0.5:.1f}" y="{y:.1f}" '
                    f'width="{max(step - 1, 1):.1f}" height="{h:.1f}"/>'
                )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def depth_line(buckets: Sequence[Bucket], label: str) -> Markup:
    """The due jobs at each sample, as a line broken where nothing was sampled."""
    peak = ceiling(max((b.depth or 0 for b in buckets), default=0))
    parts = _frame(buckets, peak, label)
    height = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(buckets), 1)
    run: list[str] = []
    runs: list[list[str]] = [run]
    for i, b in enumerate(buckets):
        if b.depth is None:
            run = []
            runs.append(run)
            continue
        x = LEFT + (i + 0.5) * step
        y = HEIGHT - BOTTOM - b.depth / peak * height
        run.append(f"{x:.1f},{y:.1f}")
        tip = f"{_clock(b.start)} UTC: {b.depth} due"
        parts.append(
            f'<circle class="depth" cx="{x:.1f}" cy="{y:.1f}" r="2"><title>{escape(tip)}</title>'
            "</circle>"
        )
    for points in runs:
        if len(points) > 1:
            parts.append(f'<polyline class="depth" points="{" ".join(points)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
