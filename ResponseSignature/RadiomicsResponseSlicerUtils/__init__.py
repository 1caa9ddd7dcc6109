"""Slicer-only helpers shared by the three RadiomicsResponse modules.

- ``dependencies``: the Python packages a module needs (check, ask, install; skip in self-tests);
- ``reloading``: the developer-mode Reload button (the Lib packages and those downstream of them);
- ``sampledata``: the synthetic sample case in the Sample Data module;
- ``cohort_worker``: a cohort run in one worker process, its progress read from the worker's output.

Why a package and not a ``.py`` file beside the module files: Slicer registers every ``.py`` file at
the top of a scripted-module folder as a module and fails to load one without a class of the same
name. ResponseSignature's CMakeLists.txt ships this folder; the build copies it beside the three
module files into ``qt-scripted-modules/``, which is on ``sys.path``, so LesionAggregate and
NomogramScore (both depend on ResponseSignature) import it too. Nothing here imports the GUI-free
Libs at import time, and ``slicer`` only inside the functions that need the application.
"""
