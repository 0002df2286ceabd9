"""Which element classes exist, and what each declares about its ports.

Two sources, in order:

1. classes clickpy implements: each element class declares its port count,
   processing and flow code once, on the class (see clickpy.runtime.registry);
2. the classes of the Click modular router (``click_classes.tsv``), so that a
   Click class clickpy has not implemented yet is reported as such, by name,
   rather than as an unknown name.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from clickpy.graph.ports import PortCount, parse_port_count, parse_processing


@dataclass(frozen=True, slots=True)
class ClassSpec:
    name: str
    port_count: str | None  # Click notation, None when unknown
    processing: str | None
    flow_code: str | None = None
    implemented: bool = False

    @property
    def ports(self) -> PortCount | None:
        return _parsed_port_count(self.port_count) if self.port_count else None

    @property
    def processing_codes(self) -> tuple[list[str], list[str]] | None:
        return parse_processing(self.processing) if self.processing else None


@cache
def _parsed_port_count(spec: str) -> PortCount:
    return parse_port_count(spec)


_specs: dict[type, ClassSpec] = {}


def _implemented(name: str) -> ClassSpec | None:
    """The declaration of an element class clickpy implements, read off the class."""
    from clickpy.runtime import registry

    cls = registry.lookup(name)
    if cls is None:
        return None
    spec = _specs.get(cls)
    if spec is None:
        spec = ClassSpec(name, cls.port_count, cls.processing, cls.flow_code, implemented=True)
        _specs[cls] = spec
    return spec


@cache
def _click_classes() -> dict[str, ClassSpec]:
    table: dict[str, ClassSpec] = {}
    path = Path(__file__).with_name("click_classes.tsv")
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, ports, processing = (line.split("\t") + ["", ""])[:3]
        table[name] = ClassSpec(name, ports or None, processing or None)
    return table


def lookup(name: str) -> ClassSpec | None:
    """The declaration of class name, or None if no such class is known."""
    return _implemented(name) or _click_classes().get(name)


def is_known(name: str) -> bool:
    """Is name a class (without loading it: elaboration only needs to know)."""
    from clickpy.runtime import registry

    return registry.is_defined(name) or name in _click_classes()


def is_implemented(name: str) -> bool:
    return _implemented(name) is not None


def known_names() -> list[str]:
    from clickpy.runtime import registry

    return sorted(set(registry.element_classes()) | set(_click_classes()))


def closest_names(name: str, extra: list[str] = (), n: int = 3) -> list[str]:
    """Known class names (and extra names) that look like name, best first."""
    candidates = known_names() + list(extra)
    close = difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)
    if not close:
        lower = {c.lower(): c for c in candidates}
        close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.6)]
    return close
