"""Which element classes exist: every subclass of Element that is not abstract.

The class name is the configuration name is the registry key. Importing the
element library (``clickpy.elements``) or a user package named in
``require(package ...)`` is all it takes to register classes.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

_library_loaded = False
_cache: dict[str, type] | None = None
_cache_size = -1


def _load_library() -> None:
    global _library_loaded
    if not _library_loaded:
        _library_loaded = True
        importlib.import_module("clickpy.elements")


def _all_subclasses(cls) -> list[type]:
    out, stack = [], [cls]
    while stack:
        c = stack.pop()
        for sub in c.__subclasses__():
            out.append(sub)
            stack.append(sub)
    return out


def element_classes() -> dict[str, type]:
    """All registered element classes by name (later definitions win)."""
    global _cache, _cache_size
    _load_library()
    from clickpy.runtime.element import Element

    subs = _all_subclasses(Element)
    if _cache is None or len(subs) != _cache_size:
        # Library classes first, then user classes: a user class of the same
        # name deliberately replaces the library's.
        library = [c for c in subs if c.__module__.startswith("clickpy.")]
        user = [c for c in subs if not c.__module__.startswith("clickpy.")]
        _cache = {c.__name__: c for c in library + user if not c.__dict__.get("abstract", False)}
        _cache_size = len(subs)
    return _cache


def lookup(name: str) -> type | None:
    return element_classes().get(name)


def import_family(package: str, path) -> None:
    """Import every module of an element package (a family, or the library)."""
    import pkgutil

    for info in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{info.name}")


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
