"""The developer-mode Reload button: forget a Lib package and everything downstream of it.

``importlib.reload`` of a Lib module re-runs it in the old module object, in whatever order the
modules happen to be listed; module-level registries are then rebuilt empty (reloading
ResponseSignatureLib emptied the model-kind registry, so nomograms did not load until
NomogramScore was reloaded too). Instead the Lib's modules, and those of the Libs that import it,
are removed from ``sys.modules``: the next use imports one consistent, fresh copy of each, and
every registration done at import time happens again in the fresh registry.
"""
from __future__ import annotations

import sys

#: Each Lib and the Libs that import it (imports flow downstream only), in import order.
DOWNSTREAM = {
    "ResponseSignatureLib": ("ResponseSignatureLib", "LesionAggregateLib", "NomogramScoreLib"),
    "LesionAggregateLib": ("LesionAggregateLib", "NomogramScoreLib"),
    "NomogramScoreLib": ("NomogramScoreLib",),
}
#: This package: reloaded with ResponseSignature, the module that ships it.
UTILS_PACKAGE = __name__.rsplit(".", 1)[0]


def _inPackage(moduleName: str, package: str) -> bool:
    return moduleName == package or moduleName.startswith(package + ".")


def forgetPackages(packages) -> list:
    """Remove the modules of ``packages`` from ``sys.modules``; returns the names removed."""
    names = [name for name in list(sys.modules) if any(_inPackage(name, package) for package in packages)]
    for name in names:
        del sys.modules[name]
    return names


def reloadLibraries(libPackage: str, withUtils: bool = False) -> list:
    """Forget ``libPackage`` and the Libs downstream of it (and this package if ``withUtils``).

    Called by a module widget's ``onReload`` before Slicer reloads the module file, so that the
    module's next action imports the edited code. Returns the module names forgotten.
    """
    packages = list(DOWNSTREAM.get(libPackage, (libPackage,)))
    if withUtils:
        packages.append(UTILS_PACKAGE)
    return forgetPackages(packages)
