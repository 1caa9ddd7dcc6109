"""The feature classes the engine computes: one ``DESCRIPTOR`` per class module, in pyradiomics' order.

Everything that loops over classes asks here: segment-based extraction, feature maps, the default
class set, crop margins, the pyradiomics backend (which classes it can compute) and the column
descriptions of the lesion table. Adding a class is one new module ending in ``DESCRIPTOR =
FeatureClass(...)``, named in CLASS_MODULES (or, in a test or a plug-in, ``register(descriptor)``);
see ``docs/adding-a-feature-class.md``.
"""
from __future__ import annotations

from contextlib import contextmanager

from ..errors import InputError
from . import firstorder, gldm, glcm, glrlm, glszm, ibsi, ngtdm, shape, shape2d
from .descriptor import FeatureClass

#: the class modules, in the order their features are listed (pyradiomics' order, then ours)
CLASS_MODULES = (shape, shape2d, firstorder, glcm, glrlm, glszm, gldm, ngtdm, ibsi)

_CLASSES: dict[str, FeatureClass] = {module.DESCRIPTOR.name: module.DESCRIPTOR for module in CLASS_MODULES}


def names() -> tuple[str, ...]:
    """Every registered class name, in order."""
    return tuple(_CLASSES)


def find(name: str) -> FeatureClass | None:
    """The descriptor of class ``name``, or None if no such class is registered."""
    return _CLASSES.get(name)


def get(name: str) -> FeatureClass:
    """The descriptor of class ``name``; InputError naming the supported classes if there is none."""
    descriptor = _CLASSES.get(name)
    if descriptor is None:
        raise InputError(f"feature class '{name}' is not supported by the built-in engine "
                         f"(supported: {', '.join(_CLASSES)})")
    return descriptor


def all_classes() -> tuple[FeatureClass, ...]:
    return tuple(_CLASSES.values())


def default_classes() -> tuple[str, ...]:
    """The classes computed when the parameters name none (pyradiomics' no-argument default)."""
    return tuple(name for name, descriptor in _CLASSES.items() if descriptor.default)


def pyradiomics_classes() -> tuple[str, ...]:
    """Classes pyradiomics computes too (its parameter schema knows them)."""
    return tuple(name for name, descriptor in _CLASSES.items() if descriptor.pyradiomics)


def builtin_only_classes() -> tuple[str, ...]:
    """Classes only the built-in engine computes (the pyradiomics backend refuses them)."""
    return tuple(name for name, descriptor in _CLASSES.items() if not descriptor.pyradiomics)


def register(descriptor: FeatureClass) -> None:
    """Add a class (after the others). ValueError if its name is taken or a feature lacks its info."""
    if descriptor.name in _CLASSES:
        raise ValueError(f"feature class '{descriptor.name}' is already registered")
    missing = sorted(set(descriptor.features) - set(descriptor.info))
    if missing:
        raise ValueError(f"feature class '{descriptor.name}': no FeatureInfo for {', '.join(missing)}")
    _CLASSES[descriptor.name] = descriptor


def unregister(name: str) -> None:
    """Remove a class added with ``register`` (the built-in classes stay)."""
    if any(module.DESCRIPTOR.name == name for module in CLASS_MODULES):
        raise ValueError(f"feature class '{name}' is built in and cannot be removed")
    _CLASSES.pop(name, None)


@contextmanager
def registered(descriptor: FeatureClass):
    """``register`` for the duration of a ``with`` block (tests, experiments)."""
    register(descriptor)
    try:
        yield descriptor
    finally:
        unregister(descriptor.name)
