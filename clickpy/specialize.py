"""The specialize stage: a checked Plan -> Cython source made for that one graph.

The generic path runs any graph: each element walks its configuration as
data. This stage writes, for one Plan, a Cython module whose C has that
graph's decisions built in; ``clickpy.spec_cache`` compiles it (once per
Plan) and ``install`` hands its functions to a running router's elements.

What is specialised today: the decision tree of each Classifier,
IPClassifier and IPFilter. Its fast walk becomes straight-line C, as Click's
click-fastclassifier does: one block per step, the offset, mask and values
as constants, each branch a jump to the next block or a return of the
output. The generic walk loads every step's fields from memory and follows
a pointer to the next step; the C compiler lays the specialised one out as
a chain of compare-and-branch instructions.

Safety does not depend on the cache: each function carries the fingerprint
of the program it was made from, and an element takes it only while its own
program is still that one (clickpy.runtime.fast_walk). A stale module, or
an element reconfigured since, keeps the generic walk.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from clickpy.plan import Plan
from clickpy.runtime.fast_walk import FAST_WALK_CAPSULE, walk_fingerprint


@dataclass
class Walk:
    """One element's fast walk, as generate() writes it."""
    element: str        # the element's name in the graph
    function: str       # the C function's name in the module
    fingerprint: str    # of the program it was made from (fast_walk.walk_fingerprint)


@dataclass
class Specialization:
    """The source of a specialised module, and what it holds."""
    plan_hash: str
    module: str                                 # the module's name (its .pyx file's stem)
    source: str                                 # Cython source
    walks: list[Walk] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing in the graph gains from a module of its own."""
        return not self.walks


def module_name(plan_hash: str) -> str:
    return f"clickpy_spec_{plan_hash[:24]}"


def fast_walks(plan: Plan, router=None) -> dict[str, tuple]:
    """Element name -> its fast walk (clickpy.runtime.fast_walk), for every element
    of plan that has one: read from router, a router of plan already built,
    else from a router configured here that opens nothing (Router.prepare):
    no device, file or socket is touched."""
    from clickpy.runtime.router import Router

    if router is not None:
        return _walks_of(router)
    router = Router(plan)
    try:
        router.prepare()
        return _walks_of(router)
    finally:
        router.cleanup()


def _walks_of(router) -> dict[str, tuple]:
    walks = {}
    for e in router.elements:
        fast_walk = getattr(e, "fast_walk", None)
        if fast_walk is not None:
            walk = fast_walk()
            if walk is not None:
                walks[e.name] = walk
    return walks


def generate(plan: Plan, router=None) -> Specialization:
    """The specialised module's source for plan (its walks read from router,
    a router of plan, when there is one: see fast_walks)."""
    plan_hash = plan.content_hash
    spec = Specialization(plan_hash, module_name(plan_hash), "")
    c_functions = []
    for i, (name, walk) in enumerate(sorted(fast_walks(plan, router).items())):
        function = f"clickpy_walk_{i}"
        spec.walks.append(Walk(name, function, walk_fingerprint(walk)))
        c_functions.append(walk_c(function, name, walk))
    spec.source = _module_source(spec, c_functions)
    return spec


def walk_c(function: str, element: str, walk: tuple) -> str:
    """Straight-line C for one fast walk (clickpy.runtime.fast_walk): a block
    per step; steps only lead forward, so the blocks run top to bottom."""
    lines = [f"/* {_comment(element)}: {len(walk)} steps */",
             f"static int {function}(const unsigned char **base) {{",
             "    uint32_t w;"]
    for i, (region, offset, mask, values, miss, hit) in enumerate(walk):
        lines.append(f"  s{i}:")
        lines.append(f"    w = clickpy_load(base[{region}] + {offset}) & {mask:#x}u;")
        if not values:
            lines.append(f"    {_branch(miss)}")
        elif len(values) == 1:
            lines.append(f"    if (w == {values[0]:#x}u) {_branch(hit)}")
            lines.append(f"    {_branch(miss)}")
        else:
            cases = " ".join(f"case {v:#x}u:" for v in sorted(set(values)))
            lines.append(f"    switch (w) {{ {cases} {_branch(hit)} default: {_branch(miss)} }}")
    lines.append("}")
    return "\n".join(lines)


def _branch(where: tuple) -> str:
    kind, n = where
    return f"goto s{n};" if kind == "step" else f"return {n};"


def _comment(text: str) -> str:
    # an element name goes into a C comment: it must not end it
    return text.replace("*/", "* /")


def _module_source(spec: Specialization, c_functions: list[str]) -> str:
    c_code = "\n\n".join(
        ["#include <stdint.h>", "#include <string.h>",
         "static inline uint32_t clickpy_load(const unsigned char *p) "
         "{ uint32_t w; memcpy(&w, p, 4); return w; }"] + c_functions)
    declarations = "\n".join(f"    int {w.function}(const unsigned char **base) noexcept nogil"
                             for w in spec.walks)
    entries = "\n".join(
        f"    {w.element!r}: ({w.fingerprint!r}, PyCapsule_New(<void *> {w.function}, CAPSULE, NULL)),"
        for w in spec.walks)
    return f'''# cython: language_level=3
"""Made by clickpy.specialize for the Plan {spec.plan_hash}; do not edit."""
from cpython.pycapsule cimport PyCapsule_New

cdef extern from *:
    """
{_indent(c_code, 4)}
    """
{declarations or "    pass"}

cdef const char *CAPSULE = b"{FAST_WALK_CAPSULE}"

PLAN_HASH = {spec.plan_hash!r}

# element name -> (fingerprint of its program, its fast walk in a capsule)
WALKS = {{
{entries}
}}
'''


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line else line for line in text.splitlines())


def install(router, module) -> dict:
    """Give router's elements the functions of a specialised module (made
    for router's Plan). Returns {"installed": [names], "refused": [names]}:
    an element refuses a function made for another program than its own,
    and one the router does not have is refused too."""
    done = {"installed": [], "refused": []}
    for name, (fingerprint, capsule) in module.WALKS.items():
        e = router.element(name)
        ok = e is not None and hasattr(e, "specialize") and e.specialize(capsule, fingerprint)
        done["installed" if ok else "refused"].append(name)
    return done


def describe(done: dict) -> str:
    """What install() did, in the words of the 'specialized' handler."""
    text = "installed: " + " ".join(done["installed"]) if done["installed"] else "nothing installed"
    if done["refused"]:
        text += " (refused: " + " ".join(done["refused"]) + ")"
    return text
