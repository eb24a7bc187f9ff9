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
