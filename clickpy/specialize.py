"""The specialize stage: a checked Plan -> Cython source made for that one graph.

The generic path runs any graph: each element walks its configuration as
data. This stage writes, for one Plan, a Cython module whose C has that
graph's decisions built in; ``clickpy.spec_cache`` compiles it (once per
Plan) and ``install`` hands its functions to a running router's elements.

What is specialised:

* The decision tree of each Classifier, IPClassifier and IPFilter. Its fast
  walk becomes straight-line C, as Click's click-fastclassifier does: one
  block per step, the offset, mask and values as constants, each branch a
  jump to the next block or a return of the output. The generic walk loads
  every step's fields from memory and follows a pointer to the next step;
  the C compiler lays the specialised one out as a chain of
  compare-and-branch instructions.
* Each push path, as far as the next element whose push it cannot see into
  (a Queue, a Tee, Discard, a device, a Python element), becomes one
  function (clickpy.runtime.fusion): one-in-one-out elements' actions and
  branches' decisions called in turn, each classifier's walk inlined, each
  hop a direct jump in the C instead of a call through the next element's
  push. A packet takes the same path through the same element code as on
  the generic path; what goes is the calls between elements. A batch has a
  function of its own (_ChainWriter.batch_body), so that what follows the
  path still gets batches.

Safety does not depend on the cache: each walk carries the fingerprint of
the program it was made from, and an element takes it only while its own
program is still that one (clickpy.runtime.fast_walk); a chain runs an
inlined walk only while the element holds that walk, else its generic one.
Chains go only into a router whose graph (elements, classes, connections)
is the one they were made for, and a hot reload takes them out before it
rewires anything.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from clickpy.plan import Plan
from clickpy.runtime.fast_walk import FAST_WALK_CAPSULE, walk_fingerprint
from clickpy.runtime.fusion import CHAIN_BATCH_CAPSULE, CHAIN_CAPSULE


@dataclass
class Walk:
    """One element's fast walk, as generate() writes it."""
    element: str        # the element's name in the graph
    function: str       # the C function's name in the module
    fingerprint: str    # of the program it was made from (fast_walk.walk_fingerprint)


@dataclass
class Chain:
    """One fused push path, as generate() writes it: it enters at the push
    output `port` of `upstream` and reaches elements[i] as els[i]."""
    upstream: str
    port: int
    function: str
    elements: list[str]


@dataclass
class Specialization:
    """The source of a specialised module, and what it holds."""
    plan_hash: str
    module: str                                 # the module's name (its .pyx file's stem)
    source: str                                 # Cython source
    walks: list[Walk] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    graph: str = ""                             # graph_fingerprint of the router the chains were made for
    chain_kinds: set = field(default_factory=set)  # the fuse kinds the chains use (what to cimport)

    @property
    def empty(self) -> bool:
        """Nothing in the graph gains from a module of its own."""
        return not self.walks and not self.chains


def module_name(plan_hash: str) -> str:
    """The module of a Plan, as this clickpy makes it: the name (and so the
    cache entry) changes with the generator and with the class layouts the
    chains reach into, so a module made by another clickpy is never loaded."""
    return f"clickpy_spec_{hashlib.sha256((plan_hash + _generator_fingerprint()).encode()).hexdigest()[:24]}"


@functools.cache
def _generator_fingerprint() -> str:
    import clickpy.elements
    import clickpy.runtime

    runtime, elements = Path(clickpy.runtime.__file__).parent, Path(clickpy.elements.__file__).parent
    digest = hashlib.sha256()
    for path in (Path(__file__), runtime / "element.pxd", runtime / "packet.pxd", runtime / "branch.pxd",
                 runtime / "fusion.pxd",
                 elements / "standard" / "classifier.pxd", elements / "ip" / "ip_filter.pxd"):
        digest.update(path.read_bytes() if path.exists() else path.name.encode())
    return digest.hexdigest()


def _walks_of(router) -> dict[str, tuple]:
    """Element name -> its fast walk (clickpy.runtime.fast_walk), for every
    element of router that has one."""
    walks = {}
    for e in router.elements:
        fast_walk = getattr(e, "fast_walk", None)
        if fast_walk is not None:
            walk = fast_walk()
            if walk is not None:
                walks[e.name] = walk
    return walks


def generate(plan: Plan, router=None) -> Specialization:
    """The specialised module's source for plan, read from router (a router
    of plan already built), else from a router configured here that opens
    nothing (Router.prepare): no device, file or socket is touched."""
    from clickpy.runtime.router import Router

    if router is not None:
        return _generate(plan, router)
    router = Router(plan)
    said = len(plan.diagnostics.items)
    try:
        router.prepare()
        return _generate(plan, router)
    finally:
        router.cleanup()
        # What this router's elements reported (a Message's text) is the real
        # router's to report when it is built: the Plan's diagnostics are shared.
        del plan.diagnostics.items[said:]


def _generate(plan: Plan, router) -> Specialization:
    plan_hash = plan.content_hash
    spec = Specialization(plan_hash, module_name(plan_hash), "")
    c_functions = []
    for i, (name, walk) in enumerate(sorted(_walks_of(router).items())):
        function = f"clickpy_walk_{i}"
        spec.walks.append(Walk(name, function, walk_fingerprint(walk)))
        c_functions.append(walk_c(function, name, walk))
    kinds = fuse_kinds(router)
    chain_source = chains_of(router, spec, kinds)
    spec.graph = graph_fingerprint(router, kinds) if spec.chains else ""
    spec.source = _module_source(spec, c_functions, chain_source)
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


# --- fused push chains (clickpy.runtime.fusion) ------------------------------

# Elements inlined into one chain function at most: a bound on the code one
# path makes (a branch's subtrees are each written out; an element reached
# again, or past the bound, is called through its push).
CHAIN_LIMIT = 48

# What a chain does with an element, by the push its class runs:
# "simple" (simple_action, then output 0), "branch" (classify), "classifier"
# and "ipfilter" (the walk, inlined), "null" (nothing: its push hands the
# packet to output 0 as it is), or "push" (called as it is: the chain ends
# there).
FUSABLE = ("simple", "branch", "classifier", "ipfilter", "null")


def fuse_kinds(router) -> dict[str, str]:
    """Element name -> what a chain does with it (see FUSABLE)."""
    from clickpy.elements.ip.ip_filter import IPFilter
    from clickpy.elements.standard.classifier import Classifier
    from clickpy.elements.standard.null import Null
    from clickpy.runtime import fusion
    from clickpy.runtime.branch import BranchElement
    from clickpy.runtime.element import Element, SimpleElement

    by_push = {fusion.push_function(Element): "simple", fusion.push_function(SimpleElement): "simple",
               fusion.push_function(BranchElement): "branch",
               fusion.push_function(Classifier): "classifier", fusion.push_function(IPFilter): "ipfilter",
               fusion.push_function(Null): "null"}
    return {e.name: "push" if fusion.has_python_methods(e) else by_push.get(fusion.push_function(type(e)), "push")
            for e in router.elements}


def _wants_packet_order(cls) -> bool:
    """Whether cls may want packet order (overrides Element's wants_packet_order)."""
    from clickpy.runtime import fusion
    from clickpy.runtime.element import Element

    return fusion.packet_order_function(cls) != fusion.packet_order_function(Element)


def _push_peers(e) -> list:
    """(output, downstream element, its port) for each connected push output of e."""
    peers = []
    for o in range(e.noutputs):
        peer = e.output_peer(o)
        if peer is not None:
            peers.append((o, *peer))
    return peers


def graph_fingerprint(router, kinds: dict | None = None) -> str:
    """What chains are made from: every element's name, class and fuse kind
    (kinds: fuse_kinds(router), if already known), and where each of its
    push outputs goes."""
    kinds = kinds or fuse_kinds(router)
    rows = [(e.name, type(e).__module__, type(e).__qualname__, kinds[e.name],
             [(o, t.name, port) for o, t, port in _push_peers(e)]) for e in router.elements]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:32]


def _runs_inside_chains(e, kinds) -> bool:
    """A fusable element with a push input runs inside the chains that reach
    it, so its outputs need no entry of their own."""
    return kinds[e.name] in FUSABLE and any(not e.input_is_pull(i) for i in range(e.ninputs))


class _ChainWriter:
    """Writes one chain function's body, element by element from its head.

    For a packet (batch False), the body runs one packet and returns where
    the path ends. For a batch, it is the inside of a loop over the batch's
    packets: where the path ends for one packet it goes on to the next, and
    a packet leaving the path is added to the run of packets waiting for
    that exit, sent on as one batch when a packet leaves by another exit or
    the batch is done (as BranchElement's OutputRun does): the exits get
    the packets in the order that pushing them one at a time gives, in as
    few batches as that order allows."""

    def __init__(self, kinds: dict, walks: dict, batch: bool = False):
        self.kinds, self.walks, self.batch = kinds, walks, batch
        self.elements: list[str] = []
        self.inlined = 0
        self.fused: list = []               # the elements inlined, in order
        self.used: set[str] = set()
        self.done = "continue" if batch else "return"

    def el(self, name: str) -> int:
        if name not in self.elements:
            self.elements.append(name)
        return self.elements.index(name)

    def leave(self, i: int, port: int, name: str, pad: str) -> list[str]:
        if self.batch:
            return [f"{pad}exit_add(&run, els[{i}], {port}, p)    # {_comment(name)}"]
        return [f"{pad}(<Element> els[{i}]).push({port}, p)    # {_comment(name)}"]

    def fusable(self, e, path: frozenset) -> bool:
        kind = self.kinds[e.name]
        if kind not in FUSABLE or e.name in path or self.inlined >= CHAIN_LIMIT:
            return False
        # A branch that sends copies from classify (emit) sends them at once:
        # in a batch they would pass packets still waiting in the run.
        return not (self.batch and kind == "branch" and getattr(type(e), "emits", False))

    def take(self, e, kind: str) -> None:
        self.inlined += 1
        self.fused.append(e)
        self.used.add(kind)

    def batch_body(self, e, port: int, per_packet: str) -> list[str]:
        """The body of a batch function: the elements up to the first branch
        each act on the whole batch (their simple_action_batch, as their own
        push_batch would), then each packet goes through the rest in turn.
        If an element of the chain wants packet order now, the whole batch
        goes through per_packet (the packet function) one packet at a time."""
        path, pad, lines = frozenset(), "    ", []
        while self.fusable(e, path) and self.kinds[e.name] in ("simple", "null"):
            kind, i = self.kinds[e.name], self.el(e.name)
            self.take(e, kind)
            path = path | {e.name}
            lines.append(f"{pad}# {_comment(e.name)} ({type(e).__name__})")
            if kind == "simple":
                lines.append(f"{pad}(<Element> els[{i}]).simple_action_batch(b)")
            peers = [peer for peer in _push_peers(e) if peer[0] == 0]
            if not peers:
                lines.append(f"{pad}kill_batch(b)")
                break
            _, e, port = peers[0]
        else:
            if not self.fusable(e, path):
                lines += [f"{pad}if b.count:",
                          f"{pad}    (<Element> els[{self.el(e.name)}]).push_batch({port}, b)    # {_comment(e.name)}"]
            else:
                body = self.node(e, port, path, pad + "    ")
                lines += [f"{pad}n = b.count", f"{pad}b.count = 0", f"{pad}run.el = NULL",
                          f"{pad}run.batch.count = 0", f"{pad}for k in range(n):", f"{pad}    p = b.p[k]"]
                lines += body + [f"{pad}exit_flush(&run)"]
        ordered = [f"(<Element> els[{self.el(x.name)}]).wants_packet_order()"
                   for x in self.fused if _wants_packet_order(type(x))]
        if ordered:
            lines = [f"{pad}if {' or '.join(ordered)}:", f"{pad}    n = b.count", f"{pad}    b.count = 0",
                     f"{pad}    for k in range(n):", f"{pad}        {per_packet}(els, b.p[k])",
                     f"{pad}    return"] + lines
        return lines

    def node(self, e, port: int, path: frozenset, pad: str) -> list[str]:
        kind, i = self.kinds[e.name], self.el(e.name)
        if not self.fusable(e, path):
            return self.leave(i, port, e.name, pad)
        self.take(e, kind)
        path = path | {e.name}
        lines = [f"{pad}# {_comment(e.name)} ({type(e).__name__})"]
        walk = self.walks.get(e.name)
        if kind in ("null", "simple"):        # one output: the packet (if any) goes on to output 0
            if kind == "simple":
                lines += [f"{pad}p = (<Element> els[{i}]).simple_action(p)",
                          f"{pad}if p == NULL:", f"{pad}    {self.done}"]
            peers = [peer for peer in _push_peers(e) if peer[0] == 0]
            if not peers:
                return lines + [f"{pad}packet_kill(p)"]
            return lines + self.node(peers[0][1], peers[0][2], path, pad)
        if kind == "branch":
            lines += [f"{pad}p = (<BranchElement> els[{i}]).classify(p, &out)",
                      f"{pad}if p == NULL:", f"{pad}    {self.done}"]
        elif kind == "classifier":
            prog = f"(<Classifier> els[{i}])._prog"
            generic = f"out = {prog}.match(pkt_data(p), p.length)"
            if walk is None:
                lines.append(pad + generic)
            else:
                lines += [f"{pad}if <void *> {prog}.fast == <void *> {walk} and p.length >= {prog}.safe_length:",
                          f"{pad}    data = pkt_data(p)", f"{pad}    out = {walk}(&data)",
                          f"{pad}else:", f"{pad}    {generic}"]
        else:
            code = f"&(<IPFilter> els[{i}])._code"
            generic = f"out = filter_match({code}, p)"
            if walk is None:
                lines.append(pad + generic)
            else:
                lines += [f"{pad}if <void *> (<IPFilter> els[{i}])._code.fast == <void *> {walk} "
                          f"and filter_bases({code}, p, base):",
                          f"{pad}    out = {walk}(base)", f"{pad}else:", f"{pad}    {generic}"]
        peers = _push_peers(e)
        for j, (o, t, tport) in enumerate(peers):
            lines.append(f"{pad}{'if' if j == 0 else 'elif'} out == {o}:")
            lines += self.node(t, tport, path, pad + "    ")
        if peers:
            lines += [f"{pad}else:", f"{pad}    packet_kill(p)"]
        else:
            lines.append(f"{pad}packet_kill(p)")
        return lines


def chains_of(router, spec: Specialization, kinds: dict) -> str:
    """The Cython source of router's fused chains, a pair of functions (for
    a packet, for a batch) per push output that leads into a fusable element
    from outside a chain (kinds: fuse_kinds(router)); adds each to spec.chains."""
    walks = {w.element: w.function for w in spec.walks}
    functions = []
    used = set()
    for u in router.elements:
        if _runs_inside_chains(u, kinds):
            continue
        for o, t, port in _push_peers(u):
            if kinds[t.name] not in FUSABLE:
                continue
            one, batch = _ChainWriter(kinds, walks), _ChainWriter(kinds, walks, batch=True)
            function = f"clickpy_chain_{len(spec.chains)}"
            one_body = one.node(t, port, frozenset(), "    ")
            # The batch function reaches the packet function's elements at the
            # same indexes (it may reach fewer: a branch that emits ends it).
            batch.elements = list(one.elements)
            batch_body = batch.batch_body(t, port, function)
            assert batch.elements == one.elements
            spec.chains.append(Chain(u.name, o, function, one.elements))
            used |= one.used | batch.used
            declarations = ["    cdef int out", "    cdef const unsigned char *data",
                            "    cdef const unsigned char *base[3]"]
            functions.append("\n".join(
                [f"# {_comment(u.name)}[{o}] -> ...",
                 f"cdef void {function}(PyObject **els, Packet *p) noexcept:"] + declarations + one_body))
            functions.append("\n".join(
                [f"cdef void {function}_batch(PyObject **els, Batch *b) noexcept:"] + declarations +
                ["    cdef Packet *p", "    cdef ExitRun run", "    cdef int k, n"] + batch_body))
    spec.chain_kinds = used
    return "\n\n\n".join(functions)


def _chain_imports(used: set) -> str:
    lines = ["from cpython.object cimport PyObject",
             "from clickpy.runtime.element cimport Element, kill_batch",
             "from clickpy.runtime.fusion cimport ExitRun, exit_add, exit_flush",
             "from clickpy.runtime.packet cimport Batch, Packet, packet_kill, pkt_data"]
    if "branch" in used:
        lines.append("from clickpy.runtime.branch cimport BranchElement")
    if "classifier" in used:
        lines.append("from clickpy.elements.standard.classifier cimport Classifier")
    if "ipfilter" in used:
        lines.append("from clickpy.elements.ip.ip_filter cimport IPFilter, filter_bases, filter_match")
    return "\n".join(lines)


def _module_source(spec: Specialization, c_functions: list[str], chain_source: str = "") -> str:
    c_code = "\n\n".join(
        ["#include <stdint.h>", "#include <string.h>",
         "static inline uint32_t clickpy_load(const unsigned char *p) "
         "{ uint32_t w; memcpy(&w, p, 4); return w; }"] + c_functions)
    declarations = "\n".join(f"    int {w.function}(const unsigned char **base) noexcept nogil"
                             for w in spec.walks)
    entries = "\n".join(
        f"    {w.element!r}: ({w.fingerprint!r}, PyCapsule_New(<void *> {w.function}, CAPSULE, NULL)),"
        for w in spec.walks)
    chains = "\n".join(
        f"    ({c.upstream!r}, {c.port}, PyCapsule_New(<void *> {c.function}, CHAIN_CAPSULE, NULL), "
        f"PyCapsule_New(<void *> {c.function}_batch, CHAIN_BATCH_CAPSULE, NULL), "
        f"{c.elements!r}),"
        for c in spec.chains)
    return f'''# cython: language_level=3
# cython: boundscheck=False, wraparound=False, initializedcheck=False
"""Made by clickpy.specialize for the Plan {spec.plan_hash}; do not edit."""
from cpython.pycapsule cimport PyCapsule_New
{_chain_imports(spec.chain_kinds) if spec.chains else ""}

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

cdef const char *CHAIN_CAPSULE = b"{CHAIN_CAPSULE}"
cdef const char *CHAIN_BATCH_CAPSULE = b"{CHAIN_BATCH_CAPSULE}"

# The graph the chains were made for (graph_fingerprint), and each chain:
# (upstream element, its output, its function and its batch function in
# capsules, its elements)
GRAPH = {spec.graph!r}
CHAINS = [
{chains}
]


{chain_source}
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
    chains = getattr(module, "CHAINS", [])
    if chains:
        done["chains"] = install_chains(router, module)
    return done


def install_chains(router, module) -> int:
    """Put module's fused chains into router's outputs (taking out any put
    there before); how many went in: none unless router's graph is the one
    they were made for."""
    from clickpy.runtime import fusion

    unfuse(router)
    if module.GRAPH != graph_fingerprint(router):
        return 0
    fused = []
    for upstream, port, capsule, batch_capsule, names in module.CHAINS:
        u = router.element(upstream)
        entry = fusion.install_chain(u, port, capsule, batch_capsule, [router.element(n) for n in names])
        fused.append((u, port, entry))
    router.fused_chains = fused
    return len(fused)


def unfuse(router) -> list:
    """Put the generic path back in every output a chain took; returns what
    was there, for fuse_again()."""
    from clickpy.runtime import fusion

    fused = getattr(router, "fused_chains", [])
    for u, port, _entry in fused:
        fusion.restore_output(u, port)
    router.fused_chains = []
    return fused


def fuse_again(router, fused: list) -> None:
    """Put back the chains unfuse() took out (a reload that failed: the old
    graph runs on, and its chains are still right for it)."""
    from clickpy.runtime import fusion

    for u, port, entry in fused:
        fusion.reinstall(u, port, entry)
    router.fused_chains = list(fused)


def describe(done: dict) -> str:
    """What install() did, in the words of the 'specialized' handler."""
    text = "installed: " + " ".join(done["installed"]) if done["installed"] else "nothing installed"
    if done["refused"]:
        text += " (refused: " + " ".join(done["refused"]) + ")"
    if "chains" in done:
        text += f"; fused chains: {done['chains']}"
    return text
