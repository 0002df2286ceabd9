"""Draw a flat router graph with Graphviz.

Elements are boxes labelled with name and class; an edge names its ports
when they are not 0. When the graph has been checked, pull connections are
dashed, so the push/pull boundaries (queues) stand out.
"""
from __future__ import annotations

import shutil
import subprocess

from clickpy.plan import ElementPorts
from clickpy.graph.flatgraph import FlatGraph
from clickpy.graph.ports import PULL


def _quote(s: str) -> str:
    """A DOT string literal; a newline becomes DOT's line break."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: FlatGraph, ports: list[ElementPorts] | None = None, title: str = "router") -> str:
    lines = [
        f"digraph {_quote(title)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    # Elements of a compound (named 'compound/inner') are drawn inside a
    # cluster per compound, nested as the compounds were.
    tree: dict = {}
    for e in graph.elements:
        node = tree
        for part in e.name.split("/")[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(None, []).append(e)
    _draw_cluster(tree, "", lines, "  ")
    for f, fp, t, tp in graph.connections:
        attrs = []
        if fp:
            attrs.append(f'taillabel="{fp}"')
        if tp:
            attrs.append(f'headlabel="{tp}"')
        if ports is not None and ports[t].inputs and ports[t].inputs[tp] == PULL:
            attrs.append("style=dashed")
        attr_text = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_quote(graph.elements[f].name)} -> {_quote(graph.elements[t].name)}{attr_text};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _draw_cluster(node: dict, prefix: str, lines: list[str], indent: str) -> None:
    for e in node.get(None, []):
        short = e.name[len(prefix):]
        label = short if short.startswith(e.class_name + "@") else f"{short}\n:: {e.class_name}"
        lines.append(f"{indent}{_quote(e.name)} [label={_quote(label)}];")
    for part, child in node.items():
        if part is None:
            continue
        path = prefix + part
        lines.append(f"{indent}subgraph {_quote('cluster_' + path)} {{")
        lines.append(f'{indent}  label={_quote(path)}; style="rounded,dashed"; fontname="Helvetica"; fontsize=10;')
        _draw_cluster(child, path + "/", lines, indent + "  ")
        lines.append(f"{indent}}}")


FORMATS = ("dot", "svg", "png", "pdf")


class GraphvizMissing(RuntimeError):
    pass


def render(dot_text: str, fmt: str) -> bytes:
    """Run Graphviz's dot to produce svg, png or pdf."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing(
            "Graphviz 'dot' is not installed (Debian: apt-get install graphviz); "
            "'.dot' output works without it"
        )
    proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
