"""The Python packages a RadiomicsResponse module needs inside Slicer: check, ask, install.

Each module lists its packages in ``Resources/<Module>Requirements.txt`` (unique names: Slicer copies
the resources of every scripted module into one shared ``Resources`` folder). Packages are installed
on first use after asking, never at start-up, and never replacing Slicer's numpy, SimpleITK, vtk or
scipy. In testing mode nothing is installed (as ``slicer.packaging.pip_ensure`` does): the modules'
self-tests skip, naming what is missing, instead of failing on a fresh Slicer.
"""
from __future__ import annotations

import importlib.metadata
import os
import re
from typing import Optional

#: Packages Slicer itself provides: never upgraded or replaced by our installs.
SLICER_PROVIDED_PACKAGES = ("numpy", "SimpleITK", "vtk", "scipy")


def _tr(text: str) -> str:
    """Slicer's translation of ``text`` when running in Slicer, else ``text``."""
    try:
        from slicer.i18n import tr
    except ImportError:
        return text
    return tr(text)


def requirementsPath(moduleName: str, moduleDir: Optional[str] = None) -> str:
    """``<folder of the module file>/Resources/<moduleName>Requirements.txt``.

    :param moduleDir: folder of ``<moduleName>.py``; found with ``slicer.util.modulePath`` if None.
    """
    if moduleDir is None:
        import slicer

        moduleDir = os.path.dirname(slicer.util.modulePath(moduleName))
    return os.path.join(moduleDir, "Resources", f"{moduleName}Requirements.txt")


def requirementsFromFile(path: str) -> list:
    """Requirement lines of a requirements file (comments, blank lines and pip options skipped)."""
    lines = []
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                lines.append(line)
    return lines


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def findDistribution(name: str):
    """Installed distribution called ``name`` (PEP 503 name normalization), or None.

    Python 3.9's importlib.metadata does not normalize names ("pyradiomics-bhklab" vs the
    "pyradiomics_bhklab-3.1.4.dist-info" folder), hence the fallback over all distributions.
    """
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        pass
    wanted = _normalized(name)
    for distribution in importlib.metadata.distributions():
        if _normalized(distribution.metadata["Name"] or "") == wanted:
            return distribution
    return None


def missingPythonRequirements(*paths: str) -> list:
    """Requirement lines of the files ``paths`` not installed (or too old) in this Python.

    Reads installed package metadata only: nothing is imported and nothing is installed.
    """
    from packaging.requirements import Requirement  # bundled with Slicer

    missing = []
    for path in paths:
        for line in requirementsFromFile(path):
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            distribution = findDistribution(requirement.name)
            if distribution is None or not requirement.specifier.contains(distribution.version, prereleases=True):
                if line not in missing:
                    missing.append(line)
    return missing


def installCommand(paths) -> str:
    """The command that installs the requirements files ``paths`` into Slicer's Python."""
    return " ".join(["PythonSlicer -m pip install"] + [f'-r "{path}"' for path in paths])


def selfTestSkipReason(missing: list, testingEnabled: bool, paths) -> Optional[str]:
    """Why a module self-test must be skipped, or None to run it.

    Skipped only in testing mode (ctest, the extensions factory) with packages missing: there
    nothing may be installed, and a missing optional package must not turn the dashboard red.
    Outside testing mode (the Reload and Test button) the test asks to install them instead.
    """
    if not missing or not testingEnabled:
        return None
    return (f"needs the Python packages {', '.join(missing)}, which are not installed in this Slicer "
            f"(testing mode installs nothing); install them with: {installCommand(paths)}")


def prepareSelfTest(testCase, *paths: str) -> None:
    """Before a module self-test that needs the packages of ``paths``: skip (testing mode) or install.

    :raises unittest.SkipTest: in testing mode when a package is missing (reported as skipped).
    """
    import slicer

    reason = selfTestSkipReason(missingPythonRequirements(*paths), slicer.app.testingEnabled(), paths)
    if reason:
        testCase.skipTest(reason)
    for path in paths:
        ensurePythonRequirements(path, requester="RadiomicsResponse self-test")


def runSelfTests(testCase, tests) -> None:
    """Run ``tests`` (bound test methods) as the Reload and Test button does, each after ``setUp()``.

    A test that skips (``unittest.SkipTest``) is reported on screen and the others still run.
    """
    import unittest

    for test in tests:
        testCase.setUp()
        try:
            test()
        except unittest.SkipTest as skipped:
            testCase.delayDisplay(f"{test.__name__} skipped: {skipped}")


def _slicerConstraintsFile() -> Optional[str]:
    """A pip constraints file pinning the Slicer-provided packages to the versions installed now."""
    import tempfile

    pins = [f"{name}=={distribution.version}" for name in SLICER_PROVIDED_PACKAGES
            if (distribution := findDistribution(name)) is not None]
    if not pins:
        return None
    path = os.path.join(tempfile.gettempdir(), "RadiomicsResponse-constraints.txt")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("\n".join(pins) + "\n")
    return path


def _providedWithoutMetadata() -> list:
    """Slicer-provided packages that import but have no pip metadata (pip would reinstall them)."""
    import importlib.util

    return [name for name in SLICER_PROVIDED_PACKAGES
            if findDistribution(name) is None and importlib.util.find_spec(name) is not None]


def _legacyPipInstall(missing: list, constraints: Optional[str]) -> None:
    """Install ``missing`` with slicer.util.pip_install (Slicer < 5.12), never touching Slicer's packages.

    When a Slicer-provided package has no pip metadata (custom SimpleITK builds of Slicer 5.8/5.10),
    a plain install would pull a second copy from PyPI. Then each package is installed with --no-deps
    and its own dependencies are added one level at a time, skipping the Slicer-provided ones.
    """
    import slicer
    from packaging.requirements import Requirement

    constraintArgs = ["-c", constraints] if constraints else []
    skipped = {name.lower() for name in _providedWithoutMetadata()}
    if not skipped:
        slicer.util.pip_install([*missing, *constraintArgs])
        return
    toInstall = list(missing)
    for _round in range(6):
        if not toInstall:
            return
        slicer.util.pip_install(["--no-deps", *toInstall, *constraintArgs])
        nextRound = []
        for line in toInstall:
            installed = findDistribution(Requirement(line).name)
            for dependency in (installed.requires if installed is not None else None) or []:
                requirement = Requirement(dependency)
                if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                    continue
                present = findDistribution(requirement.name)
                if requirement.name.lower() in skipped or (
                        present is not None and requirement.specifier.contains(present.version, prereleases=True)):
                    continue
                nextRound.append(str(requirement))
        toInstall = sorted(set(nextRound))


def ensurePythonRequirements(path: str, requester: str) -> None:
    """Make sure the packages listed in ``path`` are installed, asking the user first.

    Slicer >= 5.12: ``slicer.packaging.pip_ensure`` (confirmation, progress, restart prompt).
    Older Slicer: confirmation with ``slicer.util.confirmOkCancelDisplay``, then ``slicer.util.pip_install``.
    Slicer's own numpy/SimpleITK/vtk/scipy are pinned so that an install never replaces them.
    Nothing is installed in testing mode.

    :param path: a module's ``Resources/<Module>Requirements.txt``.
    :param requester: name shown to the user in the confirmation dialog.
    :raises RuntimeError: if the user declines, or the packages are still missing afterwards.
    """
    import slicer

    missing = missingPythonRequirements(path)
    if not missing:
        return
    constraints = _slicerConstraintsFile()
    try:
        import slicer.packaging as slicerPackaging
    except ImportError:
        slicerPackaging = None
    if slicerPackaging is not None and hasattr(slicerPackaging, "pip_ensure"):
        slicerPackaging.pip_ensure(slicerPackaging.load_requirements(path), constraints=constraints, requester=requester)
    elif not slicer.app.testingEnabled():
        message = _tr("{requester} needs these Python packages, which are not installed yet:\n\n{packages}\n\n"
                      "Install them now? This downloads them from the Python Package Index and may take a few minutes.").format(
            requester=requester, packages="\n".join(missing))
        if not slicer.util.confirmOkCancelDisplay(message, windowTitle=_tr("Install Python packages")):
            raise RuntimeError(_tr("{requester} cannot run without these Python packages: {packages}. "
                                   "They were not installed because the installation was declined.").format(
                requester=requester, packages=", ".join(missing)))
        _legacyPipInstall(missing, constraints)  # errors propagate to the caller's tryWithErrorDisplay

    stillMissing = missingPythonRequirements(path)
    if stillMissing:
        raise RuntimeError(_tr("These Python packages are required but not installed: {packages}. "
                               "Install them from Slicer's Python console with "
                               "slicer.util.pip_install(\"{packages}\"), or in a terminal with "
                               "{command}, then restart Slicer.").format(
            packages=" ".join(stillMissing), command=installCommand([path])))
