"""Radiomic features per lesion: parameter presets and a crop-first pyradiomics backend.

Public API
----------
``presets_dir()``, ``list_presets()``, ``load_params(source)`` and ``FeatureExtractor``.
Parameters are ordinary pyradiomics parameter dictionaries (``imageType``, ``featureClass``,
``setting``), so users' existing pyradiomics YAML/JSON files work unchanged; they are validated
with pyradiomics' own schema. Feature names are pyradiomics' (``original_glcm_JointEntropy``).

Why crop first (see shared/DESIGN.md, Performance)
--------------------------------------------------
pyradiomics called on a whole CT spends seconds per lesion on whole-volume work and runs every
filter over the whole scan. ``FeatureExtractor.extract`` therefore cuts image and mask down to
the lesion's bounding box plus a margin before calling pyradiomics, and switches pyradiomics'
``additionalInfo`` off (the project records its own provenance). The margin per axis, in voxels:

* original image only: ``padDistance + 1`` voxels (pyradiomics' own internal crops use
  ``padDistance``, 5 by default, so they see exactly the same voxels: features are identical);
* LoG: ``max(15 mm, 6 * largest sigma)`` plus one voxel. SimpleITK's recursive Gaussian has
  infinite support, so a crop changes LoG values near its border; the error decays like
  exp(-d**2 / (2 sigma**2)) with the distance d from the border. Measured on the textured blob of
  Testing/test_extraction.py (120 x 120 x 60 voxels of 0.8 x 0.8 x 2.5 mm, sigma 1-5 mm), worst
  relative difference from filtering the whole image: 2.3e-3 with a 4 sigma margin, 4.4e-5 with
  5 sigma, 3.4e-5 with 6 sigma (firstorder Maximum at sigma 5 mm; 10 of 572 features differ by
  more than 1e-6, the median difference is 0);
* wavelet: 15 mm plus ``filter length * 2**(start_level + level)`` voxels (coif1,
  level 1: 12 voxels), because pyradiomics' stationary wavelet transform wraps around the
  image border (measured on the same blob: identical to whole-image filtering);
* other local filters (Gradient, LBP2D, LBP3D): 15 mm plus one voxel;
* Square, SquareRoot, Logarithm, Exponential scale the image by its global maximum, which a crop
  would change: when one of them is enabled the image is not cropped (slow but exact).

Resampling (``resampledPixelSpacing``)
--------------------------------------
Cropping before resampling would move the resampled grid with the crop. Instead the grid is
computed exactly as pyradiomics computes it on the *whole, uncropped* scan (anchored to the
scan's first voxel; same origin, spacing and direction), so it depends only on the scan geometry
and is identical to direct pyradiomics. Only the input region that this grid needs (plus 24
voxels, where the B-spline prefilter's boundary effect has decayed to ~0.27**24, about 1e-14)
is cut out and resampled; pyradiomics then runs with resampling switched off. The resampled
region extends ``max(padDistance, filter margin)`` resampled voxels around the lesion.
Measured (Testing/test_pyradiomics_parity.py, 'ligero2021' on brain1 and lung1): identical to
direct pyradiomics on int16 images, <= 1.3e-14 relative on float64 images. With a filter *and*
resampling, direct pyradiomics filters its resampled crop of only ``padDistance`` (5) voxels
around the lesion; we filter a crop with the filter margin above, i.e. closer to filtering the
whole resampled scan, so filtered features then differ from direct pyradiomics near that border.
Intensity normalisation (``normalize``) uses the whole scan's statistics, so it is applied to
the whole image before cropping.
"""
from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import yaml

from .errors import InputError, LesionError
from .progress import report

ENGINES = ("builtin", "pyradiomics")
DEFAULT_ENGINE = "builtin"
DEFAULT_PRESET = "default"
FILTER_MARGIN_MM = 15.0
LOG_MARGIN_SIGMAS = 6.0
BSPLINE_MARGIN_VOXELS = 24
#: voxels added to ``FeatureExtractor.input_margin`` beyond what the backends say they read: a crop
#: larger than needed changes nothing (the backends cut their own crop from it), one too small would change features.
INPUT_SAFETY_VOXELS = 2


# --------------------------------------------------------------------------------------------
# presets and parameter files
# --------------------------------------------------------------------------------------------
def presets_dir() -> Path:
    """Folder of the shipped preset YAML files (source tree first, then the installed wheel)."""
    here = Path(__file__).resolve().parent
    candidates = [here.parent / "Resources" / "Presets", here / "presets"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise InputError(f"preset folder not found; looked in {', '.join(str(c) for c in candidates)}")


def _description(path: Path) -> str:
    """The text after ``# description:`` in a preset's first lines ('' if there is none)."""
    for line in path.read_text(encoding="utf-8").splitlines()[:5]:
        stripped = line.strip()
        if stripped.lower().startswith("# description:"):
            return stripped.split(":", 1)[1].strip()
    return ""


def list_presets() -> dict[str, str]:
    """Shipped presets: name -> one-line description (from the file's ``# description:`` line)."""
    return {path.stem: _description(path) for path in sorted(presets_dir().glob("*.yaml"))}


def _read_param_file(path: Path) -> dict:
    """Parse a YAML or JSON pyradiomics parameter file into a dict (InputError naming the file)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read parameter file '{path}': {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"parameter file '{path}' must hold a mapping with imageType/featureClass/"
                         f"setting sections, found {type(data).__name__}")
    return data


def _quiet_pyradiomics():
    """Import radiomics with its console logging reduced to errors (root logger untouched)."""
    import radiomics

    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    # pykwalify logs each schema error before raising; the exception carries the same text.
    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)
    return radiomics


# pyradiomics' parameter names (its paramSchema.yaml), to check files when pyradiomics is absent.
PYRADIOMICS_SETTINGS = (
    "minimumROIDimensions", "minimumROISize", "geometryTolerance", "correctMask", "additionalInfo", "label",
    "label_channel", "binWidth", "binCount", "normalize", "normalizeScale", "removeOutliers",
    "resampledPixelSpacing", "interpolator", "padDistance", "distances", "force2D", "force2Ddimension",
    "resegmentRange", "resegmentMode", "resegmentShape", "preCrop", "sigma", "start_level", "level", "wavelet",
    "gradientUseSpacing", "lbp2DRadius", "lbp2DSamples", "lbp2DMethod", "lbp3DLevels", "lbp3DIcosphereRadius",
    "lbp3DIcosphereSubdivision", "voxelArrayShift", "symmetricalGLCM", "weightingNorm", "gldm_a",
)
PYRADIOMICS_CLASSES = ("shape", "shape2D", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
#: feature classes only the built-in engine computes (IBSI-only families; see engine/ibsi.py)
BUILTIN_ONLY_CLASSES = ("ibsi",)
#: parameter section of the built-in engine's IBSI image processing (engine/ibsi_processing.py)
IBSI_SECTION = "ibsi"


def validate_params(params: dict, origin: str = "parameters") -> None:
    """Validate a parameter dict with pyradiomics' own schema when it is installed, else by name;
    InputError names ``origin``. Built-in-only classes are checked by the engine, not here."""
    params = copy.deepcopy(params)
    if IBSI_SECTION in params:  # the built-in engine's IBSI processing: not pyradiomics' schema
        from .engine.ibsi_processing import settings_from_params

        settings_from_params(params)
        params = {key: value for key, value in params.items() if key != IBSI_SECTION}
    params["featureClass"] = {name: value for name, value in (params.get("featureClass") or {}).items()
                              if name not in BUILTIN_ONLY_CLASSES}
    try:
        _quiet_pyradiomics()
        from radiomics.featureextractor import RadiomicsFeatureExtractor
    except ImportError:
        _validate_names(params, origin)
        return
    try:
        RadiomicsFeatureExtractor(params)
    except Exception as exc:  # pykwalify raises its own SchemaError/CoreError types
        message = " ".join(str(getattr(exc, "msg", None) or exc).split())  # one line
        raise InputError(f"invalid pyradiomics parameters in {origin}: {message}") from exc


def _validate_names(params: dict, origin: str) -> None:
    """Section, setting and feature-class names of a pyradiomics parameter dict (no pyradiomics)."""
    problems = [f"unknown section '{key}'" for key in params if key not in ("setting", "imageType", "featureClass", "voxelSetting")]
    settings = dict(params.get("setting") or {})
    for custom in (params.get("imageType") or {}).values():
        settings.update(custom or {})
    problems += [f"unknown setting '{key}'" for key in settings if key not in PYRADIOMICS_SETTINGS]
    problems += [f"unknown feature class '{key}'" for key in (params.get("featureClass") or {}) if key not in PYRADIOMICS_CLASSES]
    if problems:
        raise InputError(f"invalid parameters in {origin}: {'; '.join(problems)}")


def load_params(source=None) -> dict:
    """Pyradiomics parameter dict from a preset name, a YAML/JSON file path, a dict or None.

    None means the 'default' preset. The result is validated with pyradiomics' schema; problems
    raise InputError naming the file (or preset) and what is wrong.
    """
    if source is None:
        source = DEFAULT_PRESET
    if isinstance(source, dict):
        params, origin = copy.deepcopy(source), "the parameter dictionary"
    elif isinstance(source, (str, Path)):
        params, origin = _params_from_name_or_path(source)
    else:
        raise InputError(f"extraction parameters must be a preset name, a file path or a dict, "
                         f"not {type(source).__name__}")
    _check_sections(params, origin)
    pyradiomics_part, _, _ = split_zhao_params(params, origin)
    if pyradiomics_part.get("featureClass") or not zhao_groups(params):
        validate_params(pyradiomics_part, origin)
    return params


def _check_sections(params: dict, origin: str) -> None:
    """Every section given is a mapping (InputError naming it otherwise), before anything reads it."""
    for name in ("imageType", "featureClass", "setting", "voxelSetting", "zhao"):
        value = params.get(name)
        if value is not None and not isinstance(value, dict):
            raise InputError(f"invalid parameters in {origin}: section '{name}' must be a mapping "
                             f"(name: value lines), found {type(value).__name__}")


# --------------------------------------------------------------------------------------------
# the Zhao-lab feature class (zhao_features.py): not pyradiomics', so kept out of its schema
# --------------------------------------------------------------------------------------------
ZHAO_CLASS = "zhao"


def zhao_groups(params: dict) -> tuple[str, ...]:
    """Zhao feature groups enabled by ``featureClass: {zhao: [...]}`` (empty/None = all groups)."""
    from .zhao_features import FEATURE_GROUPS

    classes = params.get("featureClass") or {}
    if ZHAO_CLASS not in classes:
        return ()
    return tuple(classes[ZHAO_CLASS] or FEATURE_GROUPS)


def split_zhao_params(params: dict, origin: str = "parameters") -> tuple[dict, tuple[str, ...], dict]:
    """(pyradiomics-only parameters, zhao groups, zhao settings); InputError on unknown zhao names."""
    from .zhao_features import DEFAULTS, FEATURE_GROUPS

    groups = zhao_groups(params)
    unknown = sorted(set(groups) - set(FEATURE_GROUPS))
    settings = dict(params.get(ZHAO_CLASS) or {})
    unknown_settings = sorted(set(settings) - set(DEFAULTS))
    if unknown or unknown_settings:
        raise InputError(
            f"invalid zhao parameters in {origin}: unknown {'groups ' + ', '.join(unknown) if unknown else ''}"
            f"{' settings ' + ', '.join(unknown_settings) if unknown_settings else ''}; "
            f"groups are {', '.join(FEATURE_GROUPS)} and settings {', '.join(DEFAULTS)}"
        )
    pyradiomics_part = {key: copy.deepcopy(value) for key, value in params.items() if key != ZHAO_CLASS}
    classes = dict(pyradiomics_part.get("featureClass") or {})
    classes.pop(ZHAO_CLASS, None)
    pyradiomics_part["featureClass"] = classes
    return pyradiomics_part, groups, settings


def _params_from_name_or_path(source) -> tuple[dict, str]:
    """Resolve a preset name or a file path to (params, description of where they came from)."""
    presets = list_presets()
    if isinstance(source, str) and source in presets:
        path = presets_dir() / f"{source}.yaml"
        return _read_param_file(path), f"preset '{source}' ({path})"
    path = Path(source).expanduser()
    if not path.is_file():
        raise InputError(f"parameter file '{source}' not found; expected a preset name "
                         f"({', '.join(presets)}) or a pyradiomics YAML/JSON file")
    return _read_param_file(path), f"parameter file '{path}'"


# --------------------------------------------------------------------------------------------
# input checks and geometry
# --------------------------------------------------------------------------------------------
def _same_geometry(image: sitk.Image, mask: sitk.Image) -> str | None:
    """None if mask lies on the image's voxel grid, else what differs."""
    if image.GetSize() != mask.GetSize():
        return f"size {mask.GetSize()} differs from the image's {image.GetSize()}"
    spacing = np.array(image.GetSpacing())
    if not np.allclose(spacing, mask.GetSpacing(), rtol=1e-5, atol=1e-6):
        return f"spacing {mask.GetSpacing()} differs from the image's {image.GetSpacing()}"
    if not np.allclose(image.GetOrigin(), mask.GetOrigin(), rtol=0, atol=1e-3 * spacing.min()):
        return f"origin {mask.GetOrigin()} differs from the image's {image.GetOrigin()}"
    if not np.allclose(image.GetDirection(), mask.GetDirection(), rtol=0, atol=1e-4):
        return "direction (orientation) differs from the image's"
    return None


def _mask_bbox(mask: sitk.Image, lesion_id: str, timepoint) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) inclusive voxel index bounds (x, y, z) of the mask's non-zero voxels.

    Raises LesionError for an empty or one-voxel mask.
    """
    from .engine.preprocess import roi_bbox

    try:
        lower, upper = roi_bbox(sitk.GetArrayViewFromImage(mask), lesion_id)  # non-zero voxels, k-j-i
    except LesionError:
        raise LesionError(lesion_id, "the segment is empty (no voxel inside the mask)", timepoint) from None
    if np.array_equal(lower, upper):  # a one-voxel box holds one voxel
        raise LesionError(lesion_id, "one voxel: too small for radiomic features", timepoint)
    return lower[::-1], upper[::-1]


def _crop(image: sitk.Image, lower, upper) -> sitk.Image:
    """Sub-image with inclusive index bounds (x, y, z); physical geometry is kept."""
    lo = [int(v) for v in lower]
    hi = [int(v) + 1 for v in upper]
    return image[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]


# --------------------------------------------------------------------------------------------
# margins
# --------------------------------------------------------------------------------------------
def _enabled_image_types(params: dict) -> dict:
    """imageType section with None replaced by {} ('Original' when the section is empty)."""
    types = params.get("imageType") or {"Original": {}}
    return {name: (custom or {}) for name, custom in types.items()}


def _setting(params: dict, name: str, default=None):
    """One entry of the 'setting' section, with a default."""
    value = (params.get("setting") or {}).get(name)
    return default if value is None else value


def needs_whole_image(params: dict) -> bool:
    """True if a filter scales by the whole image's maximum (then cropping would change it)."""
    from .engine.preprocess import POINTWISE_IMAGE_TYPES  # scaled by the image's max |x|

    return any(name in POINTWISE_IMAGE_TYPES for name in _enabled_image_types(params))


def crop_margin(params: dict, spacing) -> np.ndarray:
    """Margin in voxels (x, y, z) to keep around the lesion for these parameters and spacing.

    See the module docstring for how each filter's margin is chosen.
    """
    spacing = np.asarray(spacing, dtype=float)
    pad = int(_setting(params, "padDistance", 5)) + 1
    margin = np.full(spacing.shape, pad, dtype=int)
    for name, custom in _enabled_image_types(params).items():
        if name == "Original":
            continue
        merged = dict(params.get("setting") or {}, **custom)
        extra_mm, extra_vox = _filter_support(name, merged)
        filter_vox = np.ceil(extra_mm / spacing - 1e-9).astype(int) + extra_vox
        margin = np.maximum(margin, filter_vox)
    return margin


def _filter_support(name: str, settings: dict) -> tuple[float, int]:
    """(millimetres, extra voxels) a filter needs around the lesion."""
    if name == "LoG":
        sigmas = [float(s) for s in settings.get("sigma") or [0.0]]
        return max(FILTER_MARGIN_MM, LOG_MARGIN_SIGMAS * max(sigmas)), 1
    if name == "Wavelet":
        import pywt

        wavelet = pywt.Wavelet(settings.get("wavelet", "coif1"))
        levels = int(settings.get("start_level", 0)) + int(settings.get("level", 1))
        return FILTER_MARGIN_MM, wavelet.dec_len * 2 ** levels
    return FILTER_MARGIN_MM, 1


# --------------------------------------------------------------------------------------------
# resampling on the whole scan's grid
# --------------------------------------------------------------------------------------------
def _target_spacing(params: dict, image: sitk.Image, lower, upper):
    """Resampled spacing as pyradiomics would use it, or None if no resampling happens."""
    setting = params.get("setting") or {}
    requested = setting.get("resampledPixelSpacing")
    # as pyradiomics: an interpolator given as null switches resampling off
    if requested is None or ("interpolator" in setting and setting["interpolator"] is None):
        return None
    spacing = np.array(image.GetSpacing())
    target = np.array(requested, dtype=float)
    target = np.where(target == 0, spacing, target)
    target = np.where(np.asarray(upper) - np.asarray(lower) + 1 != 1, target, spacing)
    if np.allclose(spacing, target):
        return None
    return target


def _scan_grid(image: sitk.Image, lower, upper, target, pad: int) -> dict:
    """Output grid (origin, size, spacing, direction) pyradiomics would put on the whole scan.

    Same arithmetic as radiomics.imageoperations.resampleImage on the uncropped image: the grid
    is anchored to the corner of the scan's first voxel, and covers the lesion's bounding box
    plus ``pad`` resampled voxels, clipped to the scan.
    """
    spacing = np.array(image.GetSpacing())
    ratio = spacing / target
    lower = np.asarray(lower, dtype=float)
    size_bb = np.asarray(upper, dtype=float) - lower + 1
    new_lo = np.floor((lower - 0.5) * ratio - pad)
    new_hi = np.ceil((lower + size_bb - 0.5) * ratio + pad)
    max_hi = np.ceil(np.array(image.GetSize()) * ratio) - 1
    new_lo = np.where(new_lo < 0, 0, new_lo)
    new_hi = np.where(new_hi > max_hi, max_hi, new_hi)
    origin_index = 0.5 * (target - spacing) / spacing + new_lo / ratio
    return {
        "size": [int(v) for v in (new_hi - new_lo + 1)],
        "spacing": [float(v) for v in target],
        "origin_index": origin_index,
        "origin": image.TransformContinuousIndexToPhysicalPoint([float(v) for v in origin_index]),
        "direction": image.GetDirection(),
    }


def _interpolator(params: dict) -> int:
    """SimpleITK interpolator constant from the 'interpolator' setting (name or number)."""
    value = _setting(params, "interpolator", "sitkBSpline")
    if isinstance(value, str):
        return getattr(sitk, value, sitk.sitkBSpline)
    return int(value)


def _resample_lesion(image, mask, grid: dict, interpolator: int):
    """Resample the part of image and mask the grid needs (plus a B-spline margin)."""
    ratio = np.array(image.GetSpacing()) / np.array(grid["spacing"])
    first = grid["origin_index"]
    last = first + (np.array(grid["size"]) - 1) / ratio
    size = np.array(image.GetSize())
    lower = np.maximum(np.floor(first) - BSPLINE_MARGIN_VOXELS, 0)
    upper = np.minimum(np.ceil(last) + BSPLINE_MARGIN_VOXELS, size - 1)
    image_crop, mask_crop = _crop(image, lower, upper), _crop(mask, lower, upper)
    resampler = sitk.ResampleImageFilter()
    resampler.SetOutputSpacing(grid["spacing"])
    resampler.SetOutputDirection(grid["direction"])
    resampler.SetOutputOrigin(grid["origin"])
    resampler.SetSize(grid["size"])
    resampler.SetOutputPixelType(image.GetPixelID())
    resampler.SetInterpolator(interpolator)
    resampled_image = resampler.Execute(image_crop)
    resampler.SetOutputPixelType(mask.GetPixelID())
    resampler.SetInterpolator(sitk.sitkNearestNeighbor)
    return resampled_image, resampler.Execute(mask_crop)


# --------------------------------------------------------------------------------------------
# the pyradiomics backend
# --------------------------------------------------------------------------------------------
class _PyradiomicsBackend:
    """pyradiomics on a lesion crop; the extractor is built once per parameter set."""

    def __init__(self, params: dict):
        self.params = params
        radiomics = _quiet_pyradiomics()
        self.version = getattr(radiomics, "__version__", "unknown")
        from radiomics.featureextractor import RadiomicsFeatureExtractor

        inner = copy.deepcopy(params)
        own = sorted(set(inner.get("featureClass") or {}) & set(BUILTIN_ONLY_CLASSES))
        if IBSI_SECTION in inner:
            raise InputError("the 'ibsi' section (IBSI image processing) is computed by the built-in engine only")
        if own:
            raise InputError(f"feature class(es) {', '.join(own)} are computed by the built-in engine only")
        setting = dict(inner.get("setting") or {})
        # our crop already is resampled / normalised as needed; no diagnostics_* output
        setting.update(additionalInfo=False, resampledPixelSpacing=None, normalize=False,
                       preCrop=False)
        inner["setting"] = setting
        self.label = int(setting.get("label") or 1)
        self.extractor = RadiomicsFeatureExtractor(inner)

    def prepare(self, image, mask, lower, upper):
        """Image and mask cut down (and resampled if asked) around the lesion bounding box."""
        if _setting(self.params, "normalize", False):
            from radiomics import imageoperations

            image = imageoperations.normalizeImage(image, **(self.params.get("setting") or {}))
        if needs_whole_image(self.params):
            return image, mask
        target = _target_spacing(self.params, image, lower, upper)
        if target is None:
            margin = crop_margin(self.params, image.GetSpacing())
            lo = np.maximum(lower - margin, 0)
            hi = np.minimum(upper + margin, np.array(image.GetSize()) - 1)
            return _crop(image, lo, hi), _crop(mask, lo, hi)
        pad = max(int(_setting(self.params, "padDistance", 5)), int(crop_margin(self.params, target).max()))
        grid = _scan_grid(image, lower, upper, target, pad)
        return _resample_lesion(image, mask, grid, _interpolator(self.params))

    def input_margin(self, spacing) -> np.ndarray | None:
        """Voxels (x, y, z) around the lesion box that ``prepare`` reads; None if it reads the whole scan.

        Normalisation (whole-scan statistics), resampling (grid anchored to the whole scan) and
        the filters scaled by the image maximum read the whole scan.
        """
        setting = self.params.get("setting") or {}
        resamples = setting.get("resampledPixelSpacing") is not None and not (
            "interpolator" in setting and setting["interpolator"] is None)
        if _setting(self.params, "normalize", False) or needs_whole_image(self.params) or resamples:
            return None
        return crop_margin(self.params, spacing)

    def extract(self, image, mask, lower, upper, lesion_id: str = "lesion") -> dict:
        """Raw pyradiomics result for the lesion (features only, pyradiomics' names)."""
        image_crop, mask_crop = self.prepare(image, mask, lower, upper)
        roi = sitk.Cast(mask_crop != 0, sitk.sitkUInt32)
        if self.label != 1:
            roi = roi * self.label
        roi.CopyInformation(image_crop)
        result = self.extractor.execute(image_crop, roi)
        return {key: value for key, value in result.items() if not key.startswith("diagnostics_")}


class _BuiltinBackend:
    """The built-in numpy engine (``engine/``): it crops with its own filter margins."""

    def __init__(self, params: dict):
        from . import engine

        engine.check_params(params)
        self.params = params
        self.version = "built-in"
        self._extract = engine.extract_features

    def input_margin(self, spacing) -> np.ndarray | None:
        """Voxels (x, y, z) around the lesion box the engine reads; None if it reads the whole scan.

        The engine's own rule (``preprocess.input_margin_voxels``), so a change of its margins or
        image types is followed here.
        """
        from .engine.preprocess import input_margin_voxels

        margin = input_margin_voxels(self.params, np.asarray(spacing, dtype=float)[::-1])
        return None if margin is None else margin[::-1]

    def extract(self, image, mask, lower, upper, lesion_id: str = "lesion") -> dict:
        """Features of the 0/1 mask (label 1: our masks hold one lesion each)."""
        return self._extract(image, mask, self.params, label=1, lesion_id=lesion_id)


def _make_backend(engine: str, params: dict):
    """The single dispatch point from an engine name to its implementation."""
    if engine == "builtin":
        return _BuiltinBackend(params)
    if engine == "pyradiomics":
        try:
            return _PyradiomicsBackend(params)
        except ImportError:
            raise InputError("the pyradiomics engine is not installed: pip install 'radiomics-response[pyradiomics]' "
                             "or use the built-in engine") from None
    raise InputError(f"unknown feature engine '{engine}': expected one of {', '.join(ENGINES)}")


def compute_feature_maps(image: sitk.Image, mask: sitk.Image, params: dict, engine: str = DEFAULT_ENGINE,
                         progress=None, should_cancel=None) -> dict[str, sitk.Image]:
    """Voxel-based feature maps (feature name -> image) of the 0/1 ``mask`` with the chosen engine.

    'builtin': ``engine.feature_maps`` (progress, cancellation per batch of voxels); 'pyradiomics':
    ``execute(..., voxelBased=True)`` (one step: progress only at start and end, no cancellation).
    """
    if engine == "builtin":
        from .engine.feature_maps import feature_maps

        return feature_maps(image, mask, params, label=1, progress=progress, should_cancel=should_cancel)
    if engine == "pyradiomics":
        try:
            _quiet_pyradiomics()
            from radiomics import featureextractor
        except ImportError:
            raise InputError("the pyradiomics engine is not installed: pip install 'radiomics-response[pyradiomics]' "
                             "or use the built-in engine") from None
        report(progress, 0.0, "pyradiomics voxel-based extraction")
        try:
            result = featureextractor.RadiomicsFeatureExtractor(copy.deepcopy(params)).execute(image, mask, label=1,
                                                                                               voxelBased=True)
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"pyradiomics could not compute feature maps: {exc}") from exc
        report(progress, 1.0, "feature maps ready")
        return {name: value for name, value in result.items() if isinstance(value, sitk.Image)}
    raise InputError(f"unknown feature engine '{engine}': expected one of {', '.join(ENGINES)}")


class FeatureExtractor:
    """Per-lesion radiomic features with one fixed parameter set.

    ``params`` is anything ``load_params`` accepts (a validated dict, a preset name, a file path,
    or None for the default preset). ``engine`` selects the implementation: 'builtin' (default,
    numpy, no compiled code) or 'pyradiomics' (the reference, if installed).
    """

    def __init__(self, params=None, engine: str = DEFAULT_ENGINE):
        self._params = load_params(params)
        self.engine = engine
        pyradiomics_part, self._zhao_groups, self._zhao_settings = split_zhao_params(self._params)
        self._backend = _make_backend(engine, pyradiomics_part) if pyradiomics_part["featureClass"] or not self._zhao_groups else None

    @property
    def settings(self) -> dict:
        """The parameter content used (a copy), for provenance."""
        return copy.deepcopy(self._params)

    @property
    def reads_whole_scan(self) -> bool:
        """True if features depend on the whole scan: ``input_margin`` is then None for any spacing."""
        return self.input_margin((1.0, 1.0, 1.0)) is None

    def input_margin(self, spacing) -> np.ndarray | None:
        """Voxels (x, y, z) around a mask's bounding box that ``extract`` reads, or None for the whole scan.

        ``extract`` on a crop of image and mask that keeps at least this margin (clipped to the
        scan) sees the very voxels it would cut from the whole scan, so it returns the same
        features to the last bit; the pipeline relies on this to give each thread its own crop.
        None when a feature depends on the whole scan (normalisation, resampling on the
        scan-anchored grid, filters scaled by the image maximum). ``spacing`` is the scan's (x, y, z).
        """
        spacing = np.asarray(spacing, dtype=float)
        margins = [np.zeros(3, dtype=int)]
        if self._backend is not None:
            backend = self._backend.input_margin(spacing)
            if backend is None:
                return None
            margins.append(np.asarray(backend, dtype=int))
        if self._zhao_groups:
            from .zhao_features import DEFAULTS

            margin_mm = float({**DEFAULTS, **self._zhao_settings}["marginMm"])
            margins.append(np.ceil(margin_mm / spacing).astype(int))
        return np.max(margins, axis=0) + INPUT_SAFETY_VOXELS

    def extract(self, image: sitk.Image, mask: sitk.Image, lesion_id: str = "lesion",
                timepoint: str | None = None) -> dict[str, float]:
        """Feature name -> value (Python float) for one lesion; no ``diagnostics_*`` entries.

        ``mask`` is a 0/1 image on exactly the grid of ``image``. Raises LesionError for an
        empty or one-voxel mask, a mask whose geometry differs from the image's, or when
        pyradiomics itself fails (with pyradiomics' message).
        """
        problem = _same_geometry(image, mask)
        if problem is not None:
            raise LesionError(lesion_id, f"mask geometry does not match the image: {problem}",
                              timepoint)
        lower, upper = _mask_bbox(mask, lesion_id, timepoint)
        try:
            raw = self._backend.extract(image, mask, lower, upper, lesion_id) if self._backend else {}
            if self._zhao_groups:
                from .zhao_features import extract_zhao_features

                zhao_settings = {"binWidth": _setting(self._params, "binWidth", 25.0), **self._zhao_settings}
                raw.update(extract_zhao_features(image, mask, self._zhao_groups, zhao_settings, lesion_id))
        except LesionError:
            raise
        except Exception as exc:
            raise LesionError(lesion_id, f"{self.engine} could not compute features: {exc}",
                              timepoint) from exc
        return {name: float(value) for name, value in raw.items()}

