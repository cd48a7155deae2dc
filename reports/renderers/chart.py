"""The cover's severity summary: a bar chart drawn on the server as SVG.

Plain SVG (rectangles and text), so browsers and WeasyPrint draw it the same
way and its figures stay text in the PDF.
"""

from django.utils.html import escape

COLOURS = {5: "#82071e", 4: "#cf222e", 3: "#e16f24", 2: "#d4a72c", 1: "#8c959f"}
LABELS = {5: "Urgent", 4: "Critical", 3: "Serious", 2: "Medium", 1: "Minimal"}


def severity_chart_svg(by_severity: dict[int, int], *, width: int = 460) -> str:
    """Horizontal bars, severity 5 on top, each labelled with its count."""
    row, label_w, count_w = 26, 110, 70
    bar_w = width - label_w - count_w
    top = max(by_severity.values(), default=0) or 1
    height = row * 5 + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Findings by severity">'
    ]
    for i, severity in enumerate(range(5, 0, -1)):
        count = by_severity.get(severity, 0)
        y = 4 + i * row
        length = round(bar_w * count / top) if count else 0
        parts.append(
            f'<text x="0" y="{y + 16}" font-size="12" font-family="DejaVu Sans, sans-serif">'
            f"{severity} {escape(LABELS[severity])}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="18" fill="#eef2f7"/>'
            f'<rect x="{label_w}" y="{y + 3}" width="{length}" height="18" '
            f'fill="{COLOURS[severity]}"/>'
            f'<text x="{label_w + bar_w + 8}" y="{y + 16}" font-size="12" '
            f'font-family="DejaVu Sans, sans-serif">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
