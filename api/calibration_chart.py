"""The calibration chart as SVG: CER against vision tokens, one line per page kind, the recommended mode ringed.

One renderer for the image file `opticite calibrate --chart` writes and the web UI's chart; every
text in it is escaped, so the SVG can be placed in a page as is.
"""

from __future__ import annotations

from html import escape

from ingest.calibration import CalibrationReport, ModeStats

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 150, 30, 50
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def render_chart(report: CalibrationReport) -> str:
    """An SVG document; x: mean vision tokens per page, y: mean character error rate."""
    points = [s for s in report.stats if s.cer is not None]
    max_x = max([s.vision_tokens or 0.0 for s in points] + [1.0])
    max_y = max([s.cer or 0.0 for s in points] + [0.05])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(s: ModeStats) -> tuple[float, float]:
        return (
            LEFT + (s.vision_tokens or 0.0) / max_x * plot_w,
            TOP + plot_h - (s.cer or 0.0) / max_y * plot_h,
        )

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" font-family="sans-serif" font-size="11" role="img">',
        "<title>Calibration: character error rate against vision tokens per page</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<path d="M{LEFT},{TOP} V{TOP + plot_h} H{LEFT + plot_w}" stroke="#333" fill="none"/>',
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">vision tokens per page</text>',
        f'<text x="14" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2})">character error rate</text>',
    ]
    for frac in (0.0, 0.5, 1.0):
        y = TOP + plot_h - frac * plot_h
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{frac * max_y:.2f}</text>')
        x = LEFT + frac * plot_w
        parts.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{frac * max_x:.0f}</text>'
        )
    kinds = list(dict.fromkeys(s.kind for s in points))
    for i, kind in enumerate(kinds):
        colour = COLOURS[i % len(COLOURS)]
        line = sorted((s for s in points if s.kind == kind), key=lambda s: s.vision_tokens or 0.0)
        coords = [xy(s) for s in line]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for s, (x, y) in zip(line, coords, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
            parts.append(f'<text x="{x + 5:.1f}" y="{y - 6:.1f}" fill="{colour}">{escape(s.mode)}</text>')
            if report.recommended.get(kind) == s.mode:
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="none" stroke="{colour}" stroke-width="2">'
                    f"<title>recommended for {escape(kind)}</title></circle>"
                )
        ly = TOP + 14 + 18 * i
        parts.append(f'<rect x="{WIDTH - RIGHT + 14}" y="{ly - 9}" width="12" height="12" fill="{colour}"/>')
        label = f"{kind}: {report.recommended.get(kind, '-')}"
        parts.append(f'<text x="{WIDTH - RIGHT + 30}" y="{ly + 1}">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
