"""The dashboard's charts, drawn on the server as SVG (no JavaScript library).

Every label and figure is escaped text inside the SVG; nothing is fetched.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = {5: "#82071e", 4: "#cf222e", 3: "#e16f24", 2: "#d4a72c", 1: "#8c959f"}
LABELS = {5: "Urgent", 4: "Critical", 3: "Serious", 2: "Medium", 1: "Minimal"}
FONT = 'font-family="system-ui, DejaVu Sans, sans-serif"'


def _svg(width: int, height: int, label: str, body: list[str]) -> SafeString:
    return mark_safe(  # noqa: S308 -- every text inside went through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="100%" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        + "".join(body)
        + "</svg>"
    )


def severity_bars(rows: list[tuple[str, str, dict[int, int]]], *, width: int = 1100) -> SafeString:
    """One stacked horizontal bar per row: (label, link, {severity: count}),
    severity 5 first; the bars share one scale. Each bar links to ``link``."""
    label_w, count_w, row = 200, 80, 30
    bar_w = width - label_w - count_w
    top = max((sum(c.values()) for _, _, c in rows), default=0) or 1
    legend_y = 14
    body = []
    x = label_w
    for severity in (5, 4, 3, 2, 1):
        body.append(
            f'<rect x="{x}" y="4" width="12" height="12" fill="{COLOURS[severity]}"/>'
            f'<text x="{x + 16}" y="{legend_y}" font-size="11" {FONT}>{severity} '
            f"{LABELS[severity]}</text>"
        )
        x += 82
    for i, (label, link, counts) in enumerate(rows):
        y = 26 + i * row
        total = sum(counts.values())
        body.append(
            f'<a href="{escape(link)}"><text x="0" y="{y + 17}" font-size="12" {FONT}>'
            f"{escape(label[:28])}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="18" fill="#eef2f7"/>'
        )
        x = float(label_w)
        for severity in (5, 4, 3, 2, 1):
            n = counts.get(severity, 0)
            if not n:
                continue
            w = bar_w * n / top
            body.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="18" '
                f'fill="{COLOURS[severity]}"><title>{LABELS[severity]}: {n:,}</title></rect>'
            )
            x += w
        body.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 17}" font-size="12" {FONT}>'
            f"{total:,}</text></a>"
        )
    height = 26 + max(len(rows), 1) * row + 4
    return _svg(width, height, "Open findings by severity per network", body)


def trend_lines(
    points: list,
    *,
    series: tuple[tuple[str, str, str], ...],
    width: int = 1100,
    height: int = 260,
    label: str = "Findings over time",
) -> SafeString:
    """Lines over days: ``points`` have ``.date`` and the attributes named in
    ``series`` ((attribute, label, colour), ...)."""
    left, right, top_pad, bottom = 48, 12, 22, 28
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = max((getattr(p, attr) for p in points for attr, _, _ in series), default=0) or 1
    n = max(len(points) - 1, 1)

    def xy(i: int, value: int) -> str:
        return f"{left + plot_w * i / n:.1f},{top_pad + plot_h * (1 - value / top):.1f}"

    body = [
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" '
        f'y2="{top_pad + plot_h}" stroke="#8c959f"/>',
        f'<text x="{left - 6}" y="{top_pad + 4}" font-size="11" text-anchor="end" {FONT}>'
        f"{top:,}</text>",
        f'<text x="{left - 6}" y="{top_pad + plot_h}" font-size="11" text-anchor="end" {FONT}>'
        f"0</text>",
    ]
    if points:
        last = len(points) - 1
        for index in sorted({0, last // 4, last // 2, 3 * last // 4, last}):
            anchor = "start" if index == 0 else "end" if index == last else "middle"
            body.append(
                f'<text x="{left + plot_w * index / n:.1f}" y="{height - 8}" font-size="11" '
                f'text-anchor="{anchor}" {FONT}>{points[index].date:%Y-%m-%d}</text>'
            )
    for k, (attr, name, colour) in enumerate(series):
        coords = " ".join(xy(i, getattr(p, attr)) for i, p in enumerate(points))
        body.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>'
            f'<rect x="{left + k * 150}" y="4" width="12" height="12" fill="{colour}"/>'
            f'<text x="{left + k * 150 + 16}" y="14" font-size="11" {FONT}>{escape(name)}</text>'
        )
    return _svg(width, height, label, body)
