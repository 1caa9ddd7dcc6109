"""Property-based tests of every reader of a user's file: whatever the bytes, only our InputError.

For each reader (CSV tables, batch manifests, locations CSV, model JSON, pyradiomics parameter
YAML, NRRD headers of images and segmentations) hypothesis writes (a) arbitrary bytes and (b) a
valid file mutated (bytes flipped, inserted, deleted, truncated; for JSON and YAML, a value of the
parsed document replaced by another JSON value; for NRRD, a header field given another value) and
asserts that the reader either returns or raises ``InputError`` (or a subclass: ``ModelFileError``,
``LesionError``), never another exception. Example counts are modest (``EXAMPLES``) so that the
file runs in about half a minute; raise ``RR_FUZZ_EXAMPLES`` for a longer search.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import yaml

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'radiomics-response[test]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import NomogramScoreLib.nomogram  # noqa: E402,F401 - registers the nomogram model kinds
from LesionAggregateLib.batch import read_manifest  # noqa: E402
from ResponseSignatureLib.errors import InputError  # noqa: E402
from ResponseSignatureLib.extraction import load_params  # noqa: E402
from ResponseSignatureLib.imageio import read_image, read_segments  # noqa: E402
from ResponseSignatureLib.models.modelfile import canonical_json, content_hash, load_model  # noqa: E402
from ResponseSignatureLib.pipeline import read_locations  # noqa: E402
from ResponseSignatureLib.tableio import read_table  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS = (REPO_ROOT / "ResponseSignature" / "Resources" / "Models" / "demo_signature.json",
          REPO_ROOT / "NomogramScore" / "Resources" / "Models" / "demo_nomogram.json")
PARAMS = REPO_ROOT / "ResponseSignature" / "Resources" / "Presets" / "dercle2020.yaml"
EXAMPLES = int(os.environ.get("RR_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,  # database=None: no .hypothesis/ folder
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TABLE = b"patient_id,lesion_id,baseline:volume_ml,delta:volume_ml\nP001,liver_1,2.5,-0.5\nP001,liver_2,1.0,0.25\n"
LOCATIONS = b"lesion_id,location\nliver_1,liver\nnode_1,node\n"


def only_input_errors(reader, *args) -> None:
    """Call the reader; it may return anything or raise InputError, nothing else."""
    try:
        reader(*args)
    except InputError:
        pass


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` with 1-4 byte-level edits: replace, insert or delete a byte run, or truncate."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        run = draw(st.binary(min_size=1, max_size=8))
        if kind == "replace":
            data[where:where + len(run)] = run
        elif kind == "insert":
            data[where:where] = run
        elif kind == "delete":
            del data[where:where + len(run)]
        else:
            del data[where:]
    return bytes(data)


def file_bytes(valid: bytes):
    """Arbitrary bytes, or the valid content mutated."""
    return st.one_of(st.binary(max_size=600), mutated(valid))


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@st.composite
def replaced_value(draw, document):
    """A deep copy of a parsed JSON/YAML document with one value (anywhere in it) replaced or removed."""
    document = json.loads(json.dumps(document))
    node, path = document, []
    while isinstance(node, (dict, list)) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
        path.append((node, key))
        node = node[key]
    if not path:
        return draw(JSON_VALUES)
    parent, key = path[-1]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[key]
    else:
        parent[key] = draw(JSON_VALUES)
    return document


# ------------------------------------------------------------------------------------------ CSV

@FUZZ
@given(content=file_bytes(TABLE))
def test_read_table(tmp_path, content):
    path = tmp_path / "table.csv"
    path.write_bytes(content)
    only_input_errors(read_table, path)


@FUZZ
@given(content=file_bytes(LOCATIONS))
def test_read_locations(tmp_path, content):
    path = tmp_path / "locations.csv"
    path.write_bytes(content)
    only_input_errors(read_locations, path)


@pytest.fixture(scope="module")
def manifest_folder(tmp_path_factory) -> Path:
    """A folder with two tiny images, a label map and a locations file the manifests can name."""
    folder = tmp_path_factory.mktemp("manifest")
    image = sitk.Image([6, 6, 4], sitk.sitkInt16)
    for name in ("ct0.nrrd", "ct1.nrrd", "seg.nrrd"):
        sitk.WriteImage(image, str(folder / name))
    (folder / "locations.csv").write_bytes(LOCATIONS)
    return folder


MANIFEST = (b"patient_id,timepoint,image,segmentation,locations\n"
            b"P001,baseline,ct0.nrrd,seg.nrrd,locations.csv\nP001,followup,ct1.nrrd,seg.nrrd,\n"
            b"P002,baseline,ct1.nrrd,seg.nrrd,\nP002,followup,ct0.nrrd,seg.nrrd,\n")


@FUZZ
@given(content=file_bytes(MANIFEST))
def test_read_manifest(manifest_folder, content):
    path = manifest_folder / "manifest.csv"
    path.write_bytes(content)
    only_input_errors(read_manifest, path)


def test_the_valid_examples_are_read(manifest_folder, tmp_path):
    """The files the mutations start from are valid (so the mutations test more than the first check)."""
    (manifest_folder / "good.csv").write_bytes(MANIFEST)
    assert [case["patient_id"] for case in read_manifest(manifest_folder / "good.csv")] == ["P001", "P002"]
    (tmp_path / "t.csv").write_bytes(TABLE)
    assert read_table(tmp_path / "t.csv").shape == (2, 4)
    (tmp_path / "l.csv").write_bytes(LOCATIONS)
    assert read_locations(tmp_path / "l.csv") == {"liver_1": "liver", "node_1": "node"}
    for model in MODELS:
        assert load_model(model)["sha256"]
    assert load_params(PARAMS)["featureClass"]


# ---------------------------------------------------------------------------------- model JSON

@FUZZ
@given(index=st.integers(0, len(MODELS) - 1), data=st.data())
def test_load_model_bytes(tmp_path, index, data):
    path = tmp_path / "model.json"
    path.write_bytes(data.draw(file_bytes(MODELS[index].read_bytes())))
    only_input_errors(load_model, path)


@FUZZ
@given(index=st.integers(0, len(MODELS) - 1), rehash=st.booleans(), data=st.data())
def test_load_model_mutated_values(tmp_path, index, rehash, data):
    """A value of a valid model replaced; with ``rehash`` the hash is recomputed (a consistent but
    wrong file, e.g. edited by hand), so the kind-specific checks run on it."""
    document = data.draw(replaced_value(json.loads(MODELS[index].read_text(encoding="utf-8"))))
    if rehash and isinstance(document, dict):
        try:
            canonical_json(document)
            document["sha256"] = content_hash(document)
        except InputError:
            pass
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    only_input_errors(load_model, path)


# ------------------------------------------------------------------------------- parameter YAML

@FUZZ
@given(content=file_bytes(PARAMS.read_bytes()))
def test_load_params_bytes(tmp_path, content):
    path = tmp_path / "params.yaml"
    path.write_bytes(content)
    only_input_errors(load_params, str(path))


@FUZZ
@given(data=st.data())
def test_load_params_mutated_values(tmp_path, data):
    document = data.draw(replaced_value(yaml.safe_load(PARAMS.read_text(encoding="utf-8"))))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    only_input_errors(load_params, str(path))


# -------------------------------------------------------------------------------- NRRD headers

def nrrd_file(folder: Path, name: str, values: np.ndarray) -> bytes:
    image = sitk.GetImageFromArray(values)
    image.SetSpacing((0.8, 0.8, 2.5))
    sitk.WriteImage(image, str(folder / name))           # raw encoding: header, blank line, voxels
    return (folder / name).read_bytes()


NRRD_FIELDS = ("type", "dimension", "space", "sizes", "space directions", "kinds", "endian", "encoding",
               "space origin", "byte skip", "data file")
FIELD_VALUES = st.one_of(
    st.sampled_from(["", "-1", "0", "3", "4", "nan", "inf", "1e308", "none", "gzip", "raw", "ascii", "bzip2",
                     "short", "double", "block", "LIST", "(1,0,0) (0,1,0) (0,0,1)", "(nan,0,0) (0,0,0) (0,0,0)",
                     "6 6 4", "6 6 0", "100000 100000 100000", "6 -6 4", "domain domain domain", "big",
                     "left-posterior-superior", "3D-right-handed", "(0,0,0)", "missing.raw"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20))


@st.composite
def mutated_header(draw, content: bytes) -> bytes:
    """A NRRD with 1-3 header fields given other values (or removed), the voxel data kept."""
    header, _, data = content.partition(b"\n\n")
    lines = header.decode("ascii").split("\n")
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(NRRD_FIELDS))
        value = draw(FIELD_VALUES)
        lines = [line for line in lines if not line.startswith(field + ":")]
        if draw(st.integers(0, 4)):                       # mostly replaced, sometimes removed
            lines.insert(draw(st.integers(1, len(lines))), f"{field}: {value}")
    return "\n".join(lines).encode("ascii") + b"\n\n" + data


@pytest.fixture(scope="module")
def nrrd_files(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("nrrd")
    labels = np.zeros((4, 6, 6), np.uint8)
    labels[1:3, 1:4, 1:4] = 1
    reference = sitk.GetImageFromArray(np.zeros((4, 6, 6), np.int16))
    reference.SetSpacing((0.8, 0.8, 2.5))
    return {"image": nrrd_file(folder, "image.nrrd", np.arange(144, dtype=np.int16).reshape(4, 6, 6)),
            "labels": nrrd_file(folder, "labels.nrrd", labels), "reference": reference}


@FUZZ
@given(data=st.data())
def test_read_image_nrrd(tmp_path, nrrd_files, data):
    valid = nrrd_files["image"]
    content = data.draw(st.one_of(st.binary(max_size=400), mutated(valid), mutated_header(valid)))
    path = tmp_path / "image.nrrd"
    path.write_bytes(content)
    only_input_errors(read_image, path)


@FUZZ
@given(data=st.data())
def test_read_segments_nrrd(tmp_path, nrrd_files, data):
    valid = nrrd_files["labels"]
    content = data.draw(st.one_of(st.binary(max_size=400), mutated(valid), mutated_header(valid)))
    path = tmp_path / "labels.nrrd"
    path.write_bytes(content)
    only_input_errors(read_segments, path, nrrd_files["reference"])
