"""A table written by ``tableio.write_table`` reads back with ``tableio.read_table`` bit for bit.

pandas writes a float with ``repr`` (the shortest text that converts back to the same double), but
its default CSV float parser is not exact: it can change the last digit (~1e-15 relative), so a
lesion table read back and written again would differ from the original, and hashes or resumed
runs would not match.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ResponseSignatureLib.tableio import read_table, write_table


def random_floats(rng: np.random.Generator, n: int) -> np.ndarray:
    """Doubles over many magnitudes (1e-12 .. 1e12), both signs: where parsers round differently."""
    return rng.normal(0.0, 1.0, n) * 10.0 ** rng.integers(-12, 13, n)


def test_random_floats_read_back_exactly(tmp_path):
    rng = np.random.default_rng(20240917)
    table = pd.DataFrame({
        "patient_id": [f"{i:03d}" for i in range(500)],          # IDs stay text ("001", not 1)
        "lesion_id": [f"liver_{i}" for i in range(500)],
        "baseline:volume_ml": random_floats(rng, 500),
        "delta:original_firstorder_Entropy": random_floats(rng, 500),
        "reldelta:volume_ml": rng.uniform(-1.0, 1.0, 500),
    })
    table.loc[3, "reldelta:volume_ml"] = np.nan                   # empty cells stay missing
    path = write_table(table, tmp_path / "lesions.csv")
    back = read_table(path)
    assert list(back.columns) == list(table.columns)
    assert back["patient_id"].tolist() == table["patient_id"].tolist()
    for column in table.columns[2:]:
        written, read = table[column].to_numpy(), back[column].to_numpy(dtype=float)
        same = (written == read) | (np.isnan(written) & np.isnan(read))
        assert same.all(), f"{column}: {int((~same).sum())} values changed, e.g. {written[~same][:3]} -> {read[~same][:3]}"
    # and writing it again gives the same bytes
    again = write_table(back, tmp_path / "again.csv")
    assert again.read_bytes() == path.read_bytes()
