"""RECIST 1.1 target selection and time-point response, volumetric change and Choi criteria.

Sources (see reference/clinical_methods.md section 1 for the full rule list and citations):
RECIST 1.1 = Eisenhauer et al., Eur J Cancer 2009;45:228-247, with the EORTC RECIST working
group's clarifications (recist.eortc.org FAQ); Choi = Choi et al., J Clin Oncol 2007;25:1753;
modified Choi = Nathan et al. / Smith et al. (mRCC), PR needs both size and density criteria.

Scope: per-time-point responses of target lesions combined with new lesions and the reader's
non-target assessment. Not covered: confirmation of CR/PR (>= 4 weeks later) and best overall
response, iRECIST, split/coalesced lesions, the "too small to measure = 5 mm" imputation (a
segmented lesion always has a measurement).

Measurements are ``LesionMeasurement`` objects or plain dicts with the same keys (e.g. the dict of
``measure.measure_lesion`` plus ``location``). ``location`` is an organ name; a location mentioning
a lymph node ('node', 'lymph node', 'mediastinal node'...) marks a nodal lesion. A lesion whose
location is not known ('other', 'unknown' or empty: e.g. a label-map lesion ``lesion_3`` without a
locations file) counts as its own organ for the 2-per-organ cap (it cannot be grouped with any
other lesion), and ``recist_reason`` says which target lesions had no location.

Patient-table columns returned by ``patient_recist_summary`` (last follow-up vs baseline):

- ``recist_targets``: comma-separated ids of the RECIST 1.1 target lesions (chosen at baseline).
- ``baseline_sum_mm``: baseline sum of diameters (LD of non-nodal + short axis of nodal targets).
- ``followup_sum_mm``: the same sum at the last follow-up (empty/NaN when a target is not evaluable).
- ``nadir_mm``: smallest sum on study before that follow-up (includes baseline).
- ``percent_change_from_baseline``: 100 * (followup_sum - baseline_sum) / baseline_sum.
- ``percent_change_from_nadir``: 100 * (followup_sum - nadir) / nadir (NaN when the nadir is 0).
- ``recist_category``: RECIST 1.1 time-point response, CR | PR | SD | PD | NE.
- ``recist_reason``: which rule decided the category, in words.
- ``volumetric_change_percent``: 100 * (V_followup - V_baseline) / V_baseline, V = summed volume
  of the target lesions (absent = 0 ml). Non-standard (not part of RECIST 1.1).
- ``volumetric_category``: CR | PR | SD | PD | NE with the sphere-equivalent thresholds -65 % / +73 %
  (non-standard, see ``volumetric_category``).
- ``choi_category``: Choi (or modified Choi) response from the target sum and their mean HU.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import InputError

# Absorbs floating-point rounding of sums and ratios at the exact thresholds (e.g. -30.0 %).
_EPS = 1e-9

PR_PERCENT = -30.0            # RECIST 1.1 PR: <= -30 % vs baseline sum
PD_PERCENT = 20.0             # RECIST 1.1 PD: >= +20 % vs nadir ...
PD_ABSOLUTE_MM = 5.0          # ... and >= +5 mm absolute increase
NODE_NORMAL_SA_MM = 10.0      # a nodal target with SA < 10 mm counts as normal for CR
VOLUMETRIC_PR_PERCENT = -65.0  # (0.7)^3 - 1 = -65.7 %, rounded (sphere assumption)
VOLUMETRIC_PD_PERCENT = 73.0   # (1.2)^3 - 1 = +72.8 %, rounded (sphere assumption)
CHOI_SIZE_PERCENT = 10.0      # Choi: 10 % change of the sum of diameters
CHOI_DENSITY_PERCENT = 15.0   # Choi: 15 % decrease of mean attenuation (HU)

_NODE_WORDS = {"node", "nodes", "nodal", "lymph", "lymphnode", "lymphnodes", "ln"}
#: locations that name no organ: such a lesion counts as its own organ
UNKNOWN_LOCATIONS = ("", "other", "unknown", "none", "nan")
_PAIRED_ORGANS = {  # EORTC clarification: paired organs count as one organ
    "lung": {"lung", "lungs", "pulmonary"},
    "kidney": {"kidney", "kidneys", "renal"},
    "ovary": {"ovary", "ovaries", "ovarian"},
}


@dataclass
class LesionMeasurement:
    """One lesion at one time point. ``present=False`` means it disappeared (no voxel left)."""
    lesion_id: str
    location: str = "other"
    longest_diameter_mm: float = math.nan
    short_axis_mm: float = math.nan
    volume_ml: float = math.nan
    mean_hu: float = math.nan
    present: bool = True

    @property
    def is_node(self) -> bool:
        """True for a lymph node (measured by its short axis in RECIST 1.1)."""
        return is_lymph_node(self.location)


@dataclass
class TimepointResponse:
    """RECIST 1.1 response of one follow-up. Sums in mm, changes in percent (NaN if undefined).

    ``timepoint_index`` is 1 for the first follow-up; ``sum_diameters_mm`` is NaN when a target is
    not evaluable (listed in ``not_evaluable``); ``reason`` names the rule(s) that decided.
    """
    timepoint_index: int
    sum_diameters_mm: float
    baseline_sum_mm: float
    nadir_mm: float
    percent_change_from_baseline: float
    percent_change_from_nadir: float
    absolute_change_from_nadir_mm: float
    category: str
    reason: str
    new_lesions: list[str] = field(default_factory=list)
    not_evaluable: list[str] = field(default_factory=list)


def is_lymph_node(location: str | None) -> bool:
    """Whether a location string names a lymph node ('node', 'lymph node', 'hilar nodes'...)."""
    return bool(_words(location) & _NODE_WORDS)


def location_known(location: str | None) -> bool:
    """Whether a location names an organ (not 'other', 'unknown' or empty)."""
    return str(location or "").strip().lower() not in UNKNOWN_LOCATIONS


def organ_group(location: str | None, lesion_id: str | None = None) -> str:
    """The organ a lesion counts against for the 2-per-organ cap (RECIST 1.1 + EORTC FAQ).

    All lymph nodes are one organ; paired organs (lungs, kidneys, ovaries) are one organ; any
    other location is its own organ (case and spacing ignored). A lesion of unknown location
    (``location_known`` false) is its own organ: 'unknown location <lesion_id>'.
    """
    if not location_known(location):
        return f"unknown location {lesion_id}" if lesion_id is not None else "unknown location"
    words = _words(location)
    if words & _NODE_WORDS:
        return "lymph node"
    for organ, names in _PAIRED_ORGANS.items():
        if words & names:
            return organ
    return " ".join(re.findall(r"[a-z0-9]+", str(location or "other").lower())) or "other"


def as_measurement(value, lesion_id: str | None = None) -> LesionMeasurement:
    """A LesionMeasurement from a LesionMeasurement or a dict with the same keys.

    Missing numbers become NaN, a missing ``present`` means present, a missing ``location`` 'other'.
    ``lesion_id`` (e.g. the key of the mapping the value came from) wins over the dict's own id.
    """
    if isinstance(value, LesionMeasurement):
        if lesion_id is not None and lesion_id != value.lesion_id:
            return LesionMeasurement(**{**value.__dict__, "lesion_id": lesion_id})
        return value
    if not isinstance(value, Mapping):
        raise InputError(f"lesion '{lesion_id}': expected a LesionMeasurement or a dict of "
                         f"measurements, got {type(value).__name__}")
    return LesionMeasurement(
        lesion_id=str(lesion_id if lesion_id is not None else value.get("lesion_id", "lesion")),
        location=str(value.get("location") or "other"),
        longest_diameter_mm=_number(value.get("longest_diameter_mm")),
        short_axis_mm=_number(value.get("short_axis_mm")),
        volume_ml=_number(value.get("volume_ml")),
        mean_hu=_number(value.get("mean_hu")),
        present=bool(value.get("present", True)),
    )


def lesion_recist_diameter(measurement, is_node: bool | None = None) -> float:
    """The lesion's contribution to the RECIST 1.1 sum of diameters, in mm.

    Non-nodal: longest diameter; nodal: short axis (its actual value, even below 10 mm);
    a lesion that disappeared counts 0 mm. NaN when the needed measurement is missing
    (not evaluable). ``is_node`` defaults to the measurement's location.
    """
    m = as_measurement(measurement)
    if not m.present:
        return 0.0
    node = m.is_node if is_node is None else is_node
    return m.short_axis_mm if node else m.longest_diameter_mm


def is_measurable(measurement, min_diameter_mm: float = 10.0, min_node_short_axis_mm: float = 15.0,
                  slice_thickness_mm: float | None = None) -> bool:
    """RECIST 1.1 measurability at baseline (inclusive thresholds).

    Non-nodal: LD >= max(10 mm, 2 x slice thickness); lymph node: SA >= max(15 mm, 2 x slice
    thickness) (Eisenhauer 2009; same rule as OHIF's trial-criteria checks).
    """
    m = as_measurement(measurement)
    floor = 0.0
    if slice_thickness_mm is not None:
        if not (slice_thickness_mm > 0 and math.isfinite(slice_thickness_mm)):
            raise InputError(f"slice thickness must be a positive number of mm, got "
                             f"{slice_thickness_mm}")
        floor = 2.0 * slice_thickness_mm
    minimum = max(min_node_short_axis_mm if m.is_node else min_diameter_mm, floor)
    value = lesion_recist_diameter(m)
    return m.present and math.isfinite(value) and value >= minimum - _EPS


def select_targets(lesions, max_total: int = 5, max_per_organ: int = 2,
                   min_diameter_mm: float = 10.0, min_node_short_axis_mm: float = 15.0,
                   slice_thickness_mm: float | None = None) -> list[str]:
    """Automatic RECIST 1.1 target selection at baseline; returns the target ids, largest first.

    Measurable lesions (``is_measurable``) ranked by LD (SA for nodes), descending, ties by id;
    taken while the organ (``organ_group``: all nodes one organ, paired organs one organ) has
    fewer than ``max_per_organ`` and the total is below ``max_total`` (RECIST 1.1: 5 total,
    2 per organ). Selection is a reader decision: this is a proposal to be confirmed.
    """
    candidates = [m for m in _measurement_map(lesions).values()
                  if is_measurable(m, min_diameter_mm, min_node_short_axis_mm, slice_thickness_mm)]
    candidates.sort(key=lambda m: (-lesion_recist_diameter(m), m.lesion_id))
    chosen: list[str] = []
    per_organ: dict[str, int] = {}
    for m in candidates:
        organ = organ_group(m.location, m.lesion_id)
        if len(chosen) < max_total and per_organ.get(organ, 0) < max_per_organ:
            chosen.append(m.lesion_id)
            per_organ[organ] = per_organ.get(organ, 0) + 1
    return chosen


def assess_response(timepoints: list, targets: list[str],
                    new_lesions_per_timepoint: list[list[str]] | None = None,
                    non_target_progression: list[bool] | None = None,
                    non_target_present: list[bool] | None = None) -> list[TimepointResponse]:
    """RECIST 1.1 time-point response of every follow-up (one TimepointResponse each).

    ``timepoints[0]`` is baseline, then the follow-ups in order; each maps lesion id ->
    measurement (a list of measurements works too). ``new_lesions_per_timepoint``,
    ``non_target_progression`` (reader's "unequivocal progression" flag) and
    ``non_target_present`` (non-target lesions still visible) have one entry per follow-up.

    Rules, evaluated in this order (Eisenhauer 2009; EORTC FAQ):

    - PD: any new lesion; or non-target progression; or (S_t - nadir)/nadir >= 20 % and
      S_t - nadir >= 5 mm, where nadir = smallest evaluable sum among baseline and the previous
      follow-ups. If some targets are not evaluable, PD is still declared when the evaluable ones
      alone meet it. Nadir = 0 (all non-nodal targets gone, no nodal target): the relative
      increase of any S_t > 0 is infinite, so PD is decided by the +5 mm rule alone and
      percent_change_from_nadir is NaN (no division by zero).
    - NE: a target has no measurement (missing or NaN) and PD does not hold.
    - CR: every non-nodal target disappeared (0 mm) and every nodal target has SA < 10 mm (the sum
      need not be 0). With ``non_target_present`` true the overall response is PR (RECIST 1.1
      overall-response table: target CR + non-target non-CR/non-PD = PR).
    - PR: (S_t - S_0)/S_0 <= -30 % (reference = baseline, not nadir).
    - SD: none of the above.
    """
    if len(timepoints) < 2:
        raise InputError(f"RECIST response needs a baseline and at least one follow-up, got "
                         f"{len(timepoints)} time point(s)")
    targets = _checked_targets(targets)
    baseline = _measurement_map(timepoints[0])
    nodes = _baseline_nodes(baseline, targets)
    s0 = sum(lesion_recist_diameter(baseline[t], nodes[t]) for t in targets)
    n = len(timepoints) - 1
    new_lists = _per_followup(new_lesions_per_timepoint, n, "new_lesions_per_timepoint", [])
    progression = _per_followup(non_target_progression, n, "non_target_progression", False)
    persisting = _per_followup(non_target_present, n, "non_target_present", False)
    evaluable_sums = [s0]
    responses = []
    unlocated = [t for t in targets if not location_known(baseline[t].location)]
    for index in range(1, n + 1):
        values = _followup_diameters(_measurement_map(timepoints[index]), targets, nodes)
        response = _timepoint_response(index, values, nodes, s0, min(evaluable_sums),
                                       _new_ids(new_lists[index - 1], index),
                                       bool(progression[index - 1]), bool(persisting[index - 1]))
        if unlocated:
            response.reason += (f"; location missing for target lesion(s) {', '.join(unlocated)}: each counted as "
                                "its own organ (give lesion locations to apply the 2-per-organ rule)")
        responses.append(response)
        if not response.not_evaluable:
            evaluable_sums.append(response.sum_diameters_mm)
    return responses


def volumetric_change(baseline_total_ml: float, followup_total_ml: float) -> float:
    """Percent change of total tumour volume: 100 * (V_t - V_0) / V_0 (NaN if V_0 is 0 or NaN).

    Non-standard: volumetric response is not part of RECIST 1.1.
    """
    b, f = _number(baseline_total_ml), _number(followup_total_ml)
    if b < 0 or f < 0:
        raise InputError(f"tumour volumes must be >= 0 ml, got baseline {b} and follow-up {f}")
    if not (b > 0) or math.isnan(f):
        return math.nan
    return 100.0 * (f - b) / b


def volumetric_category(percent_change: float, new_lesions: bool = False,
                        pr_percent: float = VOLUMETRIC_PR_PERCENT,
                        pd_percent: float = VOLUMETRIC_PD_PERCENT) -> str:
    """Volumetric response category — NON-STANDARD, a RECIST-equivalent by sphere geometry.

    For a sphere V ~ d^3, so RECIST's -30 % diameter is (0.7)^3 - 1 = -65.7 % volume and +20 %
    diameter is (1.2)^3 - 1 = +72.8 % (rounded to -65 % / +73 %; reference/clinical_methods.md
    section 1.10). PD: new lesions or change >= +73 %; CR: -100 % (no volume left); PR: <= -65 %;
    SD otherwise; NE when the change is undefined. RECIST's +5 mm floor has no analogue here.
    """
    if new_lesions:
        return "PD"
    if math.isnan(_number(percent_change)):
        return "NE"
    if percent_change >= pd_percent - _EPS:
        return "PD"
    if percent_change <= -100.0 + _EPS:
        return "CR"
    if percent_change <= pr_percent + _EPS:
        return "PR"
    return "SD"


def choi_response(baseline_sum_mm: float, followup_sum_mm: float, baseline_mean_hu: float,
                  followup_mean_hu: float, new_lesions: bool, modified: bool = False) -> str:
    """Choi criteria (Choi et al., JCO 2007; GIST on imatinib), or modified Choi with ``modified``.

    size = % change of the RECIST sum of diameters; density = % change of the targets' mean HU
    (portal-venous phase at both time points). Evaluated in this order:
    PD: new lesions; CR: all targets disappeared (follow-up sum 0);
    PD: size >= +10 % and the density PR criterion (<= -15 %) not met;
    PR: size <= -10 % OR density <= -15 % (modified Choi: size AND density);
    SD otherwise. NE when sizes are missing. The density change is undefined (criterion not met)
    when the baseline mean HU is <= 0 or missing: a relative change needs a positive reference;
    modified Choi then returns NE where size alone would have given PR.
    Not modelled: new intratumoral nodules, symptomatic deterioration.
    """
    if new_lesions:
        return "PD"
    b, f = _number(baseline_sum_mm), _number(followup_sum_mm)
    if not (b > 0) or math.isnan(f):
        return "NE"
    if f == 0:
        return "CR"
    size = 100.0 * (f - b) / b
    hu0, hu1 = _number(baseline_mean_hu), _number(followup_mean_hu)
    density = 100.0 * (hu1 - hu0) / hu0 if hu0 > 0 and not math.isnan(hu1) else math.nan
    density_pr = density <= -CHOI_DENSITY_PERCENT + _EPS
    size_pr = size <= -CHOI_SIZE_PERCENT + _EPS
    if size >= CHOI_SIZE_PERCENT - _EPS and not density_pr:
        return "PD"
    if modified:
        if size_pr and math.isnan(density):
            return "NE"
        return "PR" if size_pr and density_pr else "SD"
    return "PR" if size_pr or density_pr else "SD"


def patient_recist_summary(baseline, followups, new_lesions=None, targets: list[str] | None = None,
                           non_target_progression=None, slice_thickness_mm: float | None = None,
                           modified_choi: bool = False) -> dict:
    """Patient-table RECIST/volumetric/Choi columns (see the module docstring) for the last follow-up.

    ``baseline``: lesion id -> measurement (or a list of measurements). ``followups``: one such
    mapping, or a list of them in time order. ``new_lesions``: new lesion ids at the single
    follow-up, or one list per follow-up. ``targets`` default to ``select_targets(baseline)``.
    ``non_target_progression``: one reader flag per follow-up (or one bool for a single one).
    """
    followup_list = [followups] if isinstance(followups, Mapping) else list(followups)
    n = len(followup_list)
    new_lists = _new_lesion_lists(new_lesions, n)
    if isinstance(non_target_progression, bool):
        non_target_progression = [non_target_progression] * n
    baseline_map = _measurement_map(baseline)
    if targets is None:
        targets = select_targets(baseline_map, slice_thickness_mm=slice_thickness_mm)
    last_new = bool(new_lists[-1]) if new_lists else False
    if not targets:
        return _summary_without_targets(last_new, bool((non_target_progression or [False])[-1]))
    responses = assess_response([baseline_map] + followup_list, targets, new_lists,
                                non_target_progression)
    last = responses[-1]
    final = _measurement_map(followup_list[-1])
    volume_change = volumetric_change(_total_volume(baseline_map, targets),
                                      _total_volume(final, targets))
    choi = choi_response(last.baseline_sum_mm, last.sum_diameters_mm,
                         _mean_hu(baseline_map, targets), _mean_hu(final, targets),
                         last_new, modified=modified_choi)
    return {
        "recist_targets": ",".join(targets),
        "baseline_sum_mm": last.baseline_sum_mm,
        "followup_sum_mm": last.sum_diameters_mm,
        "nadir_mm": last.nadir_mm,
        "percent_change_from_baseline": last.percent_change_from_baseline,
        "percent_change_from_nadir": last.percent_change_from_nadir,
        "recist_category": last.category,
        "recist_reason": last.reason,
        "volumetric_change_percent": volume_change,
        "volumetric_category": volumetric_category(volume_change, last_new),
        "choi_category": choi,
    }


# ----------------------------------------------------------------------------- helpers


def _timepoint_response(index: int, values: dict, nodes: dict, s0: float, nadir: float,
                        new_ids: list, progression: bool, persisting: bool) -> TimepointResponse:
    """Apply the RECIST 1.1 rules (order PD -> NE -> CR -> PR -> SD) to one follow-up."""
    missing = [t for t, v in values.items() if math.isnan(v)]
    evaluable_sum = sum(v for v in values.values() if not math.isnan(v))
    total = math.nan if missing else evaluable_sum
    pd_reasons = _progression_reasons(evaluable_sum, nadir, missing, new_ids, progression)
    if pd_reasons:
        category, reason = "PD", "; ".join(pd_reasons)
    elif missing:
        category, reason = "NE", f"target lesion(s) not evaluable (no measurement): {', '.join(missing)}"
    else:
        category, reason = _non_progression_category(values, nodes, total, s0, persisting)
    return TimepointResponse(
        timepoint_index=index, sum_diameters_mm=total, baseline_sum_mm=s0, nadir_mm=nadir,
        percent_change_from_baseline=_percent(total, s0),
        percent_change_from_nadir=_percent(total, nadir),
        absolute_change_from_nadir_mm=total - nadir, category=category, reason=reason,
        new_lesions=list(new_ids), not_evaluable=missing)


def _progression_reasons(evaluable_sum: float, nadir: float, missing: list, new_ids: list,
                         progression: bool) -> list[str]:
    """Every PD rule that holds (empty list: no progression)."""
    reasons = []
    if new_ids:
        reasons.append(f"new lesion(s): {', '.join(new_ids)}")
    if progression:
        reasons.append("unequivocal progression of non-target lesions (reader's assessment)")
    increase = evaluable_sum - nadir
    relative_ok = increase > 0 if nadir == 0 else 100.0 * increase / nadir >= PD_PERCENT - _EPS
    if relative_ok and increase >= PD_ABSOLUTE_MM - _EPS:
        text = (f"sum of diameters {evaluable_sum:.1f} mm is >= 20 % and >= 5 mm above the nadir "
                f"{nadir:.1f} mm (+{increase:.1f} mm)")
        if missing:
            text += f", even without the non-evaluable target(s) {', '.join(missing)}"
        reasons.append(text)
    return reasons


def _non_progression_category(values: dict, nodes: dict, total: float, s0: float,
                              persisting: bool) -> tuple[str, str]:
    """CR, PR or SD once PD and NE are excluded."""
    non_nodal_gone = all(values[t] == 0 for t in values if not nodes[t])
    nodes_normal = all(values[t] < NODE_NORMAL_SA_MM for t in values if nodes[t])
    if non_nodal_gone and nodes_normal:
        if persisting:
            return "PR", ("target lesions in complete response but non-target lesions persist "
                          "(RECIST 1.1 overall response: CR + non-CR/non-PD = PR)")
        return "CR", ("all non-nodal target lesions disappeared and all nodal targets have short "
                      "axis < 10 mm")
    change = _percent(total, s0)
    if change <= PR_PERCENT + _EPS:
        return "PR", f"sum of diameters {change:+.1f} % from baseline (<= -30 %)"
    return "SD", (f"sum of diameters {change:+.1f} % from baseline (PR needs <= -30 %), "
                  f"no progression vs nadir")


def _measurement_map(lesions) -> dict[str, LesionMeasurement]:
    """{id: LesionMeasurement} from a mapping id -> measurement or a list of measurements."""
    if isinstance(lesions, Mapping):
        return {str(k): as_measurement(v, str(k)) for k, v in lesions.items()}
    out = {}
    for value in lesions:
        m = as_measurement(value)
        if m.lesion_id in out:
            raise InputError(f"lesion '{m.lesion_id}' is listed twice at the same time point")
        out[m.lesion_id] = m
    return out


def _checked_targets(targets) -> list[str]:
    """Target ids as a list of distinct strings, at least one."""
    if isinstance(targets, str):
        raise InputError(f"targets must be a list of lesion ids, got the string {targets!r}")
    ids = [str(t) for t in targets]
    if not ids:
        raise InputError("no target lesion: RECIST 1.1 target response needs at least one "
                         "measurable target lesion at baseline")
    twice = sorted({t for t in ids if ids.count(t) > 1})
    if twice:
        raise InputError(f"target lesion(s) {twice} listed more than once")
    return ids


def _baseline_nodes(baseline: dict, targets: list[str]) -> dict[str, bool]:
    """Whether each target is a node (from its baseline location); checks baseline values."""
    nodes = {}
    for t in targets:
        if t not in baseline:
            raise InputError(f"target lesion '{t}' has no baseline measurement; baseline lesions: "
                             f"{sorted(baseline)}")
        nodes[t] = baseline[t].is_node
        value = lesion_recist_diameter(baseline[t], nodes[t])
        if not (value > 0):
            kind = "short axis" if nodes[t] else "longest diameter"
            raise InputError(f"target lesion '{t}' needs a baseline {kind} > 0 mm, got {value}")
    return nodes


def _followup_diameters(followup: dict, targets: list[str], nodes: dict) -> dict[str, float]:
    """Each target's RECIST diameter at a follow-up; NaN when it was not measured."""
    return {t: lesion_recist_diameter(followup[t], nodes[t]) if t in followup else math.nan
            for t in targets}


def _per_followup(values, n: int, name: str, default) -> list:
    """Check a per-follow-up list (one entry per follow-up) or build the default one."""
    if values is None:
        return [default] * n
    values = list(values)
    if len(values) != n:
        raise InputError(f"{name} needs one entry per follow-up ({n}), got {len(values)}")
    return values


def _new_ids(entry, index: int) -> list[str]:
    """New lesion ids at one follow-up, checked to be a list of ids (not a bare string)."""
    if entry is None:
        return []
    if isinstance(entry, str):
        raise InputError(f"new lesions at follow-up {index} must be a list of lesion ids, got the "
                         f"string {entry!r}")
    return [str(x) for x in entry]


def _new_lesion_lists(new_lesions, n: int) -> list[list[str]]:
    """Normalise ``new_lesions`` of patient_recist_summary to one list per follow-up."""
    new_lesions = list(new_lesions or [])
    if not new_lesions:
        return [[] for _ in range(n)]
    if all(isinstance(x, str) for x in new_lesions):
        if n != 1:
            raise InputError(f"with {n} follow-ups, give new lesions as one list per follow-up")
        return [new_lesions]
    return _per_followup(new_lesions, n, "new_lesions", [])


def _total_volume(lesions: dict, targets: list[str]) -> float:
    """Summed volume (ml) of the targets; a disappeared one counts 0, a missing one makes NaN."""
    total = 0.0
    for t in targets:
        m = lesions.get(t)
        if m is None:
            return math.nan
        total += m.volume_ml if m.present else 0.0
    return total


def _mean_hu(lesions: dict, targets: list[str]) -> float:
    """Volume-weighted mean HU of the present targets (= mean over all their voxels)."""
    pairs = [(lesions[t].volume_ml, lesions[t].mean_hu) for t in targets
             if t in lesions and lesions[t].present]
    pairs = [(v, h) for v, h in pairs if v > 0 and not math.isnan(h)]
    volume = sum(v for v, _ in pairs)
    return sum(v * h for v, h in pairs) / volume if volume > 0 else math.nan


def _summary_without_targets(new: bool, progression: bool) -> dict:
    """Summary row when there is no measurable target lesion at baseline."""
    category = "PD" if new or progression else "NE"
    reason = ("new lesion(s) or non-target progression" if category == "PD" else
              "no measurable target lesion at baseline: target response not assessable")
    return {
        "recist_targets": "", "baseline_sum_mm": math.nan, "followup_sum_mm": math.nan,
        "nadir_mm": math.nan, "percent_change_from_baseline": math.nan,
        "percent_change_from_nadir": math.nan, "recist_category": category,
        "recist_reason": reason, "volumetric_change_percent": math.nan,
        "volumetric_category": "PD" if new else "NE", "choi_category": "PD" if new else "NE",
    }


def _percent(value: float, reference: float) -> float:
    """100 * (value - reference) / reference; NaN when the reference is 0 or a value is NaN."""
    if not (reference > 0) or math.isnan(value):
        return math.nan
    return 100.0 * (value - reference) / reference


def _number(value) -> float:
    """A float, NaN for None/missing."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"expected a number, got {value!r}") from None


def _words(text) -> set:
    """Lower-case words of a location string."""
    return set(re.findall(r"[a-z]+", str(text or "").lower()))
