"""Build glue that pyproject.toml cannot express on its own.

The element library lives in the top-level ``elements/`` folder but is
installed as ``clickpy.elements``; Cython extensions are collected from every
``.pyx`` file in both trees. A failed Cython build is an error: there is no
silent fallback to slow code.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def packages():
    core = [p for p in find_packages(include=["clickpy", "clickpy.*"])]
    elements = ["clickpy.elements"] + [
        "clickpy.elements." + p for p in find_packages("elements")
    ]
    netmap = ["clickpy.netmap_shim"] + [
        "clickpy.netmap_shim." + p for p in find_packages("netmap_shim")
    ]
    return core + elements + netmap


def extensions():
    pyx = sorted(
        str(p.relative_to(HERE))
        for top in ("clickpy", "elements", "netmap_shim")
        for p in (HERE / top).rglob("*.pyx")
    )
    if not pyx:
        return []
    import numpy
    from Cython.Build import cythonize
    from setuptools import Extension

    exts = []
    for src in pyx:
        parts = Path(src).with_suffix("").parts
        if parts[0] != "clickpy":
            parts = ("clickpy",) + parts
        exts.append(Extension(".".join(parts), [src], include_dirs=[numpy.get_include()]))
    return cythonize(
        exts,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


setup(
    packages=packages(),
    package_dir={
        "clickpy": "clickpy",
        "clickpy.elements": "elements",
        "clickpy.netmap_shim": "netmap_shim",
    },
    package_data={"clickpy": ["graph/*.tsv"], "": ["*.pxd"]},
    ext_modules=extensions(),
)
