"""ROC and calibration plots as hand-written SVG (no matplotlib in the library).

Both plots use the unit square with ticks every 0.2, a dashed diagonal reference (chance for ROC,
perfect calibration for the calibration plot), a title and a legend. Layout rules, so the plots
stay readable on paper:

* No text is drawn inside the data area: the statistics (AUC with its DeLong CI; Brier score and
  Hosmer-Lemeshow p) sit in a line between the title and the plot, the legend below the x axis.
* The axes run from -0.03 to 1.03 (``PAD``), so a curve along 0 or 1 (an ROC curve at AUC 1) is
  drawn inside the frame, not on it; the frame is light grey and the data lines are thick.
* Fonts are 13-16 px on a 432 px wide picture: about 9-11 pt when printed 10 cm wide.

Numbers use ``ResponseSignatureLib.formatting``. The SVG is self-contained text; save it with
``Path(...).write_text(svg)``, show it in Slicer through a QPixmap or in a browser.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

from ..formatting import number
from . import evaluation

SIZE = 350  # the plot area is square
LEFT, RIGHT, TOP, BOTTOM = 66, 20, 66, 106
WIDTH, HEIGHT = LEFT + SIZE + RIGHT, TOP + SIZE + BOTTOM
PAD = 0.03
FONT = 'font-family="DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"'
DATA_COLOUR = {"roc": "#1f5fa8", "calibration": "#b34700"}


def _x(value: float) -> float:
    return LEFT + (value + PAD) / (1 + 2 * PAD) * SIZE


def _y(value: float) -> float:
    return TOP + (1 + PAD - value) / (1 + 2 * PAD) * SIZE


def _frame(title: str, statistics: str, x_label: str, y_label: str) -> list[str]:
    """Background, frame, ticks, tick labels, axis labels, diagonal, title and statistics line."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" {FONT} font-size="13">',
             f'<title>{escape(title)}</title>',
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<rect x="{LEFT}" y="{TOP}" width="{SIZE}" height="{SIZE}" fill="none" stroke="#9e9e9e"/>']
    for tick in np.linspace(0, 1, 6):
        label = f"{tick:.1f}"
        bottom, left = TOP + SIZE, LEFT
        parts.append(f'<line x1="{_x(tick):.1f}" y1="{bottom}" x2="{_x(tick):.1f}" y2="{bottom + 5}" stroke="black"/>')
        parts.append(f'<text x="{_x(tick):.1f}" y="{bottom + 20}" text-anchor="middle">{label}</text>')
        parts.append(f'<line x1="{left - 5}" y1="{_y(tick):.1f}" x2="{left}" y2="{_y(tick):.1f}" stroke="black"/>')
        parts.append(f'<text x="{left - 8}" y="{_y(tick) + 4:.1f}" text-anchor="end">{label}</text>')
    parts.append(f'<line class="reference" x1="{_x(0):.1f}" y1="{_y(0):.1f}" x2="{_x(1):.1f}" y2="{_y(1):.1f}" '
                 'stroke="#757575" stroke-width="1.2" stroke-dasharray="5 4"/>')
    parts.append(f'<text x="{LEFT + SIZE / 2:.1f}" y="{TOP + SIZE + 40}" text-anchor="middle" font-size="14">'
                 f'{escape(x_label)}</text>')
    middle = TOP + SIZE / 2
    parts.append(f'<text x="18" y="{middle:.1f}" text-anchor="middle" font-size="14" '
                 f'transform="rotate(-90 18 {middle:.1f})">{escape(y_label)}</text>')
    parts.append(f'<text x="{WIDTH / 2:.1f}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
                 f'{escape(title)}</text>')
    parts.append(f'<text class="statistics" x="{WIDTH / 2:.1f}" y="48" text-anchor="middle" font-size="13">'
                 f'{escape(statistics)}</text>')
    return parts


def _legend(entries: list[tuple[str, str, str, str]]) -> list[str]:
    """Legend rows below the x axis label: (text, colour, stroke width, dash pattern or '')."""
    parts = []
    y = TOP + SIZE + 62
    for text, colour, width, dash in entries:
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line x1="{LEFT}" y1="{y - 4}" x2="{LEFT + 30}" y2="{y - 4}" stroke="{colour}" '
                     f'stroke-width="{width}"{dashed}/><text x="{LEFT + 38}" y="{y}">{escape(text)}</text>')
        y += 18
    return parts


def _polyline(xs, ys, colour: str) -> str:
    points = " ".join(f"{_x(float(a)):.2f},{_y(float(b)):.2f}" for a, b in zip(xs, ys))
    return f'<polyline class="data" points="{points}" fill="none" stroke="{colour}" stroke-width="3"/>'


def roc_svg(y, scores, title: str = "ROC curve") -> str:
    """Empirical ROC curve (step at each distinct score) with 'AUC 0.80 (95 % CI 0.71 to 0.89, DeLong)'."""
    roc = evaluation.roc_points(y, scores)
    auc = evaluation.auc_delong(y, scores)
    statistics = (f"AUC {number(auc['auc'], 3)} (95 % CI {number(auc['auc_ci_low'], 3)} to "
                  f"{number(auc['auc_ci_high'], 3)}, DeLong)")
    parts = _frame(title, statistics, "1 - specificity", "Sensitivity")
    parts.append(_polyline(np.append(roc["fpr"].to_numpy(), 1.0), np.append(roc["sensitivity"].to_numpy(), 1.0),
                           DATA_COLOUR["roc"]))
    parts += _legend([("ROC curve", DATA_COLOUR["roc"], "3", ""), ("chance (AUC 0.5)", "#757575", "1.2", "5 4")])
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def calibration_svg(y, p, title: str = "Calibration", bins: int = 10) -> str:
    """Observed event rate vs mean predicted probability per equal-count group, with exact 95 %
    CIs as vertical bars; Brier score and Hosmer-Lemeshow p above the plot."""
    curve = evaluation.calibration_curve(y, p, bins)
    hl = evaluation.hosmer_lemeshow(y, p, bins)
    hl_p = "n/a" if hl["p_value"] is None else number(hl["p_value"], 3)
    statistics = f"Brier {number(evaluation.brier_score(y, p), 3)}; Hosmer-Lemeshow p = {hl_p}"
    parts = _frame(title, statistics, "Predicted probability", "Observed proportion")
    colour = DATA_COLOUR["calibration"]
    for row in curve.itertuples():
        parts.append(f'<line x1="{_x(row.mean_predicted):.2f}" y1="{_y(row.observed_ci_low):.2f}" '
                     f'x2="{_x(row.mean_predicted):.2f}" y2="{_y(row.observed_ci_high):.2f}" stroke="{colour}" '
                     'stroke-width="1.5"/>')
        parts.append(f'<circle cx="{_x(row.mean_predicted):.2f}" cy="{_y(row.observed):.2f}" r="4.5" fill="{colour}"/>')
    parts.append(_polyline(curve["mean_predicted"], curve["observed"], colour))
    parts += _legend([(f"observed proportion ({len(curve)} equal-count groups)", colour, "3", ""),
                      ("exact 95 % CI of each group (vertical bars)", colour, "1.5", ""),
                      ("perfect calibration", "#757575", "1.2", "5 4")])
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
