"""Risk gauge as SVG: a semicircular dial with risk bands, a needle, the CI arc and the number.

Geometry (documented so that tests and readers can check it):

* The dial is the upper half of a circle of radius ``RADIUS`` around the centre (CX, CY).
* A risk r in [0, 1] sits at the angle  theta(r) = 180 deg - 180 deg * r,  measured counter-
  clockwise from the positive x axis (3 o'clock), i.e. risk 0 at 9 o'clock (left), 0.5 at
  12 o'clock (top), 1 at 3 o'clock (right). In SVG coordinates (y pointing down) the point at
  radius rho is (CX + rho cos theta, CY - rho sin theta).
* The needle (``#gauge-needle``) is a line from the centre to radius ``NEEDLE`` at theta(risk).
* Each risk band [lower, upper) (``.gauge-band``) is an arc of radius ``RADIUS`` from
  theta(lower) to theta(upper), stroked ``BAND_WIDTH`` wide in the band colour.
* The confidence interval (``#gauge-ci``) is an arc of radius ``CI_RADIUS`` from theta(ci_low) to
  theta(ci_high), drawn inside the bands.
* The decision threshold (``#gauge-threshold``) is a radial tick across the bands at theta(t).
* Text: ``#gauge-value`` (risk in %), ``#gauge-band`` (band name), ``#gauge-ci-text``, and an
  accessible ``<title>`` / ``<desc>``.

The value shown is the risk of the model's outcome event (for Cox nomograms: 1 - S(t), the risk
of the event by time t), never the survival probability.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

from .svg import FONT, SVG_NS, esc, num, percent, safe_color

WIDTH, HEIGHT = 360, 270
CX, CY = 180.0, 190.0
RADIUS = 130.0
BAND_WIDTH = 26.0
CI_RADIUS = RADIUS - BAND_WIDTH / 2 - 9
NEEDLE = RADIUS - BAND_WIDTH / 2 - 2
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def risk_angle(risk: float) -> float:
    """theta(r) = 180 - 180 r degrees (r clipped to [0, 1]); counter-clockwise from 3 o'clock."""
    return 180.0 - 180.0 * min(1.0, max(0.0, float(risk)))


def polar(angle_deg: float, radius: float) -> tuple[float, float]:
    """SVG point at ``radius`` from the centre in the direction ``angle_deg`` (y axis down)."""
    angle = math.radians(angle_deg)
    return CX + radius * math.cos(angle), CY - radius * math.sin(angle)


def arc_path(low: float, high: float, radius: float) -> str:
    """SVG path of the arc from theta(low) to theta(high), clockwise on screen (left to right)."""
    x0, y0 = polar(risk_angle(low), radius)
    x1, y1 = polar(risk_angle(high), radius)
    return f"M {num(x0)} {num(y0)} A {num(radius)} {num(radius)} 0 0 1 {num(x1)} {num(y1)}"


def _bands(bands: Sequence[Mapping] | None) -> list[Mapping]:
    if bands:
        return list(bands)
    from .nomogram import DEFAULT_BANDS

    return DEFAULT_BANDS


def _band_name(bands: Sequence[Mapping], risk: float) -> tuple[str, str]:
    from .nomogram import band_for

    band = band_for(list(bands), risk)
    return (band["name"], safe_color(band.get("color"))) if band else ("", "#424242")


def _band_elements(bands: Sequence[Mapping]) -> list[str]:
    parts = ['<g id="gauge-bands">']
    for band in bands:
        parts.append(
            f'<path class="gauge-band" data-name="{esc(band["name"])}" data-lower="{band["lower"]:g}" '
            f'data-upper="{band["upper"]:g}" d="{arc_path(band["lower"], band["upper"], RADIUS)}" fill="none" '
            f'stroke="{safe_color(band.get("color"))}" stroke-width="{num(BAND_WIDTH)}"><title>{esc(band["name"])}: '
            f'{esc(percent(band["lower"]))} to {esc(percent(band["upper"]))}</title></path>'
        )
    parts.append("</g>")
    return parts


def _tick_elements() -> list[str]:
    parts = ['<g id="gauge-ticks">']
    for tick in TICKS:
        x0, y0 = polar(risk_angle(tick), RADIUS + BAND_WIDTH / 2)
        x1, y1 = polar(risk_angle(tick), RADIUS + BAND_WIDTH / 2 + 5)
        xt, yt = polar(risk_angle(tick), RADIUS + BAND_WIDTH / 2 + 16)
        if tick in (0.0, 1.0):  # the ends: below the dial, under the band, not beside the tick
            xt, yt = polar(risk_angle(tick), RADIUS)[0], CY + 14
        parts.append(f'<line x1="{num(x0)}" y1="{num(y0)}" x2="{num(x1)}" y2="{num(y1)}" stroke="#616161" stroke-width="1.5"/>')
        parts.append(f'<text x="{num(xt)}" y="{num(yt + 4)}" text-anchor="middle" font-size="11" fill="#424242" {FONT}>'
                     f'{int(round(tick * 100))}%</text>')
    parts.append("</g>")
    return parts


def _ci_elements(ci_low: float | None, ci_high: float | None) -> list[str]:
    if ci_low is None or ci_high is None:
        return []
    low, high = sorted((min(1.0, max(0.0, ci_low)), min(1.0, max(0.0, ci_high))))
    return [f'<path id="gauge-ci" class="gauge-ci" data-lower="{low:.6g}" data-upper="{high:.6g}" '
            f'd="{arc_path(low, high, CI_RADIUS)}" fill="none" stroke="#263238" stroke-width="7" '
            f'stroke-linecap="butt" opacity="0.85"><title>95 % confidence interval {esc(percent(low))} to '
            f'{esc(percent(high))}</title></path>']


def _threshold_elements(threshold: float | None) -> list[str]:
    if threshold is None:
        return []
    angle = risk_angle(threshold)
    x0, y0 = polar(angle, RADIUS - BAND_WIDTH / 2 - 3)
    x1, y1 = polar(angle, RADIUS + BAND_WIDTH / 2 + 3)
    return [f'<line id="gauge-threshold" data-value="{threshold:.6g}" x1="{num(x0)}" y1="{num(y0)}" x2="{num(x1)}" '
            f'y2="{num(y1)}" stroke="#000000" stroke-width="3"><title>Decision threshold {esc(percent(threshold))}'
            f'</title></line>']


def _needle_elements(risk: float) -> list[str]:
    angle = risk_angle(risk)
    x, y = polar(angle, NEEDLE)
    return [f'<line id="gauge-needle" data-risk="{risk:.6g}" data-angle="{angle:.4f}" x1="{num(CX)}" y1="{num(CY)}" '
            f'x2="{num(x)}" y2="{num(y)}" stroke="#212121" stroke-width="4" stroke-linecap="round"/>',
            f'<circle id="gauge-hub" cx="{num(CX)}" cy="{num(CY)}" r="8" fill="#212121"/>']


def _text_elements(risk: float, ci_low, ci_high, band: str, band_color: str, title: str, threshold) -> list[str]:
    parts = []
    if title:
        parts.append(f'<text id="gauge-heading" x="{num(CX)}" y="18" text-anchor="middle" font-size="14" '
                     f'font-weight="bold" fill="#212121" {FONT}>{esc(title)}</text>')
    parts.append(f'<text id="gauge-value" x="{num(CX)}" y="{num(CY + 38)}" text-anchor="middle" font-size="28" '
                 f'font-weight="bold" fill="#212121" {FONT}>{esc(percent(risk))}</text>')
    if ci_low is not None and ci_high is not None:
        parts.append(f'<text id="gauge-ci-text" x="{num(CX)}" y="{num(CY + 56)}" text-anchor="middle" font-size="12" '
                     f'fill="#424242" {FONT}>95 % CI {esc(percent(min(ci_low, ci_high)))} – {esc(percent(max(ci_low, ci_high)))}</text>')
    parts.append(f'<text id="gauge-band" x="{num(CX)}" y="{num(CY + 75)}" text-anchor="middle" font-size="15" '
                 f'font-weight="bold" fill="{band_color}" {FONT}>{esc(band)}</text>')
    if threshold is not None:
        parts.append(f'<text id="gauge-threshold-text" x="{num(WIDTH - 6)}" y="{num(HEIGHT - 6)}" text-anchor="end" '
                     f'font-size="10" fill="#616161" {FONT}>cut-off {esc(percent(threshold))}</text>')
    return parts


def describe(risk: float, ci_low=None, ci_high=None, band: str = "", threshold=None) -> str:
    """One-sentence text alternative for screen readers (the <desc> of the gauge)."""
    text = f"Predicted risk {percent(risk)}"
    if ci_low is not None and ci_high is not None:
        text += f" (95 % confidence interval {percent(min(ci_low, ci_high))} to {percent(max(ci_low, ci_high))})"
    if band:
        text += f", band: {band}"
    if threshold is not None:
        text += f"; decision threshold {percent(threshold)}"
    return text + "."


def risk_gauge_svg(risk: float, ci_low: float | None = None, ci_high: float | None = None,
                   bands: Sequence[Mapping] | None = None, title: str = "", threshold: float | None = None) -> str:
    """The gauge as a standalone SVG document string (see the module docstring for the geometry).

    ``bands``: [{name, lower, upper, color}] covering 0..1 (default: low/intermediate/high thirds);
    ``threshold``: decision cut-off on the risk scale, drawn as a black tick.
    """
    risk = float(risk)
    if not 0.0 <= risk <= 1.0 or math.isnan(risk):
        raise ValueError(f"risk = {risk} must be a probability between 0 and 1.")
    band_list = _bands(bands)
    band, band_color = _band_name(band_list, risk)
    label = title or "Predicted risk"
    parts = [f'<svg xmlns="{SVG_NS}" class="risk-gauge" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="gauge-title gauge-desc">',
             f'<title id="gauge-title">{esc(label)}</title>',
             f'<desc id="gauge-desc">{esc(describe(risk, ci_low, ci_high, band, threshold))}</desc>']
    parts += _band_elements(band_list)
    parts += _tick_elements()
    parts += _ci_elements(ci_low, ci_high)
    parts += _threshold_elements(threshold)
    parts += _needle_elements(risk)
    parts += _text_elements(risk, ci_low, ci_high, band, band_color, title, threshold)
    parts.append("</svg>")
    return "\n".join(parts)
