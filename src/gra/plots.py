"""Plots as self-contained SVG files (no plotting library needed): open them in a browser,
or with `dvc plots show`."""

from __future__ import annotations

from html import escape

import numpy as np
from sklearn.metrics import confusion_matrix


def confusion_svg(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str], title: str) -> str:
    """A confusion-matrix heat map, rows normalised (each row shows where one true class
    went), with the clip counts written in the cells."""
    counts = confusion_matrix(y_true, y_pred, labels=range(len(classes)))
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    cell, left, top = 64, 110, 70
    n = len(classes)
    width, height = left + n * cell + 20, top + n * cell + 50
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<text x="{left + n * cell / 2}" y="{top - 30}" text-anchor="middle">predicted</text>',
        f'<text x="14" y="{top + n * cell / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + n * cell / 2})">actual</text>',
    ]
    for j, name in enumerate(classes):
        x = left + j * cell + cell / 2
        parts.append(f'<text x="{x}" y="{top - 8}" text-anchor="middle">{escape(name)}</text>')
    for i, name in enumerate(classes):
        y = top + i * cell
        parts.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4}" text-anchor="end">{escape(name)}</text>'
        )
        for j in range(n):
            shade = int(255 - 200 * share[i, j])
            ink = "white" if share[i, j] > 0.5 else "black"
            x = left + j * cell
            parts += [
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" '
                f'fill="rgb({shade},{shade},255)" stroke="white"/>',
                f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" '
                f'fill="{ink}">{counts[i, j]}</text>',
            ]
    parts.append(
        f'<text x="{left}" y="{height - 15}">cell colour: share of the row; numbers: clips</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def reliability_svg(rows: list[dict], title: str) -> str:
    """A reliability diagram: accuracy against confidence per bin (dots sized by clips), and
    the diagonal where a calibrated model's dots lie."""
    size, left, top = 300, 60, 40
    width, height = left + size + 30, top + size + 70

    def x(v: float) -> float:
        return left + v * size

    def y(v: float) -> float:
        return top + (1 - v) * size

    most = max((r["clips"] for r in rows), default=1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#999"/>',
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#bbb" '
        'stroke-dasharray="4 3"/>',
        f'<text x="{left + size / 2}" y="{top + size + 32}" text-anchor="middle">'
        "confidence (top probability)</text>",
        f'<text x="16" y="{top + size / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {top + size / 2})">accuracy</text>',
    ]
    for tick in (0, 0.5, 1):
        parts += [
            f'<text x="{x(tick)}" y="{top + size + 16}" text-anchor="middle">{tick:g}</text>',
            f'<text x="{left - 6}" y="{y(tick) + 4}" text-anchor="end">{tick:g}</text>',
        ]
    points = " ".join(f"{x(r['confidence']):.1f},{y(r['accuracy']):.1f}" for r in rows)
    parts.append(f'<polyline points="{points}" fill="none" stroke="#3b5bdb"/>')
    for r in rows:
        radius = 3 + 7 * (r["clips"] / most) ** 0.5
        parts.append(
            f'<circle cx="{x(r["confidence"]):.1f}" cy="{y(r["accuracy"]):.1f}" '
            f'r="{radius:.1f}" fill="#3b5bdb" fill-opacity="0.6"/>'
        )
    parts.append(
        f'<text x="{left}" y="{height - 12}">dots: confidence bins (size: clips); dashed: '
        "calibrated</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
