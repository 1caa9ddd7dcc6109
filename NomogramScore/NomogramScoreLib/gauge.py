"""Probability gauge as SVG: a semicircular dial with the model's zones, the prediction, its CI and
the cut-off, plus the three-way reading in words.

Geometry (documented so that tests and readers can check it):

* A probability p in [0, 1] sits at the angle  theta(p) = 180 deg - 180 deg * p,  counter-clockwise
  from the positive x axis (3 o'clock): 0 at 9 o'clock (left), 0.5 at 12 o'clock, 1 at 3 o'clock.
  In SVG coordinates (y down) the point at radius rho is (CX + rho cos theta, CY - rho sin theta).
* Zones (``.gauge-band``): arcs of radius ``RADIUS`` from theta(lower) to theta(upper), stroked
  ``BAND_WIDTH`` wide in light tints (the model's band colours), outlined in grey.
* 95 % CI (``#gauge-ci``): a dark bar ``CI_WIDTH`` wide along the middle of the dial from
  theta(ci_low) to theta(ci_high), closed by radial end caps (``.gauge-ci-cap``) - an interval bar
  as in a forest plot.
* Prediction: a white diamond with a black outline (``#gauge-estimate``) on the dial at
  theta(p), and a black tapered needle (``#gauge-needle``, a polygon) from the centre towards it,
  ending at ``NEEDLE`` inside the tick labels.
* Cut-off (``#gauge-threshold``, ``data-value``): a black *dashed* radial line across the dial
  (``#gauge-threshold-line``), a black triangle outside the dial pointing at it
  (``#gauge-threshold-marker``) and its label "cut-off / 49 %" right beside the triangle
  (``#gauge-threshold-text``).
  Needle (solid wedge), CI (thick bar with caps) and cut-off (dashed line with a triangle) differ
  in shape and dash pattern, so they stay apart in greyscale print and for colour-blind readers.
* Text: ``#gauge-heading`` ("Risk of ..." / "Probability of ..."), ``#gauge-value``,
  ``#gauge-ci-text``, ``#gauge-reading`` (``data-reading`` = above / below / indeterminate, the
  reading of ``ResponseSignatureLib.models.outcome.read_against_cutoff``, in its colour), an
  optional ``#gauge-note`` when the model does not state the outcome's direction, and an
  accessible ``<title>`` / ``<desc>``.

The value is the probability of the model's outcome (Cox nomograms: of the event by time t, 1 - S(t)).
"""
from __future__ import annotations

import math
import textwrap
from typing import Any, Mapping, Sequence

from ResponseSignatureLib.formatting import ci_text, percent
from ResponseSignatureLib.models.outcome import OutcomeTerms, outcome_terms, read_against_cutoff

from .svg import FONT, SVG_NS, esc, num, safe_color

WIDTH = 420
CX = 210.0
RADIUS = 118.0
BAND_WIDTH = 22.0
INNER, OUTER = RADIUS - BAND_WIDTH / 2, RADIUS + BAND_WIDTH / 2
CI_RADIUS = RADIUS
CI_WIDTH = 8.0
NEEDLE = INNER - 30
TICK_LABEL_RADIUS = INNER - 15
THRESHOLD_LABEL_RADIUS = OUTER + 22
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
HEADING_CHARS, READING_CHARS = 46, 46


def risk_angle(risk: float) -> float:
    """theta(p) = 180 - 180 p degrees (p clipped to [0, 1]); counter-clockwise from 3 o'clock."""
    return 180.0 - 180.0 * min(1.0, max(0.0, float(risk)))


class _Dial:
    """Polar -> SVG coordinates around the dial centre (CX, cy)."""

    def __init__(self, cy: float):
        self.cy = cy

    def point(self, angle_deg: float, radius: float) -> tuple[float, float]:
        angle = math.radians(angle_deg)
        return CX + radius * math.cos(angle), self.cy - radius * math.sin(angle)

    def at(self, value: float, radius: float) -> tuple[float, float]:
        return self.point(risk_angle(value), radius)

    def arc(self, low: float, high: float, radius: float) -> str:
        """Path of the arc from theta(low) to theta(high), clockwise on screen (left to right)."""
        (x0, y0), (x1, y1) = self.at(low, radius), self.at(high, radius)
        return f"M {num(x0)} {num(y0)} A {num(radius)} {num(radius)} 0 0 1 {num(x1)} {num(y1)}"

    def radial(self, value: float, r0: float, r1: float, **attributes: Any) -> str:
        (x0, y0), (x1, y1) = self.at(value, r0), self.at(value, r1)
        extra = " ".join(f'{key.replace("_", "-")}="{esc(val)}"' for key, val in attributes.items())
        return f'<line x1="{num(x0)}" y1="{num(y0)}" x2="{num(x1)}" y2="{num(y1)}" {extra}/>'


def _bands(bands: Sequence[Mapping] | None) -> list[Mapping]:
    if bands:
        return list(bands)
    from .nomogram import DEFAULT_BANDS

    return DEFAULT_BANDS


def _band_elements(dial: _Dial, bands: Sequence[Mapping]) -> list[str]:
    parts = ['<g id="gauge-bands">']
    for band in bands:
        parts.append(
            f'<path class="gauge-band" data-lower="{band["lower"]:g}" data-upper="{band["upper"]:g}" '
            f'd="{dial.arc(band["lower"], band["upper"], RADIUS)}" fill="none" stroke="{safe_color(band.get("color"))}" '
            f'stroke-width="{num(BAND_WIDTH)}"><title>{esc(percent(band["lower"]))} to {esc(percent(band["upper"]))}'
            f'</title></path>')
    for radius in (INNER, OUTER):
        parts.append(f'<path class="gauge-outline" d="{dial.arc(0.0, 1.0, radius)}" fill="none" stroke="#8a8a8a" '
                     f'stroke-width="1"/>')
    parts.append("</g>")
    return parts


def _tick_elements(dial: _Dial) -> list[str]:
    parts = ['<g id="gauge-ticks">']
    for step in range(21):
        value = step / 20
        major = value in TICKS
        parts.append(dial.radial(value, INNER, INNER - (6 if major else 3), stroke="#616161",
                                 stroke_width="1.5" if major else "1"))
    for tick in TICKS:
        x, y = dial.at(tick, TICK_LABEL_RADIUS)
        anchor = "start" if tick == 0.0 else "end" if tick == 1.0 else "middle"
        parts.append(f'<text class="gauge-tick-label" x="{num(x)}" y="{num(y + 4)}" text-anchor="{anchor}" '
                     f'font-size="11" fill="#424242" {FONT}>{int(round(tick * 100))} %</text>')
    parts.append("</g>")
    return parts


def _ci_elements(dial: _Dial, ci_low: float | None, ci_high: float | None) -> list[str]:
    if ci_low is None or ci_high is None:
        return []
    low, high = sorted((min(1.0, max(0.0, ci_low)), min(1.0, max(0.0, ci_high))))
    title = f"<title>{esc(ci_text(low, high))}</title>"
    parts = [f'<g id="gauge-ci-group"><path id="gauge-ci" class="gauge-ci" data-lower="{low:.6g}" data-upper="{high:.6g}" '
             f'd="{dial.arc(low, high, CI_RADIUS)}" fill="none" stroke="#263238" stroke-width="{num(CI_WIDTH)}" '
             f'stroke-linecap="butt">{title}</path>']
    for end in (low, high):
        parts.append(dial.radial(end, INNER - 1, OUTER + 1, **{"class": "gauge-ci-cap", "stroke": "#263238",
                                                               "stroke_width": "3"}))
    parts.append("</g>")
    return parts


def _threshold_elements(dial: _Dial, threshold: float | None) -> list[str]:
    if threshold is None:
        return []
    angle = risk_angle(threshold)
    tip, (b1, b2) = dial.point(angle, OUTER + 2), (dial.point(angle - 3.2, OUTER + 14), dial.point(angle + 3.2, OUTER + 14))
    x, y = dial.point(angle, THRESHOLD_LABEL_RADIUS)
    cos = math.cos(math.radians(angle))
    anchor = "middle" if abs(cos) < 0.3 else ("start" if cos > 0 else "end")
    y_first = y - 2 if abs(cos) >= 0.3 else y - 10  # two lines centred on the point (above it at the top)
    label = (f'<text id="gauge-threshold-text" x="{num(x)}" y="{num(y_first)}" text-anchor="{anchor}" font-size="11" '
             f'font-weight="bold" fill="#000000" {FONT}><tspan x="{num(x)}">cut-off</tspan>'
             f'<tspan x="{num(x)}" dy="13">{esc(percent(threshold))}</tspan></text>')
    return [f'<g id="gauge-threshold" data-value="{threshold:.6g}"><title>Cut-off {esc(percent(threshold))}</title>',
            dial.radial(threshold, INNER - 5, OUTER + 2, id="gauge-threshold-line", stroke="#000000",
                        stroke_width="2.2", stroke_dasharray="4 2.5"),
            f'<polygon id="gauge-threshold-marker" points="{num(tip[0])},{num(tip[1])} {num(b1[0])},{num(b1[1])} '
            f'{num(b2[0])},{num(b2[1])}" fill="#000000"/>', label, "</g>"]


def _estimate_elements(dial: _Dial, risk: float) -> list[str]:
    angle = risk_angle(risk)
    tip = dial.point(angle, NEEDLE)
    left, right = dial.point(angle + 90, 5), dial.point(angle - 90, 5)
    cx, cy = dial.point(angle, RADIUS)
    diamond = [dial.point(angle, RADIUS + 8), dial.point(angle + 3.6, RADIUS), dial.point(angle, RADIUS - 8),
               dial.point(angle - 3.6, RADIUS)]
    return [f'<polygon id="gauge-needle" data-risk="{risk:.6g}" data-angle="{angle:.4f}" '
            f'points="{num(left[0])},{num(left[1])} {num(tip[0])},{num(tip[1])} {num(right[0])},{num(right[1])}" '
            f'fill="#111111"/>',
            f'<circle id="gauge-hub" cx="{num(CX)}" cy="{num(dial.cy)}" r="7" fill="#111111"/>',
            f'<polygon id="gauge-estimate" data-x="{num(cx)}" data-y="{num(cy)}" points="'
            + " ".join(f"{num(x)},{num(y)}" for x, y in diamond) + '" fill="#ffffff" stroke="#000000" stroke-width="2"/>']


def _lines(element_id: str, lines: list[str], y: float, size: int, colour: str, bold: bool = False,
           extra: str = "") -> str:
    weight = ' font-weight="bold"' if bold else ""
    spans = "".join(f'<tspan x="{num(CX)}" dy="{0 if i == 0 else size + 3}">{esc(line)}</tspan>'
                    for i, line in enumerate(lines))
    return (f'<text id="{element_id}" x="{num(CX)}" y="{num(y)}" text-anchor="middle" font-size="{size}"{weight} '
            f'fill="{colour}" {FONT}{extra}>{spans}</text>')


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters; a number stays with its '%' sign."""
    return textwrap.wrap(text.replace(" %", "\u00a0%"), width, break_on_hyphens=False)


def describe(risk: float, ci_low=None, ci_high=None, reading: str = "", threshold=None, heading: str = "") -> str:
    """One-sentence text alternative for screen readers (the <desc> of the gauge)."""
    text = f"{heading or 'Predicted probability'}: {percent(risk)}"
    if ci_low is not None and ci_high is not None:
        text += f" ({ci_text(ci_low, ci_high)})"
    if threshold is not None:
        text += f"; cut-off {percent(threshold)}"
    if reading:
        text += f"; {reading}"
    return text + "."


def risk_gauge_svg(risk: float, ci_low: float | None = None, ci_high: float | None = None,
                   bands: Sequence[Mapping] | None = None, title: str = "", threshold: float | None = None,
                   terms: OutcomeTerms | None = None) -> str:
    """The gauge as a standalone SVG document string (see the module docstring for the geometry).

    ``bands``: [{name, lower, upper, color}] covering 0..1 (default: thirds); ``threshold``: the
    model's cut-off; ``terms``: the model's outcome words (``outcome_terms(model)``), which choose
    "risk" or "probability" and the words of the reading; ``title`` overrides the heading.
    """
    risk = float(risk)
    if not 0.0 <= risk <= 1.0 or math.isnan(risk):
        raise ValueError(f"risk = {risk} must be a probability between 0 and 1.")
    heading = title or (terms.label if terms else "Predicted probability")
    reading = read_against_cutoff(risk, threshold, ci_low, ci_high, terms) if threshold is not None else None
    heading_lines = _wrap(heading, HEADING_CHARS) or [""]
    cy = 24 + 18 * len(heading_lines) + 160
    dial = _Dial(cy)
    parts = [_lines("gauge-heading", heading_lines, 20, 15, "#212121", bold=True)]
    parts += _band_elements(dial, _bands(bands)) + _tick_elements(dial) + _ci_elements(dial, ci_low, ci_high)
    parts += _estimate_elements(dial, risk) + _threshold_elements(dial, threshold)
    parts.append(_lines("gauge-value", [percent(risk)], cy + 38, 28, "#212121", bold=True))
    y = cy + 58
    if ci_low is not None and ci_high is not None:
        parts.append(_lines("gauge-ci-text", [ci_text(ci_low, ci_high)], y, 12, "#424242"))
        y += 24
    if reading is not None:
        lines = _wrap(reading.text, READING_CHARS)
        parts.append(_lines("gauge-reading", lines, y, 14, reading.colour, bold=True,
                            extra=f' data-reading="{reading.kind}" data-side="{reading.side}"'))
        y += 17 * len(lines) + 4
    if terms is not None and terms.unfavourable is None:
        parts.append(_lines("gauge-note", ["Direction of the outcome not stated in the model file"], y, 10, "#616161"))
        y += 14
    height = y + 4
    description = describe(risk, ci_low, ci_high, reading.text if reading else "", threshold, heading)
    head = [f'<svg xmlns="{SVG_NS}" class="risk-gauge" width="{WIDTH}" height="{num(height)}" '
            f'viewBox="0 0 {WIDTH} {num(height)}" role="img" aria-labelledby="gauge-title gauge-desc">',
            f'<title id="gauge-title">{esc(heading)}</title>', f'<desc id="gauge-desc">{esc(description)}</desc>']
    return "\n".join(head + parts + ["</svg>"])


def gauge_for(model: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    """The gauge of one ``nomogram.score_patient`` result, with the model's zones, cut-off and words
    (what the report, the command line, Slicer and the web workstation draw)."""
    return risk_gauge_svg(result["risk"], result.get("ci_low"), result.get("ci_high"),
                          (model.get("model") or {}).get("risk_bands"), title=(result.get("outcome") or {}).get("label", ""),
                          threshold=result.get("threshold"), terms=outcome_terms(model))
