"""ROC and calibration plots as hand-written SVG (no matplotlib in the library).

Both plots use the unit square: x and y from 0 to 1 with ticks every 0.2, a dashed diagonal
reference (chance for ROC, perfect calibration for the calibration plot) and a title. The SVG is
self-contained text; save it with ``Path(...).write_text(svg)``, show it in Slicer with
``qt.QSvgWidget`` or in a browser.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

from . import evaluation

WIDTH, HEIGHT = 420, 420
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 40, 55
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def _x(value: float) -> float:
    return LEFT + value * PLOT_W


def _y(value: float) -> float:
    return TOP + (1 - value) * PLOT_H


def _frame(title: str, x_label: str, y_label: str) -> list[str]:
    """Background, axes, ticks, tick labels, axis labels, diagonal and title."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
             f'<title>{escape(title)}</title>',
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="black"/>']
    for tick in np.linspace(0, 1, 6):
        label = f"{tick:.1f}"
        parts.append(f'<line x1="{_x(tick):.1f}" y1="{_y(0):.1f}" x2="{_x(tick):.1f}" y2="{_y(0) + 5:.1f}" stroke="black"/>')
        parts.append(f'<text x="{_x(tick):.1f}" y="{_y(0) + 18:.1f}" text-anchor="middle">{label}</text>')
        parts.append(f'<line x1="{_x(0) - 5:.1f}" y1="{_y(tick):.1f}" x2="{_x(0):.1f}" y2="{_y(tick):.1f}" stroke="black"/>')
        parts.append(f'<text x="{_x(0) - 8:.1f}" y="{_y(tick) + 4:.1f}" text-anchor="end">{label}</text>')
    parts.append(f'<line x1="{_x(0):.1f}" y1="{_y(0):.1f}" x2="{_x(1):.1f}" y2="{_y(1):.1f}" '
                 'stroke="grey" stroke-dasharray="4 4"/>')
    parts.append(f'<text x="{LEFT + PLOT_W / 2:.1f}" y="{HEIGHT - 15}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text x="15" y="{TOP + PLOT_H / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 15 {TOP + PLOT_H / 2:.1f})">{escape(y_label)}</text>')
    parts.append(f'<text x="{WIDTH / 2:.1f}" y="24" text-anchor="middle" font-size="14" '
                 f'font-weight="bold">{escape(title)}</text>')
    return parts


def _polyline(xs, ys, colour: str) -> str:
    points = " ".join(f"{_x(float(a)):.2f},{_y(float(b)):.2f}" for a, b in zip(xs, ys))
    return f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'


def roc_svg(y, scores, title: str = "ROC curve") -> str:
    """Empirical ROC curve (step at each distinct score) with 'AUC = a (95 % CI l-h, DeLong)'."""
    roc = evaluation.roc_points(y, scores)
    auc = evaluation.auc_delong(y, scores)
    parts = _frame(title, "1 - specificity", "Sensitivity")
    parts.append(_polyline(np.append(roc["fpr"].to_numpy(), 1.0), np.append(roc["sensitivity"].to_numpy(), 1.0),
                           "#1f5fa8"))
    text = f"AUC = {auc['auc']:.3f} (95 % CI {auc['auc_ci_low']:.3f}-{auc['auc_ci_high']:.3f}, DeLong)"
    parts.append(f'<text x="{_x(0.97):.1f}" y="{_y(0.05):.1f}" text-anchor="end">{escape(text)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def calibration_svg(y, p, title: str = "Calibration", bins: int = 10) -> str:
    """Observed event rate vs mean predicted probability per equal-count group, with exact 95 %
    CIs as vertical bars, plus Brier score and Hosmer-Lemeshow p in the corner."""
    curve = evaluation.calibration_curve(y, p, bins)
    parts = _frame(title, "Predicted probability", "Observed proportion")
    for row in curve.itertuples():
        parts.append(f'<line x1="{_x(row.mean_predicted):.2f}" y1="{_y(row.observed_ci_low):.2f}" '
                     f'x2="{_x(row.mean_predicted):.2f}" y2="{_y(row.observed_ci_high):.2f}" stroke="#c05000"/>')
        parts.append(f'<circle cx="{_x(row.mean_predicted):.2f}" cy="{_y(row.observed):.2f}" r="4" fill="#c05000"/>')
    parts.append(_polyline(curve["mean_predicted"], curve["observed"], "#c05000"))
    hl = evaluation.hosmer_lemeshow(y, p, bins)
    hl_p = "n/a" if hl["p_value"] is None else f"{hl['p_value']:.3f}"
    text = f"Brier = {evaluation.brier_score(y, p):.3f}; Hosmer-Lemeshow p = {hl_p}"
    parts.append(f'<text x="{_x(0.97):.1f}" y="{_y(0.05):.1f}" text-anchor="end">{escape(text)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
