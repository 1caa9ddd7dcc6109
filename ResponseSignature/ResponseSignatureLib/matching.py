"""Lesion matching across time points: which follow-up lesion is which baseline lesion.

Lesions are matched in three passes, each working only on what the previous left unmatched:

1. ``pair``: explicit (baseline id, follow-up id) pairs given by the reader — always win;
2. ``name``: identical lesion ids at both time points (e.g. Slicer segment names kept by the reader);
3. ``centroid``: the remaining lesions by centroid distance, with an optimal one-to-one assignment
   (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``, minimising the summed distance);
   an assigned pair farther apart than ``tolerance_mm`` is not a match.

This is the independent-segmentation + centroid + Hungarian pattern (see
reference/clinical_methods.md section 2). Centroids are compared in the scanner's physical space
without registration, so the patient must lie similarly at both scans; the reader confirms the
result (RECIST 1.1 lesion identity is a reader decision).

Unmatched baseline lesions are ``disappeared``, unmatched follow-up lesions are ``new``: these are
clinical findings, not errors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .errors import InputError


@dataclass
class LesionMatch:
    """One row of the matching: a matched pair, a new lesion or a disappeared lesion.

    ``method`` says how a match was made ('pair', 'name', 'centroid'; None when unmatched);
    ``distance_mm`` is the centroid distance (nan when one side is missing).
    """
    baseline_id: Optional[str]
    followup_id: Optional[str]
    status: str
    method: Optional[str]
    distance_mm: float


def match_lesions(baseline: dict[str, tuple[float, float, float]],
                  followup: dict[str, tuple[float, float, float]],
                  tolerance_mm: float = 15.0,
                  pairs: list[tuple[str, str]] | None = None) -> list[LesionMatch]:
    """Match baseline lesions to follow-up lesions (ids -> centroids in mm).

    Precedence: explicit ``pairs``, then identical ids, then centroid proximity within
    ``tolerance_mm`` (optimal assignment). Output order is deterministic: baseline lesions in their
    input order (matched or disappeared), then new follow-up lesions in their input order.
    Raises InputError for pairs naming unknown ids or using an id twice, and for bad centroids.
    """
    if not (tolerance_mm >= 0):
        raise InputError(f"matching tolerance must be a distance >= 0 mm, got {tolerance_mm}")
    base = _centroids(baseline, "baseline")
    follow = _centroids(followup, "follow-up")
    matched: dict[str, tuple[str, str]] = {}  # baseline id -> (follow-up id, method)
    for base_id, follow_id in _checked_pairs(pairs or [], base, follow):
        matched[base_id] = (follow_id, "pair")
    used = {follow_id for follow_id, _ in matched.values()}
    for base_id in base:
        if base_id not in matched and base_id in follow and base_id not in used:
            matched[base_id] = (base_id, "name")
            used.add(base_id)
    left_base = [b for b in base if b not in matched]
    left_follow = [f for f in follow if f not in used]
    for base_id, follow_id in _nearest_pairs(left_base, left_follow, base, follow, tolerance_mm):
        matched[base_id] = (follow_id, "centroid")
        used.add(follow_id)
    return _rows(base, follow, matched, used)


def _centroids(lesions: dict, which: str) -> dict[str, np.ndarray]:
    """Check and convert {id: (x, y, z)} to {id: array}; the dict order is kept."""
    out = {}
    for lesion_id, point in lesions.items():
        array = np.asarray(point, dtype=np.float64).ravel()
        if array.shape != (3,) or not np.all(np.isfinite(array)):
            raise InputError(f"{which} lesion '{lesion_id}': expected a centroid of 3 finite "
                             f"coordinates in mm, got {point!r}")
        out[str(lesion_id)] = array
    return out


def _checked_pairs(pairs, base: dict, follow: dict) -> list[tuple[str, str]]:
    """Validate the reader's pairs: known ids, each id used at most once on each side."""
    unknown = [f"baseline '{b}'" for b, _ in pairs if b not in base]
    unknown += [f"follow-up '{f}'" for _, f in pairs if f not in follow]
    if unknown:
        raise InputError(f"lesion pairs name unknown lesions: {', '.join(unknown)}; known baseline "
                         f"lesions: {sorted(base)}, follow-up lesions: {sorted(follow)}")
    for side, ids in (("baseline", [b for b, _ in pairs]), ("follow-up", [f for _, f in pairs])):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise InputError(f"lesion pairs use the {side} lesion(s) {twice} more than once; "
                             f"each lesion can be paired with one lesion only")
    return [(str(b), str(f)) for b, f in pairs]


def _nearest_pairs(left_base: list[str], left_follow: list[str], base: dict, follow: dict,
                   tolerance_mm: float) -> list[tuple[str, str]]:
    """Optimal one-to-one assignment by centroid distance; pairs beyond tolerance are dropped.

    Candidates beyond the tolerance get a prohibitive cost before the assignment, so that a far
    pair never displaces a feasible near one.
    """
    if not left_base or not left_follow:
        return []
    from scipy.optimize import linear_sum_assignment  # here: importing scipy.optimize takes ~0.2 s

    a = np.stack([base[b] for b in left_base])
    b = np.stack([follow[f] for f in left_follow])
    distance = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    too_far = distance > tolerance_mm
    cost = np.where(too_far, 1e6 + distance, distance)
    rows, cols = linear_sum_assignment(cost)
    return [(left_base[r], left_follow[c]) for r, c in zip(rows, cols) if not too_far[r, c]]


def _rows(base: dict, follow: dict, matched: dict, used: set) -> list[LesionMatch]:
    """Build the output rows: baseline order first, then new follow-up lesions."""
    rows = []
    for base_id, point in base.items():
        if base_id in matched:
            follow_id, method = matched[base_id]
            distance = float(np.linalg.norm(point - follow[follow_id]))
            rows.append(LesionMatch(base_id, follow_id, "matched", method, distance))
        else:
            rows.append(LesionMatch(base_id, None, "disappeared", None, math.nan))
    for follow_id in follow:
        if follow_id not in used:
            rows.append(LesionMatch(None, follow_id, "new", None, math.nan))
    return rows
