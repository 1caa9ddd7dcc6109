"""The SR's IBSI codes come from one place, the engine's registry (``FeatureInfo.ibsi``), the same the
lesion table's column metadata shows: expected codes are IBSI 1's (TLU2 = discretised intensity
entropy, QCFX = sphericity, ACUI = GLCM contrast), and a class registered in a test is coded with no
other edit."""
from __future__ import annotations

import pytest

from ResponseSignatureLib.dicom_sr import feature_of_ibsi, ibsi_code
from ResponseSignatureLib.engine import registry
from ResponseSignatureLib.engine.descriptor import FeatureClass, FeatureInfo
from ResponseSignatureLib.lesion_table import column_info


def test_codes_of_the_original_image_are_ibsi_1s():
    assert ibsi_code("original_firstorder_Entropy")[0] == "TLU2"
    assert ibsi_code("original_shape_Sphericity")[0] == "QCFX"
    assert ibsi_code("original_glcm_Contrast")[0] == "ACUI"
    assert ibsi_code("log-sigma-2-0-mm-3D_firstorder_Entropy") is None  # a filtered image: our own scheme
    assert ibsi_code("original_glcm_MCC") is None  # no IBSI definition
    assert ibsi_code("original_ibsi_IvhV10") is None  # a code shared by parameterised features


def test_the_sr_code_is_the_column_metadatas():
    coded = 0
    for descriptor in registry.all_classes():
        for feature, info in descriptor.info.items():
            name = f"original_{descriptor.name}_{feature}"
            found = ibsi_code(name)
            if found is None:
                continue
            coded += 1
            shown = column_info(f"baseline:{name}").ibsi
            assert found[0] == shown.split(",")[0].strip(), name
            assert feature_of_ibsi(found[0]) == name  # read back to the same column
    assert coded > 100


def test_every_code_of_a_feature_reads_back():
    """pyradiomics' ClusterTendency is IBSI's cluster tendency (DG8W) and sum variance (OEEB)."""
    assert ibsi_code("original_glcm_ClusterTendency")[0] == "DG8W"
    assert feature_of_ibsi("OEEB") == feature_of_ibsi("DG8W") == "original_glcm_ClusterTendency"
    assert feature_of_ibsi("XXXX") is None


def test_a_registered_class_is_coded_without_other_edits():
    dummy = FeatureClass(name="dummytest", title="Dummy class of a test",
                         features={"Peak": lambda context: context},
                         info={"Peak": FeatureInfo("A dummy feature with a made-up IBSI code", "", "ZZ9Z")})
    assert ibsi_code("original_dummytest_Peak") is None
    with registry.registered(dummy):
        assert ibsi_code("original_dummytest_Peak") == ("ZZ9Z", "A dummy feature with a made-up IBSI code")
        assert feature_of_ibsi("ZZ9Z") == "original_dummytest_Peak"
    assert ibsi_code("original_dummytest_Peak") is None


@pytest.mark.parametrize("name", ["original_shape_MeshVolume", "original_glrlm_RunEntropy"])
def test_the_sr_concept_uses_the_code(name):
    pytest.importorskip("highdicom")
    from ResponseSignatureLib.dicom_sr import IBSI_SCHEME, concept_of, name_of

    concept, _, derivation = concept_of(name)
    assert (concept.scheme_designator, concept.value) == (IBSI_SCHEME, ibsi_code(name)[0])
    assert name_of(concept, derivation) == name
