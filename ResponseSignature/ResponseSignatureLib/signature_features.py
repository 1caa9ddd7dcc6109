"""The extraction settings a signature needs: exactly the features its model file reads.

A model's ``inputs`` are table columns (lesion table ``delta:<feature>``, patient table
``volume_weighted:reldelta:<feature>``...). Extracting a whole preset to score a four-feature
signature makes the radiologist wait for hundreds of features nobody reads; ``settings_for_model``
narrows the model's own extraction settings to the image types (LoG sigmas included), feature
classes, features and Zhao-lab groups/axes/scales those columns name. Every setting that changes a
value (bin width, resampling, normalisation, per-image-type settings) is kept as it is, so each
needed feature has the value the full extraction gives it (tested). RECIST measures (diameters,
volume, mean HU) are always computed by the pipeline and need no feature.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping

from .errors import InputError

#: pyradiomics image type name prefix in a feature name -> imageType key in parameter files
IMAGE_TYPE_KEYS = {
    "original": "Original", "log": "LoG", "wavelet": "Wavelet", "square": "Square",
    "squareroot": "SquareRoot", "logarithm": "Logarithm", "exponential": "Exponential",
    "gradient": "Gradient", "lbp": None,  # lbp-2D -> LBP2D, lbp-3D-* -> LBP3D (below)
}
ZHAO_PREFIX = "zhao_"


def feature_of_column(column: str) -> str:
    """The feature (or measure) name a table column holds: the part after its last ':' prefix."""
    return column.rsplit(":", 1)[-1]


def model_extraction_params(model: Mapping[str, Any]):
    """The extraction settings a model's columns assume: a preset name, a parameter dict, or None."""
    settings = model.get("extraction_settings") or {}
    if isinstance(settings, str):
        return settings
    if settings.get("preset"):
        return settings["preset"]
    sections = ("imageType", "featureClass", "setting", "zhao")
    if any(key in settings for key in sections):
        return {key: copy.deepcopy(settings[key]) for key in sections if key in settings}
    return None


def settings_for_model(model: Mapping[str, Any], params: Any = None) -> dict:
    """Parameter dict computing only the features ``model['inputs']`` read.

    ``params``: the settings to narrow (preset name, YAML path or dict); default the model's own
    ``extraction_settings``. InputError when the model names no settings and none are given, or
    when a needed feature is not produced by those settings.
    """
    from .extraction import load_params

    source = params if params is not None else model_extraction_params(model)
    if source is None:
        raise InputError(f"Model '{model.get('name', '?')}' does not say which extraction settings its inputs "
                         "assume; give them with --params.")
    return settings_for_features([feature_of_column(column) for column in model["inputs"]], load_params(source))


def settings_for_features(features: Iterable[str], params: Mapping[str, Any]) -> dict:
    """``params`` narrowed to the image types, classes and features named (measures are skipped)."""
    image_types: dict[str, set] = {}
    classes: dict[str, set] = {}
    zhao: dict[str, set] = {}
    for name in features:
        if name.startswith(ZHAO_PREFIX):
            _add_zhao(name, zhao)
        elif name.count("_") >= 2:
            image_type, feature_class, feature = name.split("_", 2)
            image_types.setdefault(_image_type_key(image_type, name), set()).add(image_type)
            classes.setdefault(feature_class, set()).add(feature)
    narrowed = copy.deepcopy(dict(params))
    narrowed["imageType"] = _narrow_image_types(params, image_types)
    narrowed["featureClass"] = {cls: sorted(names) for cls, names in classes.items()}
    if zhao:
        narrowed["featureClass"]["zhao"] = sorted(zhao)
        narrowed["zhao"] = _narrow_zhao(params, zhao)
    else:
        narrowed.pop("zhao", None)
    _check_classes(params, classes, zhao)
    return narrowed


def _image_type_key(image_type: str, feature: str) -> str:
    """'log-sigma-2-0-mm-3D' -> 'LoG', 'wavelet-LLH' -> 'Wavelet', 'lbp-3D-m1' -> 'LBP3D'."""
    stem = image_type.split("-", 1)[0]
    if stem == "lbp":
        return "LBP3D" if image_type.startswith("lbp-3D") else "LBP2D"
    if stem not in IMAGE_TYPE_KEYS:
        raise InputError(f"cannot tell the image type of feature '{feature}' (prefix '{image_type}').")
    return IMAGE_TYPE_KEYS[stem]


def _narrow_image_types(params: Mapping[str, Any], needed: Mapping[str, set]) -> dict:
    """The needed image types with their own settings; LoG keeps only the sigmas named."""
    available = params.get("imageType") or {"Original": {}}
    missing = sorted(key for key in needed if key not in available)
    if missing:
        raise InputError(f"the model needs image type(s) {', '.join(missing)} that its extraction settings "
                         f"do not compute (they compute {', '.join(available)}).")
    narrowed = {key: copy.deepcopy(available[key] or {}) for key in needed}
    if "LoG" in needed:
        sigmas = sorted({_log_sigma(name) for name in needed["LoG"]})
        offered = [float(s) for s in (available["LoG"] or {}).get("sigma", [])]
        absent = [s for s in sigmas if not any(abs(s - o) < 1e-9 for o in offered)]
        if absent:
            raise InputError(f"the model needs LoG sigma {', '.join(map(str, absent))} mm that its extraction "
                             f"settings do not compute (sigma {offered}).")
        narrowed["LoG"]["sigma"] = sigmas
    return narrowed


def _log_sigma(image_type: str) -> float:
    """'log-sigma-2-5-mm-3D' -> 2.5."""
    parts = image_type.split("-")
    return float(f"{parts[2]}.{parts[3]}")


def _add_zhao(name: str, zhao: dict) -> None:
    """Record the Zhao group (and axis/sigma for axis-wise LoG) a zhao_* feature belongs to."""
    family = name[len(ZHAO_PREFIX):].split("_", 1)[0]
    if family == "shapeindex":
        zhao.setdefault("ShapeIndex", set())
    elif family == "sigmoid":
        zhao.setdefault("Sigmoid", set())
    elif family.startswith("log") and "-sigma-" in family:
        axis, scale = family[3], family.split("-sigma-", 1)[1].rsplit("-mm", 1)[0]
        zhao.setdefault("AxisLoG", set()).add((axis, float(scale.replace("-", "."))))
    else:
        raise InputError(f"unknown Zhao-lab feature '{name}'.")


def _narrow_zhao(params: Mapping[str, Any], zhao: Mapping[str, set]) -> dict:
    """Zhao settings with only the axes and sigmas the axis-wise LoG features need."""
    settings = copy.deepcopy(dict(params.get("zhao") or {}))
    if "AxisLoG" in zhao:
        settings["axisLoGAxes"] = sorted({axis for axis, _ in zhao["AxisLoG"]})
        settings["axisLoGSigma"] = sorted({sigma for _, sigma in zhao["AxisLoG"]})
    return settings


def _check_classes(params: Mapping[str, Any], classes: Mapping[str, set], zhao: Mapping[str, set]) -> None:
    """InputError when the settings do not compute a needed class (or a needed feature of it)."""
    offered = params.get("featureClass")
    if not offered:  # pyradiomics default: every class and feature (but not the built-in extras)
        return
    needed = dict(classes, **({"zhao": set(zhao)} if zhao else {}))
    for cls, names in needed.items():
        if cls not in offered:
            raise InputError(f"the model needs feature class '{cls}' that its extraction settings do not compute.")
        listed = offered[cls]
        absent = sorted(set(names) - set(listed)) if listed else []
        if absent:
            raise InputError(f"the model needs {cls} feature(s) {', '.join(absent)} that its extraction settings "
                             "do not compute.")
