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
filter over the whole scan. Both backends therefore cut the scan down to the lesion first, with ONE
crop rule, ``engine/margins.py``: every filter run (Original, Wavelet, each LoG sigma, Gradient...)
sees the ROI box plus its own margin, clipped to the scan. The built-in engine filters exactly those
boxes; the pyradiomics backend cuts the engine's working region (``engine.preprocess.prepare_region``)
and runs pyradiomics once per filter run on that run's box (shape in the first run only), with
``additionalInfo`` off (the project records its own provenance). So the two backends filter the same
voxels and agree to rounding (Testing/response_signature/engine/test_backends.py: <= 1e-6 on Original, LoG and wavelet
features of the real cases). The margins and their measured residual against filtering the whole
scan are documented in ``engine/margins.py``.

Square, SquareRoot, Logarithm and Exponential scale the image by its global maximum: the built-in
engine finds it before cropping; the pyradiomics backend then hands pyradiomics the whole scan (slow
but exact).

Resampling (``resampledPixelSpacing``) and normalisation
-------------------------------------------------------
Cropping before resampling would move the resampled grid with the crop. Both backends resample with
the engine's ``preprocess.resample_region``: the grid pyradiomics would put on the *whole* scan
(anchored to its first voxel), over the ROI box + padDistance + the filter margin, interpolated from
the source region it needs (+ ``RESAMPLE_SUPPORT_VOXELS`` for the B-spline prefilter). pyradiomics
then runs with resampling switched off. With a filter *and* resampling, direct pyradiomics filters its
resampled crop of only ``padDistance`` (5) voxels around the lesion; the backends filter a crop with
the filter margin, i.e. closer to filtering the whole resampled scan. Intensity normalisation
(``normalize``) uses the whole scan's statistics (pyradiomics' own ``normalizeImage`` in the
pyradiomics backend, the same arithmetic on the crop in the engine).
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
#: voxels added to ``FeatureExtractor.input_margin`` beyond what the backends say they read: a crop
#: larger than needed changes nothing (the backends cut their own crop from it), one too small would
#: change filtered values near its border
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
#: parameter section of the built-in engine's IBSI image processing (engine/ibsi_processing.py)
IBSI_SECTION = "ibsi"


def validate_params(params: dict, origin: str = "parameters") -> None:
    """Validate a parameter dict with pyradiomics' own schema when it is installed, else by name;
    InputError names ``origin``. Built-in-only classes are checked by the engine, not here."""
    from .engine import registry

    params = copy.deepcopy(params)
    if IBSI_SECTION in params:  # the built-in engine's IBSI processing: not pyradiomics' schema
        from .engine.ibsi_processing import settings_from_params

        settings_from_params(params)
        params = {key: value for key, value in params.items() if key != IBSI_SECTION}
    params["featureClass"] = {name: value for name, value in (params.get("featureClass") or {}).items()
                              if name not in registry.builtin_only_classes()}
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
    from .engine import registry

    problems += [f"unknown feature class '{key}'" for key in (params.get("featureClass") or {})
                 if key not in registry.pyradiomics_classes()]
    if problems:
        raise InputError(f"invalid parameters in {origin}: {'; '.join(problems)}")


def load_params(source=None) -> dict:
    """Pyradiomics parameter dict from a preset name, a YAML/JSON file path, a dict or None.

    None means the 'default' preset. Files and dicts are validated with pyradiomics' schema; problems
    raise InputError naming the file and what is wrong. Shipped presets are not: the test suite
    validates each one with that schema, and skipping it here saves ~0.25 s (importing pyradiomics and
    building its validator) in every command that starts from a preset.
    """
    if source is None:
        source = DEFAULT_PRESET
    if isinstance(source, dict):
        params, origin, shipped = copy.deepcopy(source), "the parameter dictionary", False
    elif isinstance(source, (str, Path)):
        params, origin, shipped = _params_from_name_or_path(source)
    else:
        raise InputError(f"extraction parameters must be a preset name, a file path or a dict, "
                         f"not {type(source).__name__}")
    _check_sections(params, origin)
    pyradiomics_part, _, _ = split_zhao_params(params, origin)
    if not shipped and (pyradiomics_part.get("featureClass") or not zhao_groups(params)):
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


def _params_from_name_or_path(source) -> tuple[dict, str, bool]:
    """Resolve a preset name or a file path to (params, description of where they came from,
    whether it is a shipped preset)."""
    presets = list_presets()
    if isinstance(source, str) and source in presets:
        path = presets_dir() / f"{source}.yaml"
        return _read_param_file(path), f"preset '{source}' ({path})", True
    path = Path(source).expanduser()
    if not path.is_file():
        raise InputError(f"parameter file '{source}' not found; expected a preset name "
                         f"({', '.join(presets)}) or a pyradiomics YAML/JSON file")
    return _read_param_file(path), f"parameter file '{path}'", False


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


# --------------------------------------------------------------------------------------------
# the two backends: the same crop rule (engine/margins.py), so they see the same voxels
# --------------------------------------------------------------------------------------------
def _setting(params: dict, name: str, default=None):
    """One entry of the 'setting' section, with a default."""
    value = (params.get("setting") or {}).get(name)
    return default if value is None else value


def needs_whole_image(params: dict) -> bool:
    """True if a filter scales by the whole image's maximum (then cropping would change it)."""
    from .engine.preprocess import POINTWISE_IMAGE_TYPES  # scaled by the image's max |x|

    return any(name in POINTWISE_IMAGE_TYPES for name in (params.get("imageType") or {}))


def _input_margin(params: dict, spacing) -> np.ndarray | None:
    """Voxels (x, y, z) around the lesion box either backend reads; None if it reads the whole scan.

    The engine's rule (``preprocess.input_margin_voxels``), so a change of the margins or image
    types is followed by both backends.
    """
    from .engine.preprocess import input_margin_voxels

    margin = input_margin_voxels(params, np.asarray(spacing, dtype=float)[::-1])
    return None if margin is None else margin[::-1]


class _PyradiomicsBackend:
    """pyradiomics on the lesion's crop: the engine's working region (crop, resampling on pyradiomics'
    grid anchored to the scan), then one pyradiomics run per filter run of ``engine.margins`` on the
    ROI box + that run's margin, so that each filter sees the very voxels the built-in engine filters.
    Extractors are built once per parameter set.
    """

    def __init__(self, params: dict):
        from .engine import margins, registry
        from .engine.preprocess import split_params

        self.params = params
        radiomics = _quiet_pyradiomics()
        self.version = getattr(radiomics, "__version__", "unknown")
        own = sorted(set(params.get("featureClass") or {}) & set(registry.builtin_only_classes()))
        if IBSI_SECTION in params:
            raise InputError("the 'ibsi' section (IBSI image processing) is computed by the built-in engine only")
        if own:
            raise InputError(f"feature class(es) {', '.join(own)} are computed by the built-in engine only")
        self.settings, image_types, _ = split_params(params, label=1)
        # our crop already is resampled / normalised as needed; no diagnostics_* output
        self._inner_setting = dict(params.get("setting") or {}, additionalInfo=False, resampledPixelSpacing=None,
                                   normalize=False, preCrop=False)
        self.label = int(_setting(params, "label", 1))
        self.whole = self._extractor(params.get("imageType"), params.get("featureClass"))
        self.runs = []
        for number, run in enumerate(margins.filter_runs(image_types, self.settings, np.ones(3))):
            classes = params.get("featureClass") if number == 0 else self._image_classes(params)
            self.runs.append((run, self._extractor({run.image_type: run.args}, classes)))

    @staticmethod
    def _image_classes(params: dict) -> dict:
        """The classes computed per image (per-lesion shape classes only in the first run)."""
        from .engine import registry

        classes = params.get("featureClass") or {name: None for name in registry.pyradiomics_classes()}
        return {name: names for name, names in classes.items() if not registry.get(name).per_lesion}

    def _extractor(self, image_types, classes):
        from radiomics.featureextractor import RadiomicsFeatureExtractor

        return RadiomicsFeatureExtractor({"imageType": copy.deepcopy(image_types or {"Original": {}}),
                                          "featureClass": copy.deepcopy(classes or {}),
                                          "setting": dict(self._inner_setting)})

    def input_margin(self, spacing) -> np.ndarray | None:
        return _input_margin(self.params, spacing)

    def extract(self, image, mask, lower, upper, lesion_id: str = "lesion") -> dict:
        """Raw pyradiomics result for the lesion (features only, pyradiomics' names)."""
        if _setting(self.params, "normalize", False):
            from radiomics import imageoperations

            image = imageoperations.normalizeImage(image, **(self.params.get("setting") or {}))
        if needs_whole_image(self.params):
            return self._execute(self.whole, image, mask)
        from .engine import margins
        from .engine.preprocess import prepare_region, split_params

        settings, image_types, _ = split_params(self.params, label=1)
        settings["normalize"] = False  # done above, on the whole image, by pyradiomics
        region = prepare_region(image, mask, settings, image_types, lesion_id)
        crop = region.image
        spacing_kji = region.spacing_kji
        shape = sitk.GetArrayViewFromImage(crop).shape
        result: dict = {}
        for run, extractor in self.runs:
            box, _ = margins.run_box(region.box, margins.filter_runs({run.image_type: run.args}, settings,
                                                                   spacing_kji)[0].margin, shape)
            sub = crop[box[2], box[1], box[0]]
            sub_mask = sitk.GetImageFromArray(region.mask[box].astype(np.uint8))
            sub_mask.CopyInformation(sub)
            result.update(self._execute(extractor, sub, sub_mask))
        return result

    def _execute(self, extractor, image, mask) -> dict:
        roi = sitk.Cast(mask != 0, sitk.sitkUInt32)
        if self.label != 1:
            roi = roi * self.label
        roi.CopyInformation(image)
        result = extractor.execute(image, roi)
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
        return _input_margin(self.params, spacing)

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

