"""Charts as SVG for the report and the Slicer module: the nomogram (points scales) and a waterfall.

``nomogram_svg``: the classic nomogram of ``rms::plot.nomogram``. Row "Points" runs 0-100 over the
axis width W; each predictor's axis puts a value at x = X0 + points(value) / 100 * W (so the widest
predictor spans the full width); "Total points" runs 0..T_max (sum of each predictor's maximum
points) over the same width; each risk axis puts a risk r at the total points where the model
predicts r: T(r) = (lp(r) - Intercept*) * sc (``nomogram.risk_to_total_points``); they are called
"Risk" only when the model declares its outcome unfavourable, else "Probability". Optional
``result`` (from ``score_patient``) marks the patient's values, total points and probability in red.

``waterfall_svg``: every lesion of the lesion table, in the order of
``lesion_table.waterfall_table(include_new=True)``: new lesions first, each marked NEW (a new
lesion has no baseline, so no percent change: it is a marker, never a bar), then one bar per lesion
with its RECIST diameter change (longest diameter; short axis for lymph nodes) from baseline to
follow-up, largest increase first, disappeared lesions at -100 %, and lesions whose change cannot
be computed marked "not measured". Dashed reference lines at +20 % and -30 % (the RECIST 1.1
PD/PR thresholds, which RECIST applies to the *sum* of target diameters: per-lesion bars are
descriptive); bar colours (``lesion_table.WATERFALL_CATEGORIES``, explained in the legend) mark a
lesion's own change beyond those thresholds, and so does a white pattern over the colour that
survives greyscale print and colour-blind reading (``HATCHES``: diagonal stripes for an increase
of 20 % or more, dots for a decrease of 30 % or more, none between); value labels use
``formatting.change_percent`` like the report's lesion table.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from ResponseSignatureLib.formatting import change_percent
from ResponseSignatureLib.lesion_table import (WATERFALL_CATEGORIES, WATERFALL_NEW_LABEL, WATERFALL_STATUS_NOTES,
                                               waterfall_category, waterfall_table)
from ResponseSignatureLib.models.outcome import outcome_terms

from . import nomogram as nm
from .svg import FONT, SVG_NS, esc, num, percent, pretty_unit, short_number

LABEL_WIDTH = 190.0
AXIS_WIDTH = 560.0
ROW = 46.0
TOP = 46.0
RISK_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
MIN_LABEL_GAP = 30.0


def _x(fraction: float) -> float:
    return LABEL_WIDTH + fraction * AXIS_WIDTH


def _axis(row_id: str, label: str, y: float, ticks: list[tuple[float, str]], css: str = "nomogram-axis",
          span: tuple[float, float] | None = None) -> list[str]:
    """One labelled horizontal axis; ``ticks`` are (x, text); labels closer than MIN_LABEL_GAP to the
    previous drawn label alternate below the line so they stay readable."""
    xs = [x for x, _ in ticks]
    start, end = span if span else (min(xs), max(xs))
    parts = [f'<g id="{esc(row_id)}" class="{esc(css)}">',
             f'<text class="axis-label" x="{num(LABEL_WIDTH - 12)}" y="{num(y + 4)}" text-anchor="end" font-size="12" '
             f'fill="#212121" {FONT}>{esc(label)}</text>',
             f'<line x1="{num(start)}" y1="{num(y)}" x2="{num(end)}" y2="{num(y)}" stroke="#424242" stroke-width="1.2"/>']
    last_above = last_below = -1e9
    for x, text in sorted(ticks):
        parts.append(f'<line class="tick" x1="{num(x)}" y1="{num(y - 5)}" x2="{num(x)}" y2="{num(y)}" stroke="#424242"/>')
        if not text:
            continue
        if x - last_above >= MIN_LABEL_GAP:
            parts.append(f'<text class="tick-label" x="{num(x)}" y="{num(y - 8)}" text-anchor="middle" font-size="10" '
                         f'fill="#424242" {FONT}>{esc(text)}</text>')
            last_above = x
        elif x - last_below >= MIN_LABEL_GAP:
            parts.append(f'<text class="tick-label" x="{num(x)}" y="{num(y + 13)}" text-anchor="middle" font-size="10" '
                         f'fill="#424242" {FONT}>{esc(text)}</text>')
            last_below = x
    parts.append("</g>")
    return parts


def _marker(x: float, y: float, title: str) -> str:
    return (f'<circle class="patient-marker" cx="{num(x)}" cy="{num(y)}" r="4.5" fill="#d32f2f" stroke="#ffffff" '
            f'stroke-width="1"><title>{esc(title)}</title></circle>')


def _value_text(predictor: Mapping[str, Any], value: Any) -> str:
    return str(value) if predictor["type"] == "categorical" else short_number(float(value))


def _predictor_ticks(model: Mapping[str, Any], predictor: Mapping[str, Any]) -> list[tuple[float, str]]:
    """(x, label) per axis value; a range end closer than MIN_LABEL_GAP to a round tick stays unlabelled."""
    ticks = [(_x(nm.predictor_points(model, predictor, v) / 100.0), _value_text(predictor, v), v)
             for v in nm.axis_values(predictor)]
    if predictor["type"] == "categorical":
        return [(x, text) for x, text, _ in ticks]
    ends = (predictor["min"], predictor["max"])
    round_xs = [x for x, _, v in ticks if v not in ends]
    return [(x, "" if v in ends and any(abs(x - other) < MIN_LABEL_GAP for other in round_xs) else text)
            for x, text, v in ticks]


def _predictor_rows(model: Mapping[str, Any], y: float, values: Mapping[str, Any] | None) -> tuple[list[str], float]:
    parts = []
    for index, predictor in enumerate(nm.predictors(model)):
        ticks = _predictor_ticks(model, predictor)
        unit = pretty_unit(predictor.get("unit"))
        label = predictor.get("label", predictor["name"]) + (f" ({unit})" if unit else "")
        parts += _axis(f"axis-{index}", label, y, ticks)
        if values and predictor["name"] in values:
            value = values[predictor["name"]]
            x = _x(nm.predictor_points(model, predictor, value) / 100.0)
            parts.append(_marker(x, y, f"{predictor['name']} = {_value_text(predictor, value)}"))
        y += ROW
    return parts, y


def _risk_rows(model: Mapping[str, Any], y: float, top_points: float) -> tuple[list[str], float]:
    times = [None]
    if nm.is_cox(model):
        times = sorted(float(t) for t in model["model"]["baseline_survival"])
    parts = []
    for index, time in enumerate(times):
        ticks = []
        for risk in RISK_TICKS:
            total = float(nm.risk_to_total_points(model, risk, time))
            if 0.0 <= total <= top_points:
                ticks.append((_x(total / top_points), f"{risk:g}"))
        quantity = outcome_terms(model).quantity.capitalize()
        label = quantity if time is None else f"{quantity} by {time:g} {model['model'].get('time_unit', '')}".strip()
        if ticks:
            parts += _axis(f"risk-axis-{index}", label, y, ticks, css="nomogram-axis risk-axis")
            y += ROW
    return parts, y


def nomogram_svg(model: Mapping[str, Any], result: Mapping[str, Any] | None = None, title: str = "") -> str:
    """The nomogram as an SVG document string (see the module docstring); ``result`` marks a patient."""
    top_points = nm.max_total_points(model)
    y = TOP + 18
    parts = _axis("points-axis", "Points", y, [(_x(p / 100.0), f"{p:g}") for p in range(0, 101, 10)])
    y += ROW
    rows, y = _predictor_rows(model, y, result.get("values") if result else None)
    parts += rows
    total_ticks = [(_x(t / top_points), f"{t:g}") for t in nm.nice_ticks(0.0, top_points, 10) if t <= top_points]
    parts += _axis("total-points-axis", "Total points", y, total_ticks, span=(_x(0.0), _x(1.0)))
    if result:
        parts.append(_marker(_x(min(result["total_points"], top_points) / top_points), y,
                             f"total points {result['total_points']:.0f}"))
    y += ROW
    rows, y = _risk_rows(model, y, top_points)
    parts += rows
    height = y - ROW / 2 + 10
    width = LABEL_WIDTH + AXIS_WIDTH + 30
    heading = title or f"Nomogram: {model.get('name', '')}"
    outcome = nm.outcome_heading(model)
    quantity = outcome_terms(model).quantity
    head = [f'<svg xmlns="{SVG_NS}" class="nomogram-chart" width="{num(width)}" height="{num(height)}" '
            f'viewBox="0 0 {num(width)} {num(height)}" role="img" aria-labelledby="nomogram-title">',
            f'<title id="nomogram-title">{esc(heading)}</title>',
            f'<desc>Points for each predictor (0-100 scale), total points and the predicted {quantity}.</desc>',
            f'<text x="10" y="18" font-size="13" font-weight="bold" fill="#212121" {FONT}>{esc(heading)}</text>',
            f'<text x="10" y="36" font-size="12" fill="#424242" {FONT}>{esc(quantity.capitalize())} axis: {esc(outcome)}</text>']
    if result:
        head.append(f'<text x="{num(width - 10)}" y="36" text-anchor="end" font-size="12" fill="#d32f2f" {FONT}>'
                    f'● this patient: {result["total_points"]:.0f} points, {quantity} {esc(percent(result["risk"]))}</text>')
    return "\n".join(head + parts + ["</svg>"])


# --------------------------------------------------------------------------------------------
# waterfall
# --------------------------------------------------------------------------------------------

BAR_COLOURS = tuple((category.label, category.colour) for category in WATERFALL_CATEGORIES)
#: category key -> SVG pattern drawn in white over the bar colour (a cue that does not need colour)
HATCHES = {
    "increase": ('<pattern id="waterfall-hatch-increase" class="waterfall-hatch-pattern" patternUnits="userSpaceOnUse" '
                 'width="6" height="6" patternTransform="rotate(45)"><line x1="3" y1="0" x2="3" y2="6" '
                 'stroke="#ffffff" stroke-width="2.2"/></pattern>'),
    "decrease": ('<pattern id="waterfall-hatch-decrease" class="waterfall-hatch-pattern" patternUnits="userSpaceOnUse" '
                 'width="5" height="5"><circle cx="2.5" cy="2.5" r="1.3" fill="#ffffff"/></pattern>'),
}


def waterfall_rows(table) -> list[tuple[str, str, float]]:
    """(lesion_id, status, percent change or NaN) for every lesion, in plotting order (see the
    module docstring); [] without a lesion table with diameters."""
    if table is None or len(table) == 0 or "baseline:longest_diameter_mm" not in table.columns:
        return []
    rows = waterfall_table(table, include_new=True)
    return [(str(lesion), str(status), float(change))
            for lesion, status, change in zip(rows["lesion_id"], rows["status"], rows["diameter_change_percent"])]


def _swatch(x: float, y: float, width: float, height: float, key: str, colour: str, css: str = "", extra: str = "",
            title: str = "") -> list[str]:
    """A rectangle in a category's colour, with its HATCHES pattern over it as a path of the same outline."""
    tip = f"<title>{esc(title)}</title>" if title else ""
    parts = [f'<rect{css} x="{num(x)}" y="{num(y)}" width="{num(width)}" height="{num(height)}" fill="{colour}"{extra}>'
             f'{tip}</rect>']
    if key in HATCHES:
        parts.append(f'<path class="waterfall-hatch" data-category="{esc(key)}"{extra} d="M{num(x)} {num(y)}h{num(width)}'
                     f'v{num(height)}h{num(-width)}z" fill="url(#waterfall-hatch-{esc(key)})"/>')
    return parts


def _legend(x: float, y: float, any_new: bool) -> list[str]:
    parts = [f'<g id="waterfall-legend"><text x="{num(x)}" y="{num(y)}" font-size="10" fill="#424242" {FONT}>Lesion '
             f'change:</text>']
    x += 86
    for category in WATERFALL_CATEGORIES:
        parts += _swatch(x, y - 9, 11, 11, category.key, category.colour)
        parts.append(f'<text x="{num(x + 15)}" y="{num(y)}" font-size="10" fill="#212121" {FONT}>{esc(category.label)}</text>')
        x += 26 + 6.2 * len(category.label)
    if any_new:
        parts.append(_new_marker(x + 5, y - 4, 5) + f'<text x="{num(x + 14)}" y="{num(y)}" font-size="10" fill="#212121" '
                     f'{FONT}>{esc(WATERFALL_NEW_LABEL)}</text>')
    parts.append("</g>")
    return parts


def _new_marker(x: float, y: float, size: float) -> str:
    """An upward black triangle centred on (x, y): a new lesion."""
    return (f'<polygon points="{num(x)},{num(y - size)} {num(x - size)},{num(y + size)} {num(x + size)},{num(y + size)}" '
            f'fill="#000000"/>')


def waterfall_svg(table, title: str = "Per-lesion change in RECIST diameter (longest diameter; short axis for lymph nodes)") -> str:
    """Waterfall plot of every lesion (see the module docstring) as an SVG string."""
    rows = waterfall_rows(table)
    changes = [c for _, _, c in rows if math.isfinite(c)]
    width, height, left, top, bottom, right = 680.0, 320.0, 56.0, 52.0, 44.0, 80.0
    plot_h = height - top - bottom
    high, low = max([50.0] + changes), min([-100.0] + changes)
    y_of = lambda value: top + (high - value) / (high - low) * plot_h  # noqa: E731
    parts = [f'<svg xmlns="{SVG_NS}" class="waterfall-chart" width="{num(width)}" height="{num(height)}" '
             f'viewBox="0 0 {num(width)} {num(height)}" role="img" aria-labelledby="waterfall-title">',
             f'<title id="waterfall-title">{esc(title)}</title>', f'<defs>{"".join(HATCHES.values())}</defs>',
             f'<text x="10" y="18" font-size="13" font-weight="bold" fill="#212121" {FONT}>{esc(title)}</text>']
    parts += _legend(left, 38, any(status == "new" for _, status, _ in rows))
    for value in nm.nice_ticks(low, high, 6):
        parts.append(f'<line x1="{num(left)}" y1="{num(y_of(value))}" x2="{num(width - right)}" y2="{num(y_of(value))}" '
                     f'stroke="#eeeeee"/><text x="{num(left - 6)}" y="{num(y_of(value) + 4)}" text-anchor="end" '
                     f'font-size="10" fill="#424242" {FONT}>{value:g} %</text>')
    parts.append(f'<line x1="{num(left)}" y1="{num(y_of(0))}" x2="{num(width - right)}" y2="{num(y_of(0))}" stroke="#424242"/>')
    if not rows:
        parts.append(f'<text x="{num(width / 2)}" y="{num(height / 2)}" text-anchor="middle" font-size="12" fill="#616161" '
                     f'{FONT}>No lesion with baseline and follow-up diameters</text>')
    slot = (width - right - left) / max(1, len(rows))
    bar = min(48.0, slot * 0.7)
    for index, (lesion, status, change) in enumerate(rows):
        parts += _waterfall_item(left + slot * index + slot / 2, bar, lesion, status, change, y_of, top, height - bottom,
                                 slot)
    for value, name in ((20.0, "+20 % (PD)"), (-30.0, "-30 % (PR)")):
        parts.append(f'<line class="reference-line" data-value="{value:g}" x1="{num(left)}" y1="{num(y_of(value))}" '
                     f'x2="{num(width - right)}" y2="{num(y_of(value))}" stroke="#000000" stroke-dasharray="5 4"/>'
                     f'<text x="{num(width - right + 4)}" y="{num(y_of(value) + 4)}" text-anchor="start" font-size="10" '
                     f'fill="#000000" {FONT}>{esc(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _waterfall_item(centre: float, bar: float, lesion: str, status: str, change: float, y_of, top: float,
                    axis_y: float, slot: float) -> list[str]:
    """One lesion: its bar and value label, a NEW marker, or "not measured"; and its name below the axis."""
    parts = []
    if status == "new":
        y = top + 24  # at the top of the plot, clear of the +20 % line: a marker, not a value
        parts.append(f'<g class="waterfall-new" data-lesion="{esc(lesion)}"><title>{esc(lesion)}: new lesion at follow-up'
                     f'</title>{_new_marker(centre, y, 8)}<text x="{num(centre)}" y="{num(y - 13)}" text-anchor="middle" '
                     f'font-size="10" font-weight="bold" fill="#000000" {FONT}>NEW</text></g>')
    elif not math.isfinite(change):
        parts.append(f'<text class="waterfall-unmeasured" data-lesion="{esc(lesion)}" x="{num(centre)}" y="{num(y_of(0) - 6)}" '
                     f'text-anchor="middle" font-size="9" fill="#616161" {FONT}>not measured</text>')
    else:
        y0, y1 = sorted((y_of(0), y_of(change)))
        label = change_percent(change)
        category = waterfall_category(change)
        parts += _swatch(centre - bar / 2, y0, bar, max(y1 - y0, 1), category.key, category.colour,
                         css=' class="waterfall-bar"', extra=f' data-lesion="{esc(lesion)}" data-change="{change:.4g}"',
                         title=f"{lesion}: {label}")
        label_y = y_of(0) - 4 if change < 0 else y0 - 4  # above the zero line / above the bar
        parts.append(f'<text class="waterfall-value" x="{num(centre)}" y="{num(label_y)}" text-anchor="middle" '
                     f'font-size="10" fill="#212121" {FONT}>{esc(label)}</text>')
    note = WATERFALL_STATUS_NOTES.get(status, "") if math.isfinite(change) or status == "new" else "no change computed"
    rotate = slot < 64
    transform = f' transform="rotate(-30 {num(centre)} {num(axis_y + 14)})"' if rotate else ""
    anchor = "end" if rotate else "middle"
    parts.append(f'<text class="waterfall-label" x="{num(centre)}" y="{num(axis_y + 14)}" text-anchor="{anchor}" '
                 f'font-size="10" fill="#212121" {FONT}{transform}>{esc(lesion)}'
                 + (f'<tspan x="{num(centre)}" dy="12" fill="#616161">({esc(note)})</tspan>' if note and not rotate else "")
                 + "</text>")
    return parts


__all__ = ["nomogram_svg", "waterfall_svg", "waterfall_rows"]
