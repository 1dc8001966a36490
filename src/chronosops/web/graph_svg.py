"""The explainability graph drawn as SVG: one column per node type, edges weighted by strength.

Written by hand (no drawing library): every piece of text from an incident is escaped, and only
presentation attributes are used (the console's CSP forbids inline styles).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

COLUMNS = ("EVIDENCE", "SIGNAL", "HYPOTHESIS", "ACTION", "CONCLUSION")
HEADINGS = {
    "EVIDENCE": "Evidence",
    "SIGNAL": "Signals",
    "HYPOTHESIS": "Hypotheses",
    "ACTION": "Actions",
    "CONCLUSION": "Conclusion",
}
FILL = {
    "EVIDENCE": "#e8f0fe",
    "SIGNAL": "#fff4e5",
    "HYPOTHESIS": "#f3e8fd",
    "ACTION": "#e6f4ea",
    "CONCLUSION": "#fce8e6",
}
NODE_W, NODE_H = 230, 52
COL_GAP, ROW_GAP, TOP, LEFT = 70, 14, 40, 10
TITLE_CHARS, SUBTITLE_CHARS = 32, 38


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: Any) -> str:
    return escape(str(value), quote=True)


def render_svg(graph: dict[str, Any], *, link: Callable[[dict[str, Any]], str | None]) -> str:
    """The graph as a standalone SVG document; ``link`` gives each node's target, if any."""
    columns: dict[str, list[dict[str, Any]]] = {kind: [] for kind in COLUMNS}
    for node in graph["nodes"]:
        columns.setdefault(node["type"], []).append(node)
    position: dict[str, tuple[float, float]] = {}
    for c, kind in enumerate(COLUMNS):
        for r, node in enumerate(columns[kind]):
            position[node["id"]] = (
                float(LEFT + c * (NODE_W + COL_GAP)),
                float(TOP + r * (NODE_H + ROW_GAP)),
            )
    rows = max((len(nodes) for nodes in columns.values()), default=1) or 1
    width = LEFT * 2 + len(COLUMNS) * NODE_W + (len(COLUMNS) - 1) * COL_GAP
    height = TOP + rows * (NODE_H + ROW_GAP) + 10
    title = f"Explainability graph of analysis {graph['analysisId']}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="graph-title" '
        f'font-family="sans-serif" font-size="12">',
        f'<title id="graph-title">{_text(title)}</title>',
    ]
    for c, kind in enumerate(COLUMNS):
        column_x = LEFT + c * (NODE_W + COL_GAP)
        parts.append(
            f'<text x="{column_x}" y="{TOP - 16}" font-weight="bold" fill="#333">'
            f"{_text(HEADINGS[kind])} ({len(columns[kind])})</text>"
        )
    for edge in graph["edges"]:
        if edge["from"] not in position or edge["to"] not in position:
            continue
        (fx, fy), (tx, ty) = position[edge["from"]], position[edge["to"]]
        x1, y1, x2, y2 = fx + NODE_W, fy + NODE_H / 2, tx, ty + NODE_H / 2
        weight = float(edge.get("weight") or 0.5)
        mid = (x1 + x2) / 2
        parts.append(
            f'<path d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" '
            f'fill="none" stroke="#5f6368" stroke-width="{1 + 2 * weight:.2f}" '
            f'stroke-opacity="{0.3 + 0.5 * weight:.2f}">'
            f"<title>{_text(edge.get('label', ''))} ({weight:.2f})</title></path>"
        )
    for node in graph["nodes"]:
        if node["id"] not in position:
            continue
        x, y = position[node["id"]]
        box = [
            f'<g class="node" data-node-id="{_text(node["id"])}" data-type="{_text(node["type"])}">',
            f"<title>{_text(node['title'])}</title>",
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" '
            f'fill="{FILL.get(node["type"], "#eee")}" stroke="#80868b"/>',
            f'<text x="{x + 8}" y="{y + 20}" fill="#202124">'
            f"{_text(_short(node['title'], TITLE_CHARS))}</text>",
            f'<text x="{x + 8}" y="{y + 38}" fill="#5f6368" font-size="11">'
            f"{_text(_short(str(node.get('subtitle') or ''), SUBTITLE_CHARS))}</text>",
            "</g>",
        ]
        target = link(node)
        if target:
            box = [f'<a href="{_text(target)}">', *box, "</a>"]
        parts.extend(box)
    parts.append("</svg>")
    return "\n".join(parts)
