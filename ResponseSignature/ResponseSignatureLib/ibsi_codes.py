"""IBSI feature codes of pyradiomics feature names, for coding radiomic features in DICOM SR.

The Image Biomarker Standardisation Initiative (IBSI 1, Zwanenburg et al., Radiology 2020) gives
each feature definition a four-character identifier (e.g. RNU0 = "Volume (mesh)"). DICOM has no
coding scheme for them, so our SRs use them as the private coding scheme ``99IBSI`` (documented in
docs/dicom.md): code value = IBSI identifier, code meaning = IBSI feature name.

Only features whose pyradiomics definition IS the IBSI definition are listed ("exact"); where two
IBSI identifiers name the same quantity (e.g. GLCM dissimilarity = difference average) the first
one listed in the IBSI manual's table is used, so the map is one-to-one. Features computed on a
filtered image (LoG, wavelet, ...) and features without an IBSI counterpart are coded in our own
scheme ``99RADRESP`` with the pyradiomics name as code value (see dicom_sr.py). Keys are
``<pyradiomics class>_<feature>``, as in ``original_<class>_<feature>`` column names.
"""
from __future__ import annotations

IBSI_SCHEME = "99IBSI"

#: "<class>_<feature>" -> (IBSI identifier, IBSI feature name)
IBSI_CODES = {
    "shape_MeshVolume": ("RNU0", "Volume (mesh)"),
    "shape_VoxelVolume": ("YEKZ", "Volume (voxel counting)"),
    "shape_SurfaceArea": ("C0JK", "Surface area (mesh)"),
    "shape_SurfaceVolumeRatio": ("2PR5", "Surface to volume ratio"),
    "shape_Compactness1": ("SKGS", "Compactness 1"),
    "shape_Compactness2": ("BQWJ", "Compactness 2"),
    "shape_SphericalDisproportion": ("KRCK", "Spherical disproportion"),
    "shape_Sphericity": ("QCFX", "Sphericity"),
    "shape_Maximum3DDiameter": ("L0JK", "Maximum 3D diameter"),
    "shape_MajorAxisLength": ("TDIC", "Major axis length"),
    "shape_MinorAxisLength": ("P9VJ", "Minor axis length"),
    "shape_LeastAxisLength": ("7J51", "Least axis length"),
    "shape_Elongation": ("Q3CK", "Elongation"),
    "shape_Flatness": ("N17B", "Flatness"),
    "firstorder_Mean": ("Q4LE", "Mean intensity"),
    "firstorder_Variance": ("ECT3", "Intensity variance"),
    "firstorder_Skewness": ("KE2A", "Intensity skewness"),
    "firstorder_Median": ("Y12H", "Median intensity"),
    "firstorder_Minimum": ("1GSF", "Minimum intensity"),
    "firstorder_10Percentile": ("QG58", "10th intensity percentile"),
    "firstorder_90Percentile": ("8DWT", "90th intensity percentile"),
    "firstorder_Maximum": ("84IY", "Maximum intensity"),
    "firstorder_InterquartileRange": ("SALO", "Intensity interquartile range"),
    "firstorder_Range": ("2OJQ", "Intensity range"),
    "firstorder_MeanAbsoluteDeviation": ("4FUA", "Intensity-based mean absolute deviation"),
    "firstorder_RobustMeanAbsoluteDeviation": ("1128", "Intensity-based robust mean absolute deviation"),
    "firstorder_Energy": ("N8CA", "Intensity-based energy"),
    "firstorder_RootMeanSquared": ("5ZWQ", "Root mean square intensity"),
    "firstorder_Entropy": ("TLU2", "Discretised intensity entropy"),
    "firstorder_Uniformity": ("BJ5W", "Discretised intensity uniformity"),
    "glcm_MaximumProbability": ("GYBY", "Joint maximum"),
    "glcm_JointAverage": ("60VM", "Joint average"),
    "glcm_SumSquares": ("UR99", "Joint variance"),
    "glcm_JointEntropy": ("TU9B", "Joint entropy"),
    "glcm_DifferenceAverage": ("TF7R", "Difference average"),
    "glcm_DifferenceVariance": ("D3YU", "Difference variance"),
    "glcm_DifferenceEntropy": ("NTRS", "Difference entropy"),
    "glcm_SumAverage": ("ZGXS", "Sum average"),
    "glcm_ClusterTendency": ("OEEB", "Sum variance"),
    "glcm_SumEntropy": ("P6QZ", "Sum entropy"),
    "glcm_JointEnergy": ("8ZQL", "Angular second moment"),
    "glcm_Contrast": ("ACUI", "Contrast"),
    "glcm_Id": ("IB1Z", "Inverse difference"),
    "glcm_Idn": ("NDRX", "Normalised inverse difference"),
    "glcm_Idm": ("WF0Z", "Inverse difference moment"),
    "glcm_Idmn": ("1QCO", "Normalised inverse difference moment"),
    "glcm_InverseVariance": ("E8JP", "Inverse variance"),
    "glcm_Correlation": ("NI2N", "Correlation"),
    "glcm_Autocorrelation": ("QWB0", "Autocorrelation"),
    "glcm_ClusterShade": ("7NFM", "Cluster shade"),
    "glcm_ClusterProminence": ("AE86", "Cluster prominence"),
    "glcm_Imc1": ("R8DG", "Information correlation 1"),
    "glcm_Imc2": ("JN9H", "Information correlation 2"),
    "glrlm_ShortRunEmphasis": ("22OV", "Short runs emphasis"),
    "glrlm_LongRunEmphasis": ("W4KF", "Long runs emphasis"),
    "glrlm_LowGrayLevelRunEmphasis": ("V3SW", "Low grey level run emphasis"),
    "glrlm_HighGrayLevelRunEmphasis": ("G3QZ", "High grey level run emphasis"),
    "glrlm_ShortRunLowGrayLevelEmphasis": ("HTZT", "Short run low grey level emphasis"),
    "glrlm_ShortRunHighGrayLevelEmphasis": ("GD3A", "Short run high grey level emphasis"),
    "glrlm_LongRunLowGrayLevelEmphasis": ("IVPO", "Long run low grey level emphasis"),
    "glrlm_LongRunHighGrayLevelEmphasis": ("3KUM", "Long run high grey level emphasis"),
    "glrlm_GrayLevelNonUniformity": ("R5YN", "Grey level non-uniformity"),
    "glrlm_GrayLevelNonUniformityNormalized": ("OVBL", "Normalised grey level non-uniformity"),
    "glrlm_RunLengthNonUniformity": ("W92Y", "Run length non-uniformity"),
    "glrlm_RunLengthNonUniformityNormalized": ("IC23", "Normalised run length non-uniformity"),
    "glrlm_RunPercentage": ("9ZK5", "Run percentage"),
    "glrlm_GrayLevelVariance": ("8CE5", "Grey level variance"),
    "glrlm_RunVariance": ("SXLW", "Run length variance"),
    "glrlm_RunEntropy": ("HJ9O", "Run entropy"),
    "glszm_SmallAreaEmphasis": ("5QRC", "Small zone emphasis"),
    "glszm_LargeAreaEmphasis": ("48P8", "Large zone emphasis"),
    "glszm_LowGrayLevelZoneEmphasis": ("XMSY", "Low grey level zone emphasis"),
    "glszm_HighGrayLevelZoneEmphasis": ("5GN9", "High grey level zone emphasis"),
    "glszm_SmallAreaLowGrayLevelEmphasis": ("5RAI", "Small zone low grey level emphasis"),
    "glszm_SmallAreaHighGrayLevelEmphasis": ("HW1V", "Small zone high grey level emphasis"),
    "glszm_LargeAreaLowGrayLevelEmphasis": ("YH51", "Large zone low grey level emphasis"),
    "glszm_LargeAreaHighGrayLevelEmphasis": ("J17V", "Large zone high grey level emphasis"),
    "glszm_GrayLevelNonUniformity": ("JNSA", "Grey level non-uniformity"),
    "glszm_GrayLevelNonUniformityNormalized": ("Y1RO", "Normalised grey level non-uniformity"),
    "glszm_SizeZoneNonUniformity": ("4JP3", "Zone size non-uniformity"),
    "glszm_SizeZoneNonUniformityNormalized": ("VB3A", "Normalised zone size non-uniformity"),
    "glszm_ZonePercentage": ("P30P", "Zone percentage"),
    "glszm_GrayLevelVariance": ("BYLV", "Grey level variance"),
    "glszm_ZoneVariance": ("3NSA", "Zone size variance"),
    "glszm_ZoneEntropy": ("GU8N", "Zone size entropy"),
    "ngtdm_Coarseness": ("QCDE", "Coarseness"),
    "ngtdm_Contrast": ("65HE", "Contrast"),
    "ngtdm_Busyness": ("NQ30", "Busyness"),
    "ngtdm_Complexity": ("HDEZ", "Complexity"),
    "ngtdm_Strength": ("1X9X", "Strength"),
    "gldm_SmallDependenceEmphasis": ("SODN", "Low dependence emphasis"),
    "gldm_LargeDependenceEmphasis": ("IMOQ", "High dependence emphasis"),
    "gldm_LowGrayLevelEmphasis": ("TL9H", "Low grey level count emphasis"),
    "gldm_HighGrayLevelEmphasis": ("OAE7", "High grey level count emphasis"),
    "gldm_SmallDependenceLowGrayLevelEmphasis": ("EQ3F", "Low dependence low grey level emphasis"),
    "gldm_SmallDependenceHighGrayLevelEmphasis": ("JA6D", "Low dependence high grey level emphasis"),
    "gldm_LargeDependenceLowGrayLevelEmphasis": ("NBZI", "High dependence low grey level emphasis"),
    "gldm_LargeDependenceHighGrayLevelEmphasis": ("9QMG", "High dependence high grey level emphasis"),
    "gldm_GrayLevelNonUniformity": ("FP8K", "Grey level non-uniformity"),
    "gldm_DependenceNonUniformity": ("Z87G", "Dependence count non-uniformity"),
    "gldm_DependenceNonUniformityNormalized": ("OKJI", "Normalised dependence count non-uniformity"),
    "gldm_GrayLevelVariance": ("1PFV", "Grey level variance"),
    "gldm_DependenceVariance": ("DNX2", "Dependence count variance"),
    "gldm_DependenceEntropy": ("FCBV", "Dependence count entropy"),
}

_BY_CODE = {code: name for name, (code, _) in IBSI_CODES.items()}


def ibsi_code(feature: str):
    """(identifier, meaning) of a lesion-table feature name such as 'original_glcm_Contrast', or None
    (filtered images, features IBSI does not define identically)."""
    prefix, _, rest = feature.partition("_")
    return IBSI_CODES.get(rest) if prefix == "original" else None


def feature_of_code(code: str) -> str | None:
    """The lesion-table feature name ('original_<class>_<feature>') of an IBSI identifier, or None."""
    name = _BY_CODE.get(code)
    return f"original_{name}" if name else None
