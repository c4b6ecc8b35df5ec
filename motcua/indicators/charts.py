"""Small SVG charts drawn on the server: no script, no CDN, readable without JavaScript.

Each function returns markup safe to embed (labels escaped), sized by a viewBox so the page's
CSS decides the width.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

INK, MUTED, GOOD, BAD, ACCENT = "#1f2933", "#7b8794", "#2f8f4e", "#c0392b", "#1f6feb"


def _svg(width: int, height: int, body: str, title: str) -> Markup:
    return Markup(
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def hbars(
    items: Sequence[tuple[str, float | None]],
    title: str,
    target: float | None = None,
    width: int = 560,
) -> Markup:
    """Horizontal bars of rates in [0, 1] (None: nothing to rate), with a target line."""
    label_w, row_h, bar_w = 220, 26, width - 220 - 60
    height = max(len(items), 1) * row_h + 24
    parts = []
    for i, (label, rate) in enumerate(items):
        y = 8 + i * row_h
        parts.append(f'<text x="0" y="{y + 15}" fill="{INK}">{escape(label[:32])}</text>')
        if rate is None:
            parts.append(f'<text x="{label_w}" y="{y + 15}" fill="{MUTED}">–</text>')
            continue
        colour = GOOD if target is None or rate >= target else BAD
        w = round(bar_w * min(max(rate, 0.0), 1.0), 1)
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="16" fill="{colour}" rx="2"/>'
            f'<text x="{label_w + w + 6}" y="{y + 15}" fill="{INK}">{rate:.1%}</text>'
        )
    if target is not None:
        x = label_w + bar_w * target
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="4" y2="{height - 14}" stroke="{INK}" '
            f'stroke-dasharray="4 3"/><text x="{x - 20}" y="{height - 2}" fill="{MUTED}">'
            f"mục tiêu {target:.0%}</text>"
        )
    return _svg(width, height, "".join(parts), title)


def columns(
    days: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
    title: str,
    width: int = 560,
    height: int = 200,
) -> Markup:
    """Counts per day as grouped columns: `series` is (name, colour, values), one per day."""
    left, bottom, top, right = 36, 28, 24, 10
    top_value = max([1, *(v for _, _, values in series for v in values)])
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8 / max(len(series), 1), 1.0)
    parts = [
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{MUTED}"/>',
        f'<text x="0" y="{top + 10}" fill="{MUTED}">{top_value}</text>',
        f'<text x="0" y="{top + plot_h}" fill="{MUTED}">0</text>',
    ]
    for i, day in enumerate(days):
        if i % max(len(days) // 7, 1) == 0:
            parts.append(
                f'<text x="{left + i * slot:.1f}" y="{height - 8}" fill="{MUTED}">'
                f"{escape(day)}</text>"
            )
    for n, (name, colour, values) in enumerate(series):
        for i, v in enumerate(values):
            h = plot_h * v / top_value
            x = left + i * slot + slot * 0.1 + n * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(days[i])}: '
                f"{v}</title></rect>"
            )
        parts.append(
            f'<rect x="{left + 8 + n * 130}" y="2" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + 22 + n * 130}" y="12" fill="{INK}">{escape(name)}</text>'
        )
    return _svg(width, height, "".join(parts), title)
