"""Landmarks and diagnostics shared by every compiler stage.

Every token, AST node and flat element carries a :class:`Landmark`
(``file:line:col``). Stages never stop at the first problem: they record
diagnostics in a :class:`Diagnostics` collector and carry on, so a user sees
every error in one pass, as Click reports all ``configure`` errors together.

Click's own tools print landmarks as ``file:line``. When clickpy stands in for
``click`` (the conformance runner sets ``CLICKPY_CLICK_COMPAT=1``), columns
are left out so that output matches Click byte for byte.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field


def click_compat() -> bool:
    """True when output must match Click's own tools exactly."""
    return os.environ.get("CLICKPY_CLICK_COMPAT", "") not in ("", "0")


@dataclass(frozen=True, slots=True)
class Landmark:
    """A place in a configuration: file name, 1-based line, 1-based column (0 = unknown)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        if self.col and not click_compat():
            return f"{self.file}:{self.line}:{self.col}"
        return f"{self.file}:{self.line}"


NOWHERE = Landmark("<unknown>")

# Up to this many ports with one problem get a line each, as Click prints
# them; more are named in one line as ranges, so that a port number in the
# tens of thousands cannot make tens of thousands of lines.
FEW_PORTS = 4


def port_list_text(ports: list[int]) -> str:
    """Sorted port numbers as ranges: [0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8'."""
    parts = []
    start = prev = None
    for p in ports:
        if prev is not None and p == prev + 1:
            prev = p
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = p
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


@dataclass(slots=True)
class Diagnostic:
    landmark: Landmark | None
    message: str
    severity: str = "error"  # "error", "warning" or "note"
    # Lines printed under the message without the landmark, as Click prints
    # an element's configure errors under "While configuring 'x :: C':".
    continuation: list[str] = field(default_factory=list)
    # What kind of problem: "class" for unknown or missing element classes
    # (Click finds those while reading a configuration), "" otherwise.
    category: str = ""

    def lines(self) -> list[str]:
        prefix = f"{self.landmark}: " if self.landmark is not None else ""
        tag = "warning: " if self.severity == "warning" else ""
        out = []
        for i, text in enumerate(self.message.split("\n")):
            out.append(f"{prefix}{tag if i == 0 else ''}{text}")
        return out + self.continuation

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass
class Diagnostics:
    """Collects errors and warnings from one or more stages."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, landmark: Landmark | None, message: str) -> None:
        self.items.append(Diagnostic(landmark, message, "error"))

    def warning(self, landmark: Landmark | None, message: str) -> None:
        self.items.append(Diagnostic(landmark, message, "warning"))

    def note(self, landmark: Landmark | None, message: str) -> None:
        """A follow-up line for the previous error (for example 'previously declared here')."""
        self.items.append(Diagnostic(landmark, message, "note"))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def nerrors(self) -> int:
        return sum(1 for d in self.items if d.severity == "error")

    def __bool__(self) -> bool:
        return self.nerrors > 0

    def format(self) -> str:
        return "\n".join(str(d) for d in self.items)

    def raise_if_errors(self) -> None:
        if self.nerrors:
            raise ConfigError(self)


class ConfigError(Exception):
    """A configuration could not be used; carries every diagnostic found.

    ``stage`` is "read" when the text itself is wrong (syntax, unknown
    classes) and "initialize" when a well-formed router could not be set up
    (wiring, element configuration): Click adds "Router could not be
    initialized!" only in the second case.
    """

    def __init__(self, diagnostics: Diagnostics | str, landmark: Landmark | None = None,
                 stage: str = "read"):
        if isinstance(diagnostics, str):
            d = Diagnostics()
            d.error(landmark, diagnostics)
            diagnostics = d
        self.diagnostics = diagnostics
        self.stage = stage
        super().__init__(diagnostics.format())
