"""``clickpy doc``: an element class's manual, from its own declaration.

    clickpy doc Counter        # synopsis, ports, processing, arguments, handlers, description
    clickpy doc                # every class, by family, with its one-line summary

Everything printed comes from the class: its port count, processing code,
``arguments`` and ``handlers`` declarations, and the Click-style sections of
its docstring (=c synopsis, =s summary, =d description, =h handlers, =e
example), as Click's manual pages and BESS's ``show mclass`` do.
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from types import SimpleNamespace

from clickpy.runtime import registry

_PROCESSING = {"h": "push", "l": "pull", "a": "agnostic"}


def sections(doc: str | None) -> dict[str, str]:
    """A docstring's =c/=s/=d/=h/=e sections, each as dedented text; a
    section given several times (one =h per handler) keeps every one."""
    entries: dict[str, list[tuple[str, list[str]]]] = {}
    body: list[str] | None = None
    for line in textwrap.dedent(doc or "").splitlines():
        stripped = line.strip()
        if stripped[:1] == "=" and stripped[1:2].isalpha() and (len(stripped) == 2 or stripped[2] == " "):
            body = []
            entries.setdefault(stripped[1], []).append((stripped[3:], body))
        elif body is not None:
            body.append(line)
    out = {}
    for k, items in entries.items():
        texts = []
        for head, lines in items:
            text = textwrap.dedent("\n".join(lines)).strip()
            texts.append("\n".join(x for x in (head, text) if x))
        out[k] = "\n".join(texts)
    return out


def _summary(doc: dict[str, str]) -> tuple[str, str]:
    """Click's '=s category' line and the one-line summary under it."""
    lines = doc.get("s", "").splitlines()
    if len(lines) > 1:
        return lines[0].strip(), " ".join(x.strip() for x in lines[1:])
    return "", lines[0].strip() if lines else ""


def family(cls) -> str:
    parts = cls.__module__.split(".")
    return parts[2] if len(parts) > 3 and parts[:2] == ["clickpy", "elements"] else cls.__module__


def _processing_text(code: str) -> str:
    sides = code.split("/")
    if len(sides) == 1:
        sides = sides * 2
    words = []
    for side, what in zip(sides, ("inputs", "outputs")):
        kinds = ", ".join(_PROCESSING.get(c, c) for c in side)
        words.append(f"{what} {kinds}")
    return "; ".join(words)


def _arguments_text(cls) -> list[str]:
    """One line per declared argument: keyword, how it is given, its default and note.

    A keyword an earlier stage reads is shadowed (never reached) and left
    out; synonyms show the default of the attribute they set.
    """
    args = getattr(cls, "arguments", ()) or ()
    defaults: dict[str, object] = {}
    for a in args:
        if not a.rest and defaults.get(a.attribute) is None:
            defaults[a.attribute] = a.default
    lines, seen = [], set()
    for a in sorted(args, key=lambda a: (a.rest, a.stage)):
        if a.keyword in seen:
            continue
        seen.add(a.keyword)
        if a.rest:
            name, kind, need = f"{a.keyword}...", "the rest of the arguments", ""
        else:
            name = a.keyword
            kind = "positional or keyword" if a.positional else "keyword"
            default = defaults.get(a.attribute)
            need = ", mandatory" if a.mandatory else (f", default {default!r}" if default is not None else "")
            if a.default_from:
                need += f" (when missing, read from {a.default_from})"
        line = f"  {name:<18} {kind}{need}"
        if a.doc:
            line += f" — {a.doc}"
        lines.append(line)
    return lines


def describe(name: str) -> str:
    from clickpy.runtime.handlers import generic_handlers

    cls = registry.lookup(name)
    if cls is None:
        raise KeyError(name)
    doc = sections(cls.__doc__)
    category, summary = _summary(doc)
    out = [f"{name} — {summary}" if summary else name]
    if doc.get("c"):
        out += ["", "  " + doc["c"].replace("\n", "\n  ")]
    out += ["", f"family:      {family(cls)}" + (f" (Click's category: {category})" if category else "")]
    if getattr(cls, "port_count", None):
        out.append(f"ports:       {cls.port_count} (inputs/outputs)")
    if getattr(cls, "processing", None):
        out.append(f"processing:  {cls.processing} ({_processing_text(cls.processing)})")
    if getattr(cls, "flow_code", None):
        out.append(f"flow code:   {cls.flow_code}")
    args = _arguments_text(cls)
    if args:
        out += ["", "arguments:"] + args
    handlers = [(h.name, h.flags()) for h in getattr(cls, "handlers", ()) or ()]
    generic = [h.name for h in generic_handlers(SimpleNamespace(task=None))]
    if handlers:
        out += ["", "handlers:"] + [f"  {n:<18} {f}" for n, f in handlers]
    out.append(f"  (and every element's: {', '.join(generic)})")
    if doc.get("d"):
        out += ["", textwrap.indent(doc["d"], "  ")]
    if doc.get("h"):
        out += ["", "handler notes:", textwrap.indent(doc["h"], "  ")]
    if doc.get("e"):
        out += ["", "example:", textwrap.indent(doc["e"], "  ")]
    return "\n".join(out) + "\n"


def listing() -> str:
    by_family: dict[str, list[tuple[str, str]]] = {}
    for name, cls in sorted(registry.element_classes().items()):
        if cls.__module__.startswith("clickpy.runtime."):
            continue  # bases for writing elements, not elements
        by_family.setdefault(family(cls), []).append((name, _summary(sections(cls.__doc__))[1]))
    out = []
    for fam in sorted(by_family):
        out.append(f"{fam}:")
        for name, summary in by_family[fam]:
            out.append(f"  {name:<24} {summary}")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="clickpy doc", description="Print an element class's documentation.")
    p.add_argument("classes", nargs="*", metavar="CLASS")
    ns = p.parse_args(argv)
    if not ns.classes:
        sys.stdout.write(listing())
        return 0
    status = 0
    for i, name in enumerate(ns.classes):
        try:
            text = describe(name)
        except KeyError:
            from clickpy.graph import catalog

            close = catalog.closest_names(name)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            spec = catalog.lookup(name)
            if spec is not None and not spec.implemented:
                print(f"clickpy doc: '{name}' is a Click element class that clickpy does not implement yet",
                      file=sys.stderr)
            else:
                print(f"clickpy doc: no element class '{name}'{hint}", file=sys.stderr)
            status = 1
            continue
        sys.stdout.write(("\n" if i else "") + text)
    return status
