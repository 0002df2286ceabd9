"""The syntax tree of a Click configuration, as written.

Nodes record what the user wrote, not what it means: whether a bare
identifier names an element or a class is decided by elaboration, which
knows the declarations and classes in scope. Every node has a landmark.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from clickpy.errors import Landmark


@dataclass(slots=True)
class Ports:
    """A port list such as ``[0]``, ``[1, 3]``, ``[0-2]`` or ``[2-]``.

    ``expandable`` marks a list that ends with '-' or is empty (``[]``): in a
    many-to-many connection it grows to fill the other side.
    """

    numbers: list[int]
    expandable: bool
    landmark: Landmark


@dataclass(slots=True)
class Name:
    """A bare identifier, optionally with a configuration: ``x`` or ``Class(config)``."""

    name: str
    config: str | None
    landmark: Landmark


@dataclass(slots=True)
class Declaration:
    """``name :: Class(config)`` where Class is a name or a compound ``{...}``."""

    name: str
    element_class: str | CompoundClass
    config: str | None
    landmark: Landmark
    class_landmark: Landmark


@dataclass(slots=True)
class AnonymousCompound:
    """A compound class used in place: ``{ ... }(config)``."""

    compound: CompoundClass
    config: str | None
    landmark: Landmark


@dataclass(slots=True)
class Group:
    """An element group ``( statements )``; it shares the enclosing scope."""

    statements: list[Statement]
    landmark: Landmark
    end_landmark: Landmark


@dataclass(slots=True)
class Implicit:
    """An ``input`` or ``output`` left out at the start or end of a connection."""

    which: str  # "input" or "output"
    landmark: Landmark


Target = Name | Declaration | AnonymousCompound | Group | Implicit


@dataclass(slots=True)
class ElementRef:
    """One item of a comma list in a connection: ``[in] target [out]``."""

    inputs: Ports | None
    target: Target
    outputs: Ports | None
    landmark: Landmark


@dataclass(slots=True)
class Connection:
    """A declaration or connection statement.

    ``sets`` are the comma lists between arrows; ``arrows`` are '->' or '=>'
    (one fewer than sets, or equal when the statement ends in an arrow).
    """

    sets: list[list[ElementRef]]
    arrows: list[str]
    landmark: Landmark


@dataclass(slots=True)
class Formal:
    """A compound parameter: ``$name``, ``KEYWORD $name`` or ``__REST__ $name``."""

    keyword: str  # "" for positional
    name: str
    landmark: Landmark


@dataclass(slots=True)
class CompoundBody:
    formals: list[Formal]
    statements: list[Statement]
    landmark: Landmark


@dataclass(slots=True)
class CompoundClass:
    """``{ body || body || ... }``; ``extends`` is set by a final ``|| ...``."""

    bodies: list[CompoundBody]
    extends: bool
    landmark: Landmark
    end_landmark: Landmark


@dataclass(slots=True)
class ElementClass:
    """``elementclass Name { ... }`` or the synonym form ``elementclass Name Other``."""

    name: str
    definition: str | CompoundClass
    landmark: Landmark
    definition_landmark: Landmark


@dataclass(slots=True)
class Requirement:
    """One item of a ``require(...)``: kind is "package", "library" or "compact_config"."""

    kind: str
    value: str
    landmark: Landmark
    library: Program | None = None  # the parsed file, for the first inclusion of a library


@dataclass(slots=True)
class Require:
    config: str
    requirements: list[Requirement]
    landmark: Landmark
    keyword: str = "require"  # "require" or "provide"


@dataclass(slots=True)
class Define:
    """``define($a 1, $b 2)``: parameters of the enclosing scope."""

    config: str
    definitions: list[tuple[str, str, Landmark]]
    landmark: Landmark


Statement = Connection | ElementClass | Require | Define


@dataclass(slots=True)
class Program:
    statements: list[Statement]
    filename: str
    landmark: Landmark = field(default_factory=lambda: Landmark("config", 1, 1))
