"""Which element classes exist: every subclass of Element that is not abstract.

The class name is the configuration name is the registry key. Element
modules are imported when a configuration names one of their classes, not
all at start-up: an index of the library's sources (class name -> module,
read once, in a few milliseconds) says which module to import. A user package
named in ``require(package ...)`` registers its classes by being imported.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path

_families: list[tuple[str, list[str]]] = []  # element packages: (name, search path)
_all_imported = False
_index: dict[str, list[str]] | None = None  # class name -> modules that define it
_cache: dict[str, type] = {}
_cache_size = -1

_CLASS_RE = re.compile(r"^(?:cdef\s+)?class\s+([A-Z]\w*)\s*\(", re.M)


def import_family(package: str, path) -> None:
    """Record an element package (called from each family's __init__).

    Its modules are imported on demand, when a configuration needs them.
    """
    if not any(name == package for name, _ in _families):
        _families.append((package, list(path)))


def import_modules(package: str, path) -> None:
    """Import every module of a package now (for plug-ins that register on import)."""
    import pkgutil

    for info in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{info.name}")


def _library_index() -> dict[str, list[str]]:
    """Class name -> modules of the element library defining a class of that name."""
    global _index
    if _index is None:
        importlib.import_module("clickpy.elements")
        index: dict[str, list[str]] = {}
        i = 0
        while i < len(_families):  # importing a sub-package records it too
            package, path = _families[i]
            i += 1
            for folder in path:
                for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                    if entry.is_dir() and os.path.exists(os.path.join(entry.path, "__init__.py")):
                        importlib.import_module(f"{package}.{entry.name}")
                        continue
                    stem, ext = os.path.splitext(entry.name)
                    if ext not in (".py", ".pyx") or stem.startswith("_"):
                        continue
                    try:
                        text = Path(entry.path).read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
                    for name in _CLASS_RE.findall(text):
                        index.setdefault(name, []).append(f"{package}.{stem}")
        _index = index
    return _index


def _all_subclasses(cls) -> list[type]:
    out, stack = [], [cls]
    while stack:
        c = stack.pop()
        for sub in c.__subclasses__():
            out.append(sub)
            stack.append(sub)
    return out


def _imported_classes() -> dict[str, type]:
    """Element classes imported so far; user classes win over library ones."""
    global _cache, _cache_size
    from clickpy.runtime.element import Element

    subs = _all_subclasses(Element)
    if len(subs) != _cache_size:
        library = [c for c in subs if c.__module__.startswith("clickpy.")]
        user = [c for c in subs if not c.__module__.startswith("clickpy.")]
        _cache = {c.__name__: c for c in library + user if not c.__dict__.get("abstract", False)}
        _cache_size = len(subs)
    return _cache


def lookup(name: str) -> type | None:
    """The element class called name, importing its module if needed."""
    cls = _imported_classes().get(name)
    if cls is not None:
        return cls
    for module in _library_index().get(name, ()):
        importlib.import_module(module)
        cls = _imported_classes().get(name)
        if cls is not None:
            return cls
    return None


def is_defined(name: str) -> bool:
    """Does some element class have this name? (Does not import it.)"""
    return name in _imported_classes() or name in _library_index()


def element_classes() -> dict[str, type]:
    """Every element class (imports the whole library: for listings and suggestions)."""
    global _all_imported
    if not _all_imported:
        _all_imported = True
        for modules in list(_library_index().values()):
            for module in modules:
                try:
                    importlib.import_module(module)
                except ImportError:
                    # Listing only: a module that cannot load (not built) is
                    # reported when a configuration actually uses its class.
                    pass
    return _imported_classes()


def import_package(name: str, base_dir: str | None = None) -> None:
    """Import a package named in require(package NAME): a module name or a .py path.

    A relative path is looked up beside the configuration (base_dir) first,
    then in the current directory.
    """
    if name.endswith(".py") or "/" in name:
        path = Path(name)
        if not path.is_absolute() and base_dir and (Path(base_dir) / path).is_file():
            path = Path(base_dir) / path
        if not path.is_file():
            raise ImportError(f"no such file: {name}")
        module_name = "clickpy_user_" + path.stem
        if module_name in sys.modules:
            return
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return
    importlib.import_module(name)
