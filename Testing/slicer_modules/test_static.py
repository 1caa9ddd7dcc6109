"""Static checks that stand in for building the extension with Slicer (see DESIGN.md, Testing).

There is no Slicer binary in CI, so what Slicer's build and module loader would reject is checked
here from the sources alone (nothing is imported from the module files, which need Slicer):

1. every file that ships under a module folder is listed in that module's CMakeLists.txt
   (slicerMacroBuildScriptedModule fails on listed files that do not exist, and silently drops
   files that are not listed), and every listed file exists;
2. every ``self.ui.<name>`` used by a module file exists as an objectName in its .ui file;
3. every ``SlicerParameterName`` in a .ui file is an annotated member of the module's
   ``@parameterNodeWrapper`` class, bound to a widget that the wrapper can connect to that type;
4. all module and Lib code parses as Python 3.9 (Slicer 5.8) and avoids 3.10+ only constructs;
5. the .ui files are well-formed Qt Designer XML;
6. the icons are 128x128 PNG files;
7. each module file defines the five template classes, and the Lib packages stay GUI-free
   (no qt/ctk/slicer.app; ``import slicer`` only in mrml_bridge.py) and import downstream only;
8. no two files of different modules are installed to the same path (Slicer copies every module's
   scripts and resources into one qt-scripted-modules/ folder), and only module files sit at its top;
9. every connected signal, .ui widget class, .ui property and connection, and widget member used
   from Python is in Testing/slicer_api_inventory.json (names read in Slicer 5.8.1 and 5.10.0);
10. every shipped .py compiles under a real Python 3.9 when one is installed;
11. Utilities/RadiomicsResponse.json is a valid ExtensionsIndex catalog entry;
12. the Slicer-only helpers (installs, reload, sample data) live in RadiomicsResponseSlicerUtils;
13. the README section "Using it in 3D Slicer" presents every module and every setting of its .ui;
plus the extension metadata, requirements files and template leftovers.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES = ["ResponseSignature", "LesionAggregate", "NomogramScore"]
#: Each Lib may import only the Libs listed here (imports flow downstream only).
ALLOWED_LIB_IMPORTS = {
    "ResponseSignatureLib": {"ResponseSignatureLib"},
    "LesionAggregateLib": {"ResponseSignatureLib", "LesionAggregateLib"},
    "NomogramScoreLib": {"ResponseSignatureLib", "LesionAggregateLib", "NomogramScoreLib"},
}
EXPECTED_DEPENDENCIES = {
    "ResponseSignature": [],
    "LesionAggregate": ["ResponseSignature"],
    "NomogramScore": ["ResponseSignature", "LesionAggregate"],
}
#: File types that ship with a module (everything else under the module folder is flagged too,
#: unless it is one of the IGNORED_* below).
IGNORED_DIRS = {"__pycache__", "Testing", ".pytest_cache"}
IGNORED_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".swp"}
IGNORED_NAMES = {"CMakeLists.txt", ".DS_Store", ".gitignore"}
#: Where the extension's icon and screenshots live (top-level Resources/, raw URLs on the repository).
RAW_URL_PREFIX = "https://raw.githubusercontent.com/radiomics-response/SlicerRadiomicsResponse/main/"
EXTENSION_ICON = "Resources/Icons/RadiomicsResponse.png"


# ------------------------------------------------------------------------------------------ helpers

def module_dir(module: str) -> Path:
    return REPO / module


def shipped_files(module: str) -> list[str]:
    """Files under the module folder that Slicer's build must install (relative, posix)."""
    base = module_dir(module)
    files = []
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if path.is_dir() or any(part in IGNORED_DIRS for part in rel.parts[:-1]) or rel.parts[0] in IGNORED_DIRS:
            continue
        if path.suffix in IGNORED_SUFFIXES or path.name in IGNORED_NAMES or path.name.endswith("~"):
            continue
        files.append(rel.as_posix())
    return files


def cmake_list(module: str, variable: str, root: Path = REPO) -> list[str]:
    """Entries of ``set(<variable> ...)`` in the module's CMakeLists.txt, ${MODULE_NAME} expanded."""
    text = (root / module / "CMakeLists.txt").read_text(encoding="utf-8")
    text = re.sub(r"#[^\n]*", "", text)
    match = re.search(rf"set\(\s*{variable}\b(.*?)\)", text, re.DOTALL)
    assert match, f"{module}/CMakeLists.txt has no set({variable} ...)"
    return [entry.replace("${MODULE_NAME}", module) for entry in match.group(1).split()]


def module_source(module: str) -> str:
    return (module_dir(module) / f"{module}.py").read_text(encoding="utf-8")


def module_tree(module: str) -> ast.Module:
    return ast.parse(module_source(module), filename=f"{module}.py")


def ui_root(module: str) -> ET.Element:
    return ET.parse(module_dir(module) / "Resources" / "UI" / f"{module}.ui").getroot()


def ui_widgets(module: str) -> dict[str, ET.Element]:
    return {w.get("name"): w for w in ui_root(module).iter("widget")}


def ui_parameter_bindings(module: str) -> dict[str, tuple[str, str]]:
    """objectName -> (widget class, SlicerParameterName) for every bound widget."""
    bindings = {}
    for widget in ui_root(module).iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                value = prop.find("string")
                bindings[widget.get("name")] = (widget.get("class"), (value.text or "").strip() if value is not None else "")
    return bindings


def wrapper_class(tree: ast.Module) -> ast.ClassDef | None:
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
                if name == "parameterNodeWrapper":
                    return node
    return None


def wrapper_members(module: str) -> dict[str, ast.expr]:
    cls = wrapper_class(module_tree(module))
    assert cls is not None, f"{module}.py has no @parameterNodeWrapper class"
    return {node.target.id: node.annotation for node in cls.body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)}


def python_files() -> list[Path]:
    files = []
    for module in MODULES:
        files += sorted(p for p in module_dir(module).rglob("*.py") if "__pycache__" not in p.parts)
    return files


def lib_files() -> list[Path]:
    files = []
    for module in MODULES:
        files += sorted(p for p in (module_dir(module) / f"{module}Lib").rglob("*.py") if "__pycache__" not in p.parts)
    return files


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:33]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{rel(path)} is not a PNG file"
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert chunk == b"IHDR" and length == 13, f"{rel(path)}: first PNG chunk is not IHDR"
    return struct.unpack(">II", data[16:24])


# ------------------------------------------------------------------- 1. CMakeLists lists every file

@pytest.mark.parametrize("module", MODULES)
def test_cmake_lists_every_shipped_file(module):
    listed = cmake_list(module, "MODULE_PYTHON_SCRIPTS") + cmake_list(module, "MODULE_PYTHON_RESOURCES")
    missing = sorted(set(shipped_files(module)) - set(listed))
    assert not missing, (
        f"{module}/CMakeLists.txt does not list these files, so Slicer's build would not install them; "
        f"add them to MODULE_PYTHON_SCRIPTS (.py) or MODULE_PYTHON_RESOURCES (others): {missing}")


@pytest.mark.parametrize("module", MODULES)
def test_cmake_listed_files_exist(module):
    listed = cmake_list(module, "MODULE_PYTHON_SCRIPTS") + cmake_list(module, "MODULE_PYTHON_RESOURCES")
    absent = [entry for entry in listed if not (module_dir(module) / entry).is_file()]
    assert not absent, f"{module}/CMakeLists.txt lists files that do not exist (CMake configuration would fail): {absent}"
    duplicates = sorted({entry for entry in listed if listed.count(entry) > 1})
    assert not duplicates, f"{module}/CMakeLists.txt lists these files twice: {duplicates}"


@pytest.mark.parametrize("module", MODULES)
def test_cmake_scripts_and_resources_are_in_the_right_list(module):
    scripts = cmake_list(module, "MODULE_PYTHON_SCRIPTS")
    resources = cmake_list(module, "MODULE_PYTHON_RESOURCES")
    wrong = [s for s in scripts if not s.endswith(".py")] + [r for r in resources if r.endswith(".py")]
    assert not wrong, f"{module}/CMakeLists.txt: .py files belong in MODULE_PYTHON_SCRIPTS, others in RESOURCES: {wrong}"
    assert scripts and scripts[0] == f"{module}.py", f"{module}/CMakeLists.txt: {module}.py should be the first script"
    for required in (f"Resources/Icons/{module}.png", f"Resources/UI/{module}.ui", f"Resources/{module}Requirements.txt"):
        assert required in resources, f"{module}/CMakeLists.txt does not list {required}"


@pytest.mark.parametrize("module", MODULES)
def test_cmake_module_macro(module):
    text = (module_dir(module) / "CMakeLists.txt").read_text(encoding="utf-8")
    assert re.search(rf"set\(MODULE_NAME {module}\)", text), f"{module}/CMakeLists.txt: set(MODULE_NAME {module}) missing"
    macro = re.search(r"slicerMacroBuildScriptedModule\((.*?)\)", text, re.DOTALL)
    assert macro, f"{module}/CMakeLists.txt does not call slicerMacroBuildScriptedModule"
    words = macro.group(1).split()
    for keyword in ("NAME", "SCRIPTS", "RESOURCES", "WITH_GENERIC_TESTS"):
        assert keyword in words, f"{module}/CMakeLists.txt: slicerMacroBuildScriptedModule lacks {keyword}"
    unknown = [w for w in words if re.fullmatch(r"[A-Z_]+", w) and w not in ("NAME", "SCRIPTS", "RESOURCES", "WITH_GENERIC_TESTS", "WITH_SUBDIR", "VERBOSE")]
    assert not unknown, f"{module}/CMakeLists.txt: unknown slicerMacroBuildScriptedModule keywords {unknown} (CMake would fail)"
    assert re.search(r"if\(BUILD_TESTING\)\s*(#[^\n]*\s*)*slicer_add_python_unittest\(SCRIPT \$\{MODULE_NAME\}\.py\)", text), \
        f"{module}/CMakeLists.txt: slicer_add_python_unittest(SCRIPT ${{MODULE_NAME}}.py) inside if(BUILD_TESTING) is missing"
    if not (module_dir(module) / "Testing" / "CMakeLists.txt").is_file():
        assert "add_subdirectory(Testing)" not in text, f"{module}/CMakeLists.txt adds a Testing folder that has no CMakeLists.txt"


def test_top_level_cmake_metadata():
    text = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    assert re.search(r"^project\(RadiomicsResponse\)", text, re.MULTILINE), "top-level CMakeLists.txt: project(RadiomicsResponse) missing"
    for variable in ("EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_CONTRIBUTORS", "EXTENSION_DESCRIPTION",
                     "EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS", "EXTENSION_DEPENDS"):
        assert re.search(rf'set\({variable} "[^"]+"\)', text), f"top-level CMakeLists.txt: {variable} is not set"
    for line in ("find_package(Slicer REQUIRED)", "include(${Slicer_USE_FILE})",
                 "include(${Slicer_EXTENSION_GENERATE_CONFIG})", "include(${Slicer_EXTENSION_CPACK})"):
        assert line in text, f"top-level CMakeLists.txt: '{line}' missing"
    marker = text.find("## NEXT_MODULE")
    assert marker > 0, "top-level CMakeLists.txt: the '## NEXT_MODULE' marker (used by the Extension Wizard) is missing"
    for module in MODULES:
        position = text.find(f"add_subdirectory({module})")
        assert 0 < position < marker, f"top-level CMakeLists.txt: add_subdirectory({module}) missing or after ## NEXT_MODULE"
    repository_file = re.escape(RAW_URL_PREFIX) + r"(.+)"
    icon_url = re.search(r'set\(EXTENSION_ICONURL "([^"]+)"\)', text).group(1)
    assert re.fullmatch(repository_file, icon_url) and icon_url.endswith("/" + EXTENSION_ICON), \
        f"EXTENSION_ICONURL must be {RAW_URL_PREFIX}{EXTENSION_ICON}, got {icon_url}"
    screenshots = re.search(r'set\(EXTENSION_SCREENSHOTURLS "([^"]+)"\)', text).group(1).split()
    for url in screenshots:
        match = re.fullmatch(repository_file, url)
        assert match and match.group(1).startswith("Resources/Screenshots/") and url.endswith(".png"), \
            f"EXTENSION_SCREENSHOTURLS: {url} is not a PNG of this repository's Resources/Screenshots/"
        assert (REPO / match.group(1)).is_file(), f"EXTENSION_SCREENSHOTURLS names {match.group(1)}, which does not exist"
    license_file = re.search(r'set\(EXTENSION_LICENSE_FILE "?([^")]+)"?\)', text)
    assert license_file and license_file.group(1) == "${CMAKE_CURRENT_SOURCE_DIR}/LICENSE.txt", \
        "EXTENSION_LICENSE_FILE must be ${CMAKE_CURRENT_SOURCE_DIR}/LICENSE.txt (else the package ships Slicer's licence)"
    assert text.find("EXTENSION_LICENSE_FILE") < text.find("include(${Slicer_USE_FILE})"), \
        "EXTENSION_LICENSE_FILE must be set before include(${Slicer_USE_FILE}) (UseSlicer defaults it when undefined)"
    contributors = re.search(r'set\(EXTENSION_CONTRIBUTORS "([^"]+)"\)', text).group(1)
    for contributor in contributors.split(", "):
        assert re.fullmatch(r"[^(),]+ \([^()]+\)", contributor), \
            f"EXTENSION_CONTRIBUTORS: '{contributor}' is not in the 'Name (Organization)' form"
    license_text = (REPO / "LICENSE.txt").read_text(encoding="utf-8")
    assert "Apache License" in license_text and "Version 2.0" in license_text, "LICENSE.txt is not the Apache-2.0 text"


# ----------------------------------------------------------------------- 2. self.ui.<name> exists

@pytest.mark.parametrize("module", MODULES)
def test_ui_names_used_in_module_exist(module):
    used = set(re.findall(r"self\.ui\.([A-Za-z_]\w*)", module_source(module)))
    names = set(ui_widgets(module))
    missing = sorted(used - names)
    assert not missing, f"{module}.py uses self.ui.<name> for names that are not objectNames in {module}.ui: {missing}"


# --------------------------------------------------- 3. SlicerParameterName <-> wrapper members

@pytest.mark.parametrize("module", MODULES)
def test_ui_parameter_names_are_wrapper_members(module):
    members = wrapper_members(module)
    bindings = ui_parameter_bindings(module)
    unknown = {widget: parameter for widget, (_cls, parameter) in bindings.items() if parameter not in members}
    assert not unknown, (f"{module}.ui binds widgets to SlicerParameterName values that are not annotated members of "
                         f"{module}ParameterNode (connectGui would fail): {unknown}")
    parameters = [parameter for _cls, parameter in bindings.values()]
    doubles = sorted({p for p in parameters if parameters.count(p) > 1})
    assert not doubles, f"{module}.ui binds several widgets to the same parameter: {doubles}"


def _annotation_kind(annotation: ast.expr) -> tuple[str, bool]:
    """('node' | 'str' | 'float' | 'int' | 'bool' | 'path' | other, has a Choice(...) annotation)."""
    has_choice = False
    if isinstance(annotation, ast.Subscript) and getattr(annotation.value, "id", getattr(annotation.value, "attr", "")) == "Annotated":
        elements = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
        annotation = elements[0]
        has_choice = any(isinstance(e, ast.Call) and getattr(e.func, "id", getattr(e.func, "attr", "")) == "Choice" for e in elements[1:])
    name = annotation.id if isinstance(annotation, ast.Name) else getattr(annotation, "attr", ast.dump(annotation))
    if name.startswith("vtkMRML"):
        return "node", has_choice
    if name in ("Path", "PurePath", "PosixPath", "WindowsPath"):
        return "path", has_choice
    return name, has_choice


#: Qt widget class -> parameter types its parameterNodeWrapper GUI connector accepts
#: (Base/Python/slicer/parameterNodeWrapper/guiConnectors.py, canRepresent methods).
CONNECTORS = {
    "QCheckBox": {"bool"}, "ctkCheckBox": {"bool"}, "QPushButton": {"bool"}, "ctkCheckablePushButton": {"bool"},
    "QSlider": {"int"}, "QSpinBox": {"int"},
    "QDoubleSpinBox": {"float", "int"}, "ctkSliderWidget": {"float", "int"}, "qMRMLSliderWidget": {"float", "int"},
    "ctkDoubleSlider": {"float", "int"}, "ctkDoubleSpinBox": {"float", "int"}, "qMRMLSpinBox": {"float", "int"},
    "QComboBox": {"str", "int", "float", "bool"}, "ctkComboBox": {"str", "int", "float", "bool"},
    "QLineEdit": {"str"}, "QLabel": {"str"}, "QTextEdit": {"str"},
    "ctkPathLineEdit": {"path"}, "ctkDirectoryButton": {"path"},
    "qMRMLNodeComboBox": {"node"},
}


@pytest.mark.parametrize("module", MODULES)
def test_ui_bound_widgets_can_be_connected(module):
    members = wrapper_members(module)
    problems = []
    for widget, (cls, parameter) in ui_parameter_bindings(module).items():
        if parameter not in members:
            continue  # reported by test_ui_parameter_names_are_wrapper_members
        kind, has_choice = _annotation_kind(members[parameter])
        if cls not in CONNECTORS:
            problems.append(f"{widget}: no parameterNodeWrapper connector for widget class {cls}")
        elif kind not in CONNECTORS[cls]:
            problems.append(f"{widget} ({cls}) cannot show parameter '{parameter}' of type {kind}")
        elif cls in ("QComboBox", "ctkComboBox") and not has_choice:
            problems.append(f"{widget}: a QComboBox bound to '{parameter}' needs Annotated[..., Choice([...])]")
    assert not problems, f"{module}: connectGui would raise for these bindings: {problems}"


# ------------------------------------------------------------------------ 4. Python 3.9 syntax

@pytest.mark.parametrize("path", python_files(), ids=rel)
def test_parses_as_python39(path):
    source = path.read_text(encoding="utf-8")
    try:
        ast.parse(source, filename=str(path), feature_version=(3, 9))
    except SyntaxError as error:
        pytest.fail(f"{rel(path)} does not parse as Python 3.9 (Slicer 5.8): line {error.lineno}: {error.msg}")


def _runtime_annotations(tree: ast.Module, postponed: bool):
    """Annotations Python evaluates: all of them without the __future__ import, and (always) the
    members of a @parameterNodeWrapper class, which typing.get_type_hints evaluates at class creation."""
    cls = wrapper_class(tree)
    if cls is not None:
        for node in cls.body:
            if isinstance(node, ast.AnnAssign):
                yield node.annotation
    if postponed:
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if arg is not None and arg.annotation is not None:
                    yield arg.annotation
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


@pytest.mark.parametrize("path", python_files(), ids=rel)
def test_no_pep604_unions_evaluated_at_runtime(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    postponed = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
                    for n in tree.body)
    bad = sorted({a.lineno for annotation in _runtime_annotations(tree, postponed) for a in ast.walk(annotation)
                  if isinstance(a, ast.BinOp) and isinstance(a.op, ast.BitOr)})
    assert not bad, (f"{rel(path)}: 'X | Y' annotations are evaluated at run time here and fail on Python 3.9 "
                     f"(use Optional/Union): lines {bad}")


#: Standard-library features newer than Python 3.9, as (description, predicate on an ast node).
def _py310_calls(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        keywords = {k.arg for k in node.keywords}
        if name == "zip" and "strict" in keywords:
            return "zip(strict=...) (3.10)"
        if name == "dataclass" and keywords & {"slots", "kw_only", "match_args"}:
            return "dataclass(slots/kw_only/match_args) (3.10)"
        if name in ("bisect_left", "bisect_right", "insort") and "key" in keywords:
            return "bisect key= (3.10)"
    if isinstance(node, ast.ImportFrom):
        names = {a.name for a in node.names}
        if node.module == "itertools" and "pairwise" in names:
            return "itertools.pairwise (3.10)"
        if node.module == "typing" and names & {"TypeAlias", "ParamSpec", "Concatenate", "TypeGuard", "Self", "LiteralString",
                                                 "Never", "assert_never", "reveal_type", "Required", "NotRequired", "Unpack"}:
            return "typing names added in 3.10+ (use typing_extensions or avoid)"
        if node.module == "datetime" and "UTC" in names:
            return "datetime.UTC (3.11)"
    if isinstance(node, ast.Import) and any(a.name in ("tomllib",) for a in node.names):
        return "tomllib (3.11)"
    if isinstance(node, ast.Attribute) and node.attr == "pairwise" and getattr(node.value, "id", "") == "itertools":
        return "itertools.pairwise (3.10)"
    if isinstance(node, ast.Attribute) and node.attr == "UTC" and getattr(node.value, "id", "") == "datetime":
        return "datetime.UTC (3.11)"
    return None


@pytest.mark.parametrize("path", python_files(), ids=rel)
def test_no_python310_only_library_calls(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = sorted({f"line {node.lineno}: {what}" for node in ast.walk(tree) if (what := _py310_calls(node))})
    assert not found, f"{rel(path)} uses library features missing on Python 3.9 (Slicer 5.8): {found}"


# --------------------------------------------------------------------------- 5. .ui well-formed

@pytest.mark.parametrize("module", MODULES)
def test_ui_is_well_formed(module):
    path = module_dir(module) / "Resources" / "UI" / f"{module}.ui"
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        pytest.fail(f"{rel(path)} is not well-formed XML: {error}")
    assert root.tag == "ui" and root.get("version") == "4.0", f"{rel(path)}: root element must be <ui version=\"4.0\">"
    assert (root.findtext("class") or "").strip() == module, f"{rel(path)}: <class> must be {module}"
    top = root.find("widget")
    assert top is not None and top.get("class") == "qMRMLWidget" and top.get("name") == module, \
        f"{rel(path)}: the top-level widget must be a qMRMLWidget named {module} (the template's layout)"
    names = [w.get("name") for w in root.iter("widget")] + [lay.get("name") for lay in root.iter("layout")]
    doubles = sorted({n for n in names if names.count(n) > 1})
    assert not doubles, f"{rel(path)}: objectNames must be unique: {doubles}"
    custom = {c.findtext("class") for c in root.iter("customwidget")}
    used = {w.get("class") for w in root.iter("widget")}
    undeclared = sorted(c for c in used if c.startswith(("qMRML", "ctk", "qSlicer")) and c not in custom)
    assert not undeclared, f"{rel(path)}: custom widget classes used without a <customwidget> entry: {undeclared}"
    mrml = {w.get("name") for w in root.iter("widget") if w.get("class", "").startswith("qMRML") and w.get("class") != "qMRMLWidget"}
    connected = {c.findtext("receiver") for c in root.iter("connection") if c.findtext("signal") == "mrmlSceneChanged(vtkMRMLScene*)"}
    assert mrml <= connected, f"{rel(path)}: MRML widgets not connected to mrmlSceneChanged (they would have no scene): {sorted(mrml - connected)}"


# ------------------------------------------------------------------------------------ 6. icons

ICONS = [f"{module}/Resources/Icons/{module}.png" for module in MODULES] + [EXTENSION_ICON]


@pytest.mark.parametrize("icon", ICONS)
def test_icons_are_128_png(icon):
    path = REPO / icon
    assert path.is_file(), f"icon {icon} is missing"
    assert png_size(path) == (128, 128), f"icon {icon} is {png_size(path)}, Slicer expects 128x128"


# ----------------------------------------------- 7. template classes, GUI-free Libs, import flow

@pytest.mark.parametrize("module", MODULES)
def test_module_defines_template_classes(module):
    classes = {node.name: node for node in module_tree(module).body if isinstance(node, ast.ClassDef)}
    expected = {
        module: "ScriptedLoadableModule",
        f"{module}ParameterNode": None,
        f"{module}Widget": "ScriptedLoadableModuleWidget",
        f"{module}Logic": "ScriptedLoadableModuleLogic",
        f"{module}Test": "ScriptedLoadableModuleTest",
    }
    for name, base in expected.items():
        assert name in classes, f"{module}.py must define class {name} (Slicer's scripted-module template)"
        if base:
            bases = [getattr(b, "id", getattr(b, "attr", "")) for b in classes[name].bases]
            assert base in bases, f"{module}.py: {name} must derive from {base}"
    assert wrapper_class(module_tree(module)).name == f"{module}ParameterNode", \
        f"{module}.py: {module}ParameterNode must be the @parameterNodeWrapper class"


def _imported_modules(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


@pytest.mark.parametrize("path", lib_files(), ids=rel)
def test_lib_is_gui_free(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems = []
    for lineno, name in _imported_modules(tree):
        top = name.split(".")[0]
        if top in ("qt", "ctk", "PythonQt", "__main__") or name.startswith("slicer.app"):
            problems.append(f"line {lineno}: imports {name}")
        if top in ("slicer", "vtk", "vtkmodules", "sitkUtils") and path.name != "mrml_bridge.py":
            problems.append(f"line {lineno}: imports {name} (only mrml_bridge.py may use slicer/vtk)")
        if top in MODULES:
            problems.append(f"line {lineno}: imports the module file {name} (Libs never import the GUI module)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("app", "modules", "mrmlScene") \
                and getattr(node.value, "id", "") == "slicer":
            problems.append(f"line {node.lineno}: uses slicer.{node.attr} (needs the Slicer application; take the scene as an argument)")
    assert not problems, f"{rel(path)} must stay GUI-free and headless: {problems}"


@pytest.mark.parametrize("path", lib_files(), ids=rel)
def test_lib_imports_flow_downstream(path):
    lib = next(part for part in path.relative_to(REPO).parts if part.endswith("Lib"))
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    upstream = [f"line {lineno}: {name}" for lineno, name in _imported_modules(tree)
                if name.split(".")[0] in ALLOWED_LIB_IMPORTS and name.split(".")[0] not in ALLOWED_LIB_IMPORTS[lib]]
    assert not upstream, f"{rel(path)}: {lib} may import only {sorted(ALLOWED_LIB_IMPORTS[lib])} (imports flow downstream): {upstream}"


# ------------------------------------------------------------ module metadata, imports, leftovers

HEAVY_TOP_LEVEL = {"pandas", "SimpleITK", "sitkUtils", "radiomics", "yaml", "sklearn", "scipy", "statsmodels",
                   "lifelines", "dask", "ResponseSignatureLib", "LesionAggregateLib", "NomogramScoreLib"}


@pytest.mark.parametrize("module", MODULES)
def test_module_file_has_no_heavy_top_level_imports(module):
    tree = module_tree(module)
    heavy = []
    for node in tree.body:  # module level only: imports inside functions are lazy, as required
        if isinstance(node, ast.Import):
            heavy += [a.name for a in node.names if a.name.split(".")[0] in HEAVY_TOP_LEVEL]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in HEAVY_TOP_LEVEL:
            heavy.append(node.module)
    assert not heavy, (f"{module}.py imports {heavy} at module level: Slicer must be able to load the module before "
                       "the Python requirements are installed; import them inside the methods that need them")
    calls = [n.lineno for n in tree.body for c in ast.walk(n) if isinstance(c, ast.Call)
             and getattr(c.func, "attr", getattr(c.func, "id", "")) in ("pip_install", "pip_ensure")
             and not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert not calls, f"{module}.py installs packages at import time (lines {calls}); install on first use, with consent"


def _string_assignments(tree: ast.Module, attribute: str) -> list[ast.expr]:
    values = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == attribute:
                    values.append(node.value)
    return values


@pytest.mark.parametrize("module", MODULES)
def test_module_metadata(module):
    tree = module_tree(module)
    source = module_source(module)
    categories = _string_assignments(tree, "categories")
    translated = [[getattr(arg, "value", None) for arg in call.args] for value in categories for call in ast.walk(value)
                  if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "translate"]
    assert ["qSlicerAbstractCoreModule", "Quantification"] in translated, \
        f"{module}.py: categories must be [translate(\"qSlicerAbstractCoreModule\", \"Quantification\")]"
    dependencies = _string_assignments(tree, "dependencies")
    assert dependencies and ast.literal_eval(dependencies[0]) == EXPECTED_DEPENDENCIES[module], \
        f"{module}.py: dependencies must be {EXPECTED_DEPENDENCIES[module]}"
    for attribute in ("title", "contributors", "helpText", "acknowledgementText"):
        assert _string_assignments(tree, attribute), f"{module}.py does not set parent.{attribute}"
    assert f"#{module.lower()}" in source, f"{module}.py: helpText should link to the README section #{module.lower()}"


TEMPLATE_LEFTOVERS = ["TemplateKey", "John Doe", "AnyWare", "This is an example of scripted loadable module",
                      "Jean-Christophe Fillion-Robin", "3P41RR013218", "TODO: ", "organization/projectname",
                      "Pick the input to the algorithm", "thresholdscalarvolume", "inputVolume - The volume to threshold"]


@pytest.mark.parametrize("module", MODULES)
def test_no_template_leftovers(module):
    for path in (module_dir(module) / f"{module}.py", module_dir(module) / "Resources" / "UI" / f"{module}.ui",
                 module_dir(module) / "CMakeLists.txt"):
        text = path.read_text(encoding="utf-8")
        found = [phrase for phrase in TEMPLATE_LEFTOVERS if phrase in text]
        assert not found, f"{rel(path)} still contains template text: {found}"


@pytest.mark.parametrize("module", MODULES)
def test_requirements_have_lower_bounds_only(module):
    path = module_dir(module) / "Resources" / f"{module}Requirements.txt"
    lines = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    assert lines, f"{rel(path)} lists no package"
    for line in lines:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?>=[0-9][0-9A-Za-z.]*", line), \
            f"{rel(path)}: '{line}' should be 'name>=version' (lower bounds only; never pin in an extension)"
        name = re.split(r"[<>=\[]", line)[0].lower()
        assert name not in ("numpy", "simpleitk", "vtk", "scipy"), \
            f"{rel(path)}: {name} is provided by Slicer and must not be installed or upgraded by the extension"


# -------------------------------------- 8. installed paths: what Slicer's build copies where

def _macro_words(module: str, root: Path = REPO) -> list[str]:
    text = re.sub(r"#[^\n]*", "", (root / module / "CMakeLists.txt").read_text(encoding="utf-8"))
    macro = re.search(r"slicerMacroBuildScriptedModule\((.*?)\)", text, re.DOTALL)
    return macro.group(1).split() if macro else []


def installed_files(root: Path = REPO) -> dict[str, list[str]]:
    """Installed path (relative to lib/Slicer-X.Y/qt-scripted-modules/) -> the sources copied there.

    As slicerMacroBuildScriptedModule (Slicer 5.8.1 and 5.10.0) passes SCRIPTS and RESOURCES to
    ctkMacroCompilePythonScript with DESTINATION_DIR qt-scripted-modules[/<source folder name> only
    WITH_SUBDIR]: each listed file keeps its path relative to the module folder; a script whose
    extension does not match "py" gets ".py" appended. Every module of every extension is copied
    into the same folder, so two sources mapped to one path collide (Ninja: "multiple rules
    generate ..."; Make: the last copy wins).
    """
    installed: dict[str, list[str]] = {}
    for module in MODULES:
        subdir = f"{module}/" if "WITH_SUBDIR" in _macro_words(module, root) else ""
        for variable in ("MODULE_PYTHON_SCRIPTS", "MODULE_PYTHON_RESOURCES"):
            for entry in cmake_list(module, variable, root):
                target = entry
                if variable == "MODULE_PYTHON_SCRIPTS" and "py" not in Path(entry).suffix:
                    target = entry + ".py"
                installed.setdefault(subdir + target, []).append(f"{module}/{entry}")
    return installed


def resource_collisions(root: Path = REPO) -> dict[str, list[str]]:
    return {path: sources for path, sources in installed_files(root).items() if len(sources) > 1}


def test_installed_paths_are_unique_across_modules():
    collisions = resource_collisions()
    assert not collisions, (
        "these files of different modules are installed to the same path of qt-scripted-modules/ (Slicer copies "
        "every module's scripts and resources into one folder unless WITH_SUBDIR): give them module-specific "
        f"names (e.g. Resources/<Module>Requirements.txt): {collisions}")


def test_only_module_files_at_the_top_of_qt_scripted_modules():
    # Slicer's scripted-module factory registers every .py file at the top of a module path as a
    # module and fails to load one without a class of the same name: helpers go in packages.
    top = sorted(path for path in installed_files() if "/" not in path and path.endswith(".py"))
    assert top == sorted(f"{module}.py" for module in MODULES), \
        f"only the module files may be installed at the top of qt-scripted-modules/ (put helpers in a package): {top}"


# ------------------------------ 9. Qt/CTK/MRML names used by the modules, against Slicer's sources

INVENTORY = json.loads((REPO / "Testing" / "slicer_api_inventory.json").read_text(encoding="utf-8"))


def _inventory_chain(cls: str) -> list[dict]:
    """The inventory entries of ``cls`` and its base classes (empty if ``cls`` is not recorded)."""
    chain = []
    while cls:
        entry = INVENTORY["classes"].get(cls)
        if entry is None:
            break
        chain.append(entry)
        cls = entry.get("inherits")
    return chain


def _has(cls: str, kind: str, name: str) -> bool:
    return any(name in entry[kind] for entry in _inventory_chain(cls))


def _python_object_classes(module: str) -> dict[str, str]:
    """Expression -> class for the objects whose signals a module file connects to."""
    classes = {f"self.ui.{name}": widget.get("class") for name, widget in ui_widgets(module).items()}
    classes.update(INVENTORY["python_objects"])
    for target, cls in re.findall(r"(self\.\w+) = qt\.(\w+)\(", module_source(module)):
        classes[target] = cls
    return classes


@pytest.mark.parametrize("module", MODULES)
def test_connected_signals_exist(module):
    objects = _python_object_classes(module)
    problems = []
    for target, signal in re.findall(r"([\w.]+)\.connect\(\s*[\"']([^\"']+)[\"']", module_source(module)):
        cls = objects.get(target)
        if cls is None:
            problems.append(f"{target}.connect('{signal}'): class of {target} unknown (add it to the inventory's python_objects)")
        elif not _inventory_chain(cls):
            problems.append(f"{target} is a {cls}, which is not in Testing/slicer_api_inventory.json")
        elif not _has(cls, "signals", signal):
            problems.append(f"{target} ({cls}) has no signal {signal} in Slicer 5.8/5.10")
    assert not problems, f"{module}.py connects to signals that do not exist (PythonQt would fail at run time): {problems}"


@pytest.mark.parametrize("module", MODULES)
def test_ui_widget_classes_and_properties_exist(module):
    problems = []
    for widget in ui_root(module).iter("widget"):
        cls = widget.get("class")
        if not _inventory_chain(cls):
            problems.append(f"{widget.get('name')}: class {cls} is not in Testing/slicer_api_inventory.json")
            continue
        for prop in widget.findall("property"):
            if prop.get("stdset") != "0" and not _has(cls, "members", prop.get("name")):
                problems.append(f"{widget.get('name')} ({cls}): no property {prop.get('name')}")
    for connection in ui_root(module).iter("connection"):
        widgets = ui_widgets(module)
        sender, receiver = widgets[connection.findtext("sender")], widgets[connection.findtext("receiver")]
        if not _has(sender.get("class"), "signals", connection.findtext("signal")):
            problems.append(f"connection: {sender.get('class')} has no signal {connection.findtext('signal')}")
        slot = connection.findtext("slot").split("(")[0]
        if not _has(receiver.get("class"), "members", slot):
            problems.append(f"connection: {receiver.get('class')} has no slot {connection.findtext('slot')}")
    assert not problems, f"{module}.ui uses names Slicer 5.8/5.10 do not have: {problems}"


@pytest.mark.parametrize("module", MODULES)
def test_widget_members_used_from_python_exist(module):
    classes = {name: widget.get("class") for name, widget in ui_widgets(module).items()}
    source = module_source(module)
    problems = sorted({f"self.ui.{name}.{member} ({classes[name]})"
                       for name, member in re.findall(r"self\.ui\.(\w+)\.(\w+)", source)
                       if name in classes and not _has(classes[name], "members", member)})
    problems += sorted({f"ctk.{cls}.{member}" for cls, member in re.findall(r"\bctk\.(ctk\w+)\.(\w+)", source)
                        if not _has(cls, "members", member)})
    assert not problems, f"{module}.py uses widget members not recorded for Slicer 5.8/5.10: {problems}"


# ----------------------------------------- 10. every shipped .py compiles under Python 3.9

def _python39() -> str | None:
    candidates = [shutil.which("python3.9"), *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.9*/bin/python3.9"))]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 9)"],
                                        capture_output=True).returncode == 0:
            return candidate
    return None


def shipped_python_files() -> list[Path]:
    return [REPO / module / entry for module in MODULES for entry in cmake_list(module, "MODULE_PYTHON_SCRIPTS")]


def test_shipped_files_compile_under_python39():
    python39 = _python39()
    if python39 is None:
        pytest.skip("no Python 3.9 interpreter found (python3.9 on PATH or ~/.pyenv/versions/3.9*): "
                    "the 3.9 syntax is still checked by ast (test_parses_as_python39)")
    script = ("import sys\nbad = []\nfor path in sys.argv[1:]:\n"
              "    try:\n        compile(open(path, encoding='utf-8').read(), path, 'exec')\n"
              "    except SyntaxError as error:\n        bad.append(f'{path}:{error.lineno}: {error.msg}')\n"
              "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n")
    files = [str(path) for path in shipped_python_files()]
    result = subprocess.run([python39, "-c", script, *files], capture_output=True, text=True)
    assert result.returncode == 0, f"these shipped files do not compile under Python 3.9 (Slicer 5.8):\n{result.stdout}{result.stderr}"


# --------------------------------------------------- 11. the ExtensionsIndex catalog entry

#: Facts of Slicer's Schemas/slicer-extension-catalog-entry-schema-v1.0.1.json (additionalProperties
#: false) and of ExtensionsIndex scripts/check_description_files.py.
CATALOG_SCHEMA_URL = "https://raw.githubusercontent.com/Slicer/Slicer/main/Schemas/slicer-extension-catalog-entry-schema-v1.0.1.json#"
CATALOG_REQUIRED = ("$schema", "category", "scm_url")
CATALOG_TYPES = {"$schema": str, "category": str, "scm_url": str, "scm_revision": str, "scm_type": str,
                 "build_dependencies": list, "build_subdirectory": str, "enabled": bool, "tier": int}


def test_catalog_entry_matches_the_schema_and_the_index_checks():
    path = REPO / "Utilities" / "RadiomicsResponse.json"
    entry = json.loads(path.read_text(encoding="utf-8"))
    project = re.search(r"^project\((\w+)\)", (REPO / "CMakeLists.txt").read_text(encoding="utf-8"), re.MULTILINE).group(1)
    assert path.stem == project, f"the catalog file must be named after project({project})"
    assert not project.lower().startswith("slicer"), "the extension name must not start with 'Slicer' (ExtensionsIndex rule)"
    missing = [key for key in CATALOG_REQUIRED if key not in entry]
    assert not missing, f"{rel(path)} lacks required keys {missing}"
    unknown = sorted(set(entry) - set(CATALOG_TYPES))
    assert not unknown, f"{rel(path)}: keys not allowed by the schema (additionalProperties false): {unknown}"
    wrong = {key: type(value).__name__ for key, value in entry.items() if type(value) is not CATALOG_TYPES[key]}
    assert not wrong, f"{rel(path)}: wrong value types {wrong}"
    assert entry["$schema"] == CATALOG_SCHEMA_URL
    assert entry.get("scm_type", "git") in ("git", "local")
    assert 1 <= entry.get("tier", 1) <= 5
    assert all(isinstance(item, str) for item in entry.get("build_dependencies", []))
    assert entry.get("build_subdirectory", ".") == ".", "a plain scripted extension builds in '.' (no superbuild)"
    cmake = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    assert entry["category"] == re.search(r'set\(EXTENSION_CATEGORY "([^"]+)"\)', cmake).group(1)
    assert entry["category"] in ("Quantification", "Informatics", "Analysis"), "use a category the index accepts"
    homepage = re.search(r'set\(EXTENSION_HOMEPAGE "([^"]+)"\)', cmake).group(1)
    assert entry["scm_url"] == homepage + ".git" and entry["scm_url"].startswith("https://")
    assert Path(entry["scm_url"]).stem.startswith("Slicer"), "the git repository name must start with 'Slicer'"
    assert (REPO / "LICENSE.txt").is_file(), "the index requires a LICENSE file at the repository root"


# ------------------------------------- 12. module files: template classes, helpers elsewhere

SLICER_HELPER_CALLS = ("pip_install", "pip_ensure", "registerCustomSampleDataSource", "reload", "distributions")


@pytest.mark.parametrize("module", MODULES)
def test_slicer_helpers_live_in_the_shared_package(module):
    tree = module_tree(module)
    calls = sorted({f"line {node.lineno}: {getattr(node.func, 'attr', getattr(node.func, 'id', ''))}"
                    for node in ast.walk(tree) if isinstance(node, ast.Call)
                    and getattr(node.func, "attr", getattr(node.func, "id", "")) in SLICER_HELPER_CALLS})
    assert not calls, (f"{module}.py installs, reloads or registers sample data itself; those helpers live in "
                       f"ResponseSignature/RadiomicsResponseSlicerUtils: {calls}")
    functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert set(functions) <= {"registerSampleData", "_shippedPresets"}, \
        f"{module}.py defines module-level functions {functions}: module files hold the template classes"


# --------------------------------------------- 13. the README walks through every module

INPUT_CLASSES = ("qMRMLNodeComboBox", "qMRMLCheckableNodeComboBox", "ctkPathLineEdit", "QComboBox", "QLineEdit",
                 "QSpinBox", "QDoubleSpinBox")


def ui_settings(module: str) -> list[str]:
    """Texts of the form labels of every input widget of the module's .ui (one form row: label, input)."""
    labels = []
    for layout in ui_root(module).iter("layout"):
        rows: dict[str, dict[str, ET.Element]] = {}
        for item in layout.findall("item"):
            widget = item.find("widget")
            if widget is not None and item.get("row") is not None:
                rows.setdefault(item.get("row"), {})[item.get("column", "0")] = widget
        for row in rows.values():
            label, field = row.get("0"), row.get("1")
            if label is not None and field is not None and label.get("class") == "QLabel" and field.get("class") in INPUT_CLASSES:
                text = label.find("property[@name='text']/string").text
                labels.append(text.rstrip(":").strip())
    return labels


def test_readme_walks_through_every_module_and_setting():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "## Using it in 3D Slicer" in readme, "README.md needs the section 'Using it in 3D Slicer'"
    section = readme.split("## Using it in 3D Slicer", 1)[1].split("\n## ", 1)[0]
    for step in ("Extensions Manager", "Segment Editor", "Apply", "waterfall", "Aggregate", "Compute risk"):
        assert step in section, f"README 'Using it in 3D Slicer' does not mention {step}"
    for module in MODULES:
        title = re.search(r'parent\.title = _\("([^"]+)"\)', module_source(module)).group(1)
        assert f"**{title}**" in section, f"README 'Using it in 3D Slicer' does not present the module {title}"
        missing = [label for label in ui_settings(module) if label not in section]
        assert not missing, f"README 'Using it in 3D Slicer' does not explain these {title} settings: {missing}"
    assert "Resources/Screenshots/SlicerWorkflow.png" in section


# ------------------------------------------------------------------------- fixing the lists by hand

def _write_cmake_lists(module: str) -> bool:
    """Rewrite MODULE_PYTHON_SCRIPTS / MODULE_PYTHON_RESOURCES of <module>/CMakeLists.txt from the folder."""
    path = module_dir(module) / "CMakeLists.txt"
    text = path.read_text(encoding="utf-8")
    files = shipped_files(module)
    main_resources = [f"Resources/Icons/{module}.png", f"Resources/UI/{module}.ui", f"Resources/{module}Requirements.txt"]
    scripts = [f"{module}.py"] + sorted(f for f in files if f.endswith(".py") and f != f"{module}.py")
    resources = [r for r in main_resources if r in files] + sorted(f for f in files if not f.endswith(".py") and f not in main_resources)

    def entry(item: str) -> str:
        if item == f"{module}.py":
            return "${MODULE_NAME}.py"
        if item.startswith(f"{module}Lib/"):
            return "${MODULE_NAME}Lib/" + item[len(module) + len("Lib/"):]
        if item in main_resources:
            return item.replace(f"/{module}.", "/${MODULE_NAME}.").replace(f"/{module}Requirements.", "/${MODULE_NAME}Requirements.")
        return item

    def entries(items):
        return "".join(f"  {entry(item)}\n" for item in items)

    new = re.sub(r"set\(MODULE_PYTHON_SCRIPTS\n.*?  \)", lambda m: f"set(MODULE_PYTHON_SCRIPTS\n{entries(scripts)}  )", text, flags=re.DOTALL)
    new = re.sub(r"set\(MODULE_PYTHON_RESOURCES\n.*?  \)", lambda m: f"set(MODULE_PYTHON_RESOURCES\n{entries(resources)}  )", new, flags=re.DOTALL)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    # python Testing/slicer_modules/test_static.py --fix-cmake-lists : list every shipped file in the modules' CMakeLists.txt
    import sys

    if sys.argv[1:] == ["--fix-cmake-lists"]:
        for name in MODULES:
            print(f"{name}/CMakeLists.txt:", "updated" if _write_cmake_lists(name) else "already complete")
    else:
        print("usage: python Testing/slicer_modules/test_static.py --fix-cmake-lists   (the checks themselves run under pytest)")
