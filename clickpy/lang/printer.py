"""Print a syntax tree back as Click source.

The output parses to the same tree (up to landmarks and the spelling of
implicit ``input``/``output``, which are written out) and so elaborates to
the same router graph. Configuration strings are printed exactly as written.
"""
from __future__ import annotations

from clickpy.lang import ast

INDENT = "  "


def unparse(program: ast.Program) -> str:
    """Click source for a whole program."""
    return "".join(_statement(s, "") for s in program.statements)


def _ports(p: ast.Ports | None) -> str:
    if p is None:
        return ""
    if p.expandable and p.numbers == [0]:
        return "[]"
    text = ", ".join(str(n) for n in p.numbers)
    return f"[{text}{'-' if p.expandable else ''}]"


def _config(config: str | None) -> str:
    return "" if config is None else f"({config})"


def _compound(c: ast.CompoundClass, indent: str) -> str:
    inner = indent + INDENT
    parts = []
    for body in c.bodies:
        formals = ", ".join(
            f"{f.keyword + ' ' if f.keyword else ''}${f.name}" for f in body.formals
        )
        lines = [inner + formals + " |\n"] if body.formals else []
        lines += [_statement(s, inner) for s in body.statements]
        parts.append("".join(lines))
    if c.extends:
        parts.append(inner + "...\n")
    return "{\n" + (indent + "||\n").join(parts) + indent + "}"


def _target(t: ast.Target, indent: str) -> str:
    if isinstance(t, ast.Name):
        return t.name + _config(t.config)
    if isinstance(t, ast.Declaration):
        cls = t.element_class
        cls_text = cls if isinstance(cls, str) else _compound(cls, indent)
        return f"{t.name} :: {cls_text}{_config(t.config)}"
    if isinstance(t, ast.AnonymousCompound):
        return _compound(t.compound, indent) + _config(t.config)
    if isinstance(t, ast.Group):
        inner = indent + INDENT
        body = "".join(_statement(s, inner) for s in t.statements)
        return "(\n" + body + indent + ")"
    return t.which  # Implicit: written out explicitly


def _element(e: ast.ElementRef, indent: str) -> str:
    text = _target(e.target, indent)
    if e.inputs is not None:
        text = _ports(e.inputs) + " " + text
    if e.outputs is not None:
        text = text + " " + _ports(e.outputs)
    return text


def _statement(s: ast.Statement, indent: str) -> str:
    if isinstance(s, ast.Connection):
        pieces = []
        for i, items in enumerate(s.sets):
            pieces.append(", ".join(_element(e, indent) for e in items))
            if i < len(s.arrows):
                pieces.append(s.arrows[i])
        return indent + " ".join(pieces) + ";\n"
    if isinstance(s, ast.ElementClass):
        d = s.definition
        text = d if isinstance(d, str) else _compound(d, indent)
        return f"{indent}elementclass {s.name} {text}\n"
    if isinstance(s, ast.Require):
        return f"{indent}{s.keyword}({s.config});\n"
    if isinstance(s, ast.Define):
        return f"{indent}define({s.config});\n"
    raise TypeError(f"not a statement: {s!r}")
