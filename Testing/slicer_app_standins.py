"""Load a module file (ResponseSignature.py, ...) headless: real MRML, stand-ins for the application.

The ``slicer-core`` wheel gives the real MRML classes, ``slicer.util`` and a scene, but not the
Slicer application: no ``slicer.app``, Qt/CTK widgets, ``slicer.ScriptedLoadableModule``,
``slicer.parameterNodeWrapper`` (it imports qt) or ``slicer.i18n``. To run the module files' Logic
and self-test code against real MRML nodes, this installs the smallest stand-ins for those
application-only names: template base classes that do nothing, an identity translation, a
parameter-node decorator that leaves the class alone, empty ``qt``/``ctk`` modules (only widget code
uses them), and ``slicer.app`` answering ``testingEnabled()`` like ``Slicer --testing``. Everything
the Logic computes, every node it reads and writes, is real. Widget code is not run here.
"""
from __future__ import annotations

import importlib.util
import logging
import sys
import types
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULES = ("ResponseSignature", "LesionAggregate", "NomogramScore")


class _ScriptedLoadableModule:
    def __init__(self, parent=None):
        self.parent = parent


class _ScriptedLoadableModuleWidget:
    def __init__(self, parent=None):
        self.parent = parent


class _ScriptedLoadableModuleLogic:
    def __init__(self, parent=None):
        self.parent = parent


class _ScriptedLoadableModuleTest(unittest.TestCase):
    def delayDisplay(self, message, msec=None):
        logging.info(message)


class _Application:
    """``slicer.app`` as seen by Logic and self-test code under ``Slicer --testing``."""

    def __init__(self, cachePath: str, testing: bool = True):
        self.cachePath = cachePath
        self.testing = testing

    def testingEnabled(self) -> bool:
        return self.testing


def _module(name: str, **members) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(members)
    return module


def install(cachePath: str, testing: bool = True):
    """Install the stand-ins and a fresh real scene as ``slicer.mrmlScene``; returns the ``slicer`` module."""
    import slicer

    base = dict(ScriptedLoadableModule=_ScriptedLoadableModule, ScriptedLoadableModuleWidget=_ScriptedLoadableModuleWidget,
                ScriptedLoadableModuleLogic=_ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest=_ScriptedLoadableModuleTest)
    base["__all__"] = list(base)
    sys.modules["slicer.ScriptedLoadableModule"] = _module("slicer.ScriptedLoadableModule", **base)
    sys.modules["slicer.i18n"] = _module("slicer.i18n", tr=lambda text: text, translate=lambda context, text: text)
    sys.modules["slicer.parameterNodeWrapper"] = _module(
        "slicer.parameterNodeWrapper", parameterNodeWrapper=lambda cls: cls,
        Choice=lambda *args, **kwargs: None, WithinRange=lambda *args, **kwargs: None)
    sys.modules.setdefault("qt", _module("qt"))
    sys.modules.setdefault("ctk", _module("ctk"))
    slicer.app = _Application(cachePath, testing)
    slicer.mrmlScene = slicer.vtkMRMLScene()
    for folder in ("ResponseSignature", "LesionAggregate", "NomogramScore"):
        if str(REPO / folder) not in sys.path:
            sys.path.insert(0, str(REPO / folder))
    return slicer


def load_module_file(name: str) -> types.ModuleType:
    """Import ``<REPO>/<name>/<name>.py`` as module ``name`` (as Slicer's module factory does)."""
    spec = importlib.util.spec_from_file_location(name, REPO / name / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
