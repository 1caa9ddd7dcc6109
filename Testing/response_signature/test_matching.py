"""match_lesions: reader pairs, identical names, centroid assignment, new and disappeared lesions.

Distances are chosen so that the expected answer is clear by hand (3-4-5 triangles).
"""
from __future__ import annotations

import math

import pytest

from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.matching import LesionMatch, match_lesions


def as_tuples(matches):
    return [(m.baseline_id, m.followup_id, m.status, m.method) for m in matches]


def test_identical_names_match_whatever_the_distance():
    matches = match_lesions({"liver_1": (0, 0, 0)}, {"liver_1": (100, 0, 0)})
    assert as_tuples(matches) == [("liver_1", "liver_1", "matched", "name")]
    assert matches[0].distance_mm == pytest.approx(100.0)


def test_renamed_lesion_matched_by_centroid_within_tolerance():
    matches = match_lesions({"Segment_1": (10, 20, 30)}, {"Segment_7": (13, 24, 30)})
    assert as_tuples(matches) == [("Segment_1", "Segment_7", "matched", "centroid")]
    assert matches[0].distance_mm == pytest.approx(5.0)  # 3-4-5


def test_moved_beyond_tolerance_is_disappeared_plus_new():
    matches = match_lesions({"a": (0, 0, 0)}, {"b": (0, 16, 0)}, tolerance_mm=15.0)
    assert as_tuples(matches) == [("a", None, "disappeared", None), (None, "b", "new", None)]
    assert math.isnan(matches[0].distance_mm) and math.isnan(matches[1].distance_mm)
    # Exactly at the tolerance still matches.
    matches = match_lesions({"a": (0, 0, 0)}, {"b": (9, 12, 0)}, tolerance_mm=15.0)
    assert as_tuples(matches) == [("a", "b", "matched", "centroid")]


def test_optimal_assignment_not_greedy():
    """Greedy nearest-first would pair a1-b1 (1 mm) and leave a2 unmatched (b2 is 20 mm from a2);
    the optimal assignment within 15 mm pairs a1-b2 (10 mm) and a2-b1 (9 mm)."""
    baseline = {"a1": (0, 0, 0), "a2": (10, 0, 0)}
    followup = {"b1": (1, 0, 0), "b2": (-10, 0, 0)}
    matches = match_lesions(baseline, followup, tolerance_mm=15.0)
    assert as_tuples(matches) == [("a1", "b2", "matched", "centroid"),
                                  ("a2", "b1", "matched", "centroid")]
    assert [m.distance_mm for m in matches] == pytest.approx([10.0, 9.0])


def test_explicit_pair_overrides_names():
    """The segment names were swapped at follow-up; the reader's pair wins over the names, the
    other lesion then matches by centroid (1 mm) rather than by its stale name."""
    baseline = {"x": (0, 0, 0), "y": (5, 0, 0)}
    followup = {"x": (5, 0, 1), "y": (0, 0, 1)}
    matches = match_lesions(baseline, followup, pairs=[("x", "y")])
    assert as_tuples(matches) == [("x", "y", "matched", "pair"),
                                  ("y", "x", "matched", "centroid")]
    assert [m.distance_mm for m in matches] == pytest.approx([1.0, 1.0])
    # Without the pair, names win even though they cross.
    assert as_tuples(match_lesions(baseline, followup)) == [("x", "x", "matched", "name"),
                                                            ("y", "y", "matched", "name")]
    # A reader pair is honoured even beyond the centroid tolerance.
    far = match_lesions({"p": (0, 0, 0)}, {"q": (0, 0, 40)}, pairs=[("p", "q")])
    assert as_tuples(far) == [("p", "q", "matched", "pair")]


def test_new_and_disappeared_order():
    baseline = {"liver_2": (0, 0, 0), "liver_1": (100, 0, 0), "lung_1": (0, 100, 0)}
    followup = {"new_b": (-200, 0, 0), "liver_1": (101, 0, 0), "new_a": (0, 0, 200)}
    matches = match_lesions(baseline, followup)
    assert as_tuples(matches) == [
        ("liver_2", None, "disappeared", None),
        ("liver_1", "liver_1", "matched", "name"),
        ("lung_1", None, "disappeared", None),
        (None, "new_b", "new", None),
        (None, "new_a", "new", None),
    ]
    assert isinstance(matches[0], LesionMatch)


def test_empty_sides():
    assert as_tuples(match_lesions({}, {"n": (0, 0, 0)})) == [(None, "n", "new", None)]
    assert as_tuples(match_lesions({"d": (0, 0, 0)}, {})) == [("d", None, "disappeared", None)]


def test_unknown_ids_in_pairs_are_named():
    with pytest.raises(InputError, match=r"baseline 'ghost'.*follow-up 'phantom'"):
        match_lesions({"a": (0, 0, 0)}, {"b": (0, 0, 0)}, pairs=[("ghost", "b"), ("a", "phantom")])


def test_id_used_twice_in_pairs():
    with pytest.raises(InputError, match=r"follow-up lesion\(s\) \['b'\] more than once"):
        match_lesions({"a": (0, 0, 0), "c": (1, 0, 0)}, {"b": (0, 0, 0)},
                      pairs=[("a", "b"), ("c", "b")])
    with pytest.raises(InputError, match=r"baseline lesion\(s\) \['a'\] more than once"):
        match_lesions({"a": (0, 0, 0)}, {"b": (0, 0, 0), "c": (0, 0, 0)},
                      pairs=[("a", "b"), ("a", "c")])


def test_bad_centroid():
    with pytest.raises(InputError, match="baseline lesion 'a'.*3 finite"):
        match_lesions({"a": (0, float("nan"), 0)}, {})
