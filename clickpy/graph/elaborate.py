"""Stage 3: elaborate a syntax tree into a flat router graph, as Click does.

Elaboration runs in two passes, the same two Click's lexer runs:

1. *Declare*: walk the statements in order, keeping a table of elements per
   scope (the file, or one compound body). Bare identifiers are resolved here:
   an element declared earlier in the scope, else an element class (compound
   classes in lexical scope, then known classes; an unknown name is taken to be
   a class, and the check stage decides whether it exists). Anonymous elements
   are numbered by their position in the table, which is why ``Class@N``
   names match Click's. Compound bodies get their own tables when defined.
2. *Expand*: starting from the file's table, substitute parameters into
   configuration strings, pick the compound overload that fits each use (by
   argument list and the number of ports used), copy its body in under the
   prefix ``name/``, and repeat until only primitive elements remain. Compound
   elements and groups leave "tunnels" behind: their connections are joined
   through them at the end.

Neither pass recurses on what the configuration nests or expands, and the
totals are bounded (``clickpy.limits``): a hostile configuration gets a
located error, never a ``RecursionError`` or an exponential expansion.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from clickpy import limits
from clickpy.errors import FEW_PORTS, Diagnostics, Landmark, port_list_text
from clickpy.graph import catalog
from clickpy.graph.flatgraph import FlatElement, FlatGraph
from clickpy.lang import ast
from clickpy.lang.confstring import ExpansionTooLarge, VariableScope, assign_arguments, expand, split_args

PORT_NAMES = ("input", "output")


class _Tunnel:
    """Marks a table entry that is a compound instance, a group, or a pseudo-port."""

    def __repr__(self) -> str:
        return "<tunnel>"


TUNNEL = _Tunnel()


@dataclass(eq=False)
class PrimitiveClass:
    """A class that is not a compound: implemented, Click's, or unknown so far."""

    name: str


@dataclass(eq=False)
class CompoundType:
    """One body of a compound class; ``overload`` is the next definition to try."""

    name: str
    landmark: Landmark
    table: _Table
    formal_types: list[str]  # "" positional, keyword, or "__REST__"
    ninputs: int = 0
    noutputs: int = 0
    overload: CompoundType | PrimitiveClass | None = None

    @property
    def depth(self) -> int:
        return self.table.scope.depth

    @property
    def printable_name(self) -> str:
        return self.name or "<anonymous>"

    def signature(self) -> str:
        formals = ""
        if self.formal_types:
            shown = ["<arg>" if t == "" else "..." if t == "__REST__" else t for t in self.formal_types]
            formals = "(" + ", ".join(shown) + ")"
        return f"{self.printable_name}{formals}[{_plural(self.ninputs, 'input')}, {_plural(self.noutputs, 'output')}]"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


ElementType = PrimitiveClass | CompoundType | _Tunnel


@dataclass(eq=False)
class _Table:
    """The elements and connections of one scope (Click's Lexer::Compound)."""

    scope: VariableScope
    anonymous_offset: int = 0
    names: list[str] = field(default_factory=list)
    types: list[ElementType | None] = field(default_factory=list)  # None: failed
    configs: list[str] = field(default_factory=list)
    landmarks: list[Landmark] = field(default_factory=list)
    bare: list[bool] = field(default_factory=list)
    nports: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    index: dict[str, int] = field(default_factory=dict)
    connections: list[tuple[int, int, int, int]] = field(default_factory=list)
    connection_landmarks: list[Landmark] = field(default_factory=list)  # where each was written
    define_landmarks: dict[str, Landmark] = field(default_factory=dict)
    # Anonymous names found taken: 'Class@N' -> a number up to which every
    # 'Class@M' (N <= M) is taken, so renaming never rescans a run of names.
    taken_through: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, etype: ElementType | None, config: str, landmark: Landmark, bare: bool = False) -> int:
        i = self.index.get(name)
        if i is not None:
            return i
        i = len(self.names)
        self.index[name] = i
        self.names.append(name)
        self.types.append(etype)
        self.configs.append(config)
        self.landmarks.append(landmark)
        self.bare.append(bare)
        self.nports[0].append(0)
        self.nports[1].append(0)
        return i

    def connect(self, f: int, fp: int, t: int, tp: int, landmark: Landmark) -> None:
        fp = max(fp, 0)
        tp = max(tp, 0)
        self.connections.append((f, fp, t, tp))
        self.connection_landmarks.append(landmark)
        if self.nports[0][t] <= tp:
            self.nports[0][t] = tp + 1
        if self.nports[1][f] <= fp:
            self.nports[1][f] = fp + 1

    def anonymous_name(self, class_name: str) -> str:
        # ';' marks a name that is not final: it may clash with a name
        # declared later in the scope, and is fixed when the scope is done.
        return f";{class_name}@{len(self.names) - self.anonymous_offset + 1}"

    def deanonymize(self, i: int) -> str:
        name = self.names[i][1:]
        if name in self.index:
            # Click takes the next free number after the intended one.
            at = name.rfind("@")
            prefix, digits = name[: at + 1], name[at + 1 :]
            first = number = int(digits) if digits.isdigit() else 0
            visited = []
            while True:
                visited.append(number)
                number = max(number, self.taken_through.get(prefix + str(number), number)) + 1
                name = prefix + str(number)
                if name not in self.index:
                    break
            for n in visited:
                self.taken_through[prefix + str(n)] = number
            self.taken_through[prefix + str(first)] = number
        self.index[name] = i
        self.names[i] = name
        return name

    def pseudo_ports(self, which: int, isoutput: bool, owner: str, d: Diagnostics, landmark: Landmark) -> int:
        """Check the use of an 'input' (isoutput=False) or 'output' pseudo-element.

        'input' may only be a connection source, 'output' only a target, and
        their ports must be used without gaps. Returns the number of ports.
        """
        side = 1 if not isoutput else 0  # 'input' is used through its outputs
        used = [False] * self.nports[side][which]
        for f, fp, t, tp in self.connections:
            if (f if side == 1 else t) == which:
                used[fp if side == 1 else tp] = True
        if self.nports[1 - side][which]:
            d.error(
                landmark,
                f"'{owner}' pseudoelement '{PORT_NAMES[isoutput]}' may only be used as {PORT_NAMES[1 - isoutput]}",
            )
        missing = [i for i, u in enumerate(used) if not u]
        if len(missing) > FEW_PORTS:
            d.error(landmark, f"'{owner}' {PORT_NAMES[isoutput]}s {port_list_text(missing)} missing")
        else:
            for i in missing:
                d.error(landmark, f"'{owner}' {PORT_NAMES[isoutput]} {i} missing")
        return len(used)


class _TypeScope:
    """Element classes visible in one lexical scope."""

    def __init__(self, parent: _TypeScope | None):
        self.parent = parent
        self.types: dict[str, CompoundType | PrimitiveClass] = {}

    def lookup(self, name: str) -> CompoundType | PrimitiveClass | None:
        s: _TypeScope | None = self
        while s is not None:
            t = s.types.get(name)
            if t is not None:
                return t
            s = s.parent
        return None


# One entry of a connection's element list: (table index, input ports,
# output ports), where a port list ending in -1 is expandable (Click's form).
_Item = tuple[int, list[int], list[int]]


class Elaborator:
    def __init__(self, diagnostics: Diagnostics, known_class=catalog.is_known):
        self.d = diagnostics
        self.known_class = known_class
        self.primitives: dict[str, PrimitiveClass] = {}
        self.types = _TypeScope(None)
        self.table = _Table(VariableScope())
        self.top = self.table
        self.requirements: list[tuple[str, str]] = []
        self.requirement_landmarks: dict[tuple[str, str], Landmark] = {}
        self.defining: list[str] = []  # names of compound classes being elaborated
        self.pairs_forward: dict[int, int] = {}  # tunnel used as target -> entry whose outputs continue it
        self.pairs_backward: dict[int, int] = {}  # tunnel used as source -> entry whose inputs feed it
        self.too_large = False  # a limit was passed: expansion stopped, the graph is incomplete
        self.config_chars = 0  # characters of expanded configuration strings so far

    # --- classes -------------------------------------------------------------

    def class_named(self, name: str) -> CompoundType | PrimitiveClass | None:
        """The class a name denotes here, or None if it is not (yet) a class."""
        t = self.types.lookup(name)
        if t is not None:
            return t
        t = self.primitives.get(name)
        if t is None and self.known_class(name):
            t = self.primitives[name] = PrimitiveClass(name)
        return t

    def force_class(self, name: str, landmark: Landmark) -> CompoundType | PrimitiveClass:
        """A name used as a class: unknown names become (global) primitive classes,
        which the check stage reports if nothing implements them."""
        t = self.class_named(name)
        if t is None:
            if name in self.defining:
                self.d.error(
                    landmark,
                    f"element class '{name}' is used inside its own definition "
                    "(element classes are not recursive)",
                )
            t = self.primitives[name] = PrimitiveClass(name)
        return t

    # --- pass 1: declare ---------------------------------------------------

    def statements(self, statements: list[ast.Statement]) -> None:
        for s in statements:
            if isinstance(s, ast.Connection):
                self.connection(s)
            elif isinstance(s, ast.ElementClass):
                self.elementclass(s)
            elif isinstance(s, ast.Require):
                self.require(s)
            elif isinstance(s, ast.Define):
                for name, value, lm in s.definitions:
                    if not self.table.scope.define(name, value):
                        self.d.error(lm, f"parameter '${name}' multiply defined")

    def require(self, s: ast.Require) -> None:
        if s.keyword != "require":
            return
        for r in s.requirements:
            if r.kind == "library":
                if r.library is not None:
                    self.statements(r.library.statements)
            elif (r.kind, r.value) not in self.requirements:
                self.requirements.append((r.kind, r.value))
                self.requirement_landmarks[(r.kind, r.value)] = r.landmark

    def elementclass(self, s: ast.ElementClass) -> None:
        if isinstance(s.definition, str):
            # A synonym shares the class itself, so flattened output names the original.
            self.types.types[s.name] = self.force_class(s.definition, s.definition_landmark)
        else:
            self.types.types[s.name] = self.compound(s.definition, s.name)

    def compound(self, c: ast.CompoundClass, name: str) -> CompoundType:
        """Elaborate each body of a compound class into its own table."""
        extension = None
        if c.extends:
            extension = self.class_named(name)
            if extension is None:
                self.d.error(c.landmark, f"cannot extend unknown element class '{name}'")
        first: CompoundType | None = None
        previous: CompoundType | None = None
        for body in c.bodies:
            ct = self.compound_body(body, name)
            if previous is None:
                first = ct
            else:
                previous.overload = ct
            previous = ct
        if previous is None:  # '{ ... }' with nothing to extend
            return CompoundType(name, c.landmark, _Table(VariableScope(self.table.scope), 2), [])
        previous.overload = extension
        return first

    def compound_body(self, body: ast.CompoundBody, name: str) -> CompoundType:
        table = _Table(VariableScope(self.table.scope), anonymous_offset=2)
        table.add("input", TUNNEL, "", body.landmark)
        table.add("output", TUNNEL, "", body.landmark)
        ct = CompoundType(name, body.landmark, table, [])
        for f in body.formals:
            # Formals live in the scope like defines; their value is their type.
            # (The parser reported any repeated formal.)
            if table.scope.define(f.name, f.keyword):
                ct.formal_types.append(f.keyword)
        saved_table, saved_types = self.table, self.types
        self.table, self.types = table, _TypeScope(self.types)
        self.defining.append(name)
        try:
            self.statements(body.statements)
        finally:
            self.table, self.types = saved_table, saved_types
            self.defining.pop()
        ct.ninputs = table.pseudo_ports(0, False, ct.printable_name, self.d, body.landmark)
        ct.noutputs = table.pseudo_ports(1, True, ct.printable_name, self.d, body.landmark)
        for i, n in enumerate(table.names):
            if n.startswith(";"):
                table.deanonymize(i)
        return ct

    def connection(self, s: ast.Connection) -> None:
        sets = s.sets
        if len(sets) == 1 and not s.arrows and len(sets[0]) > 1:
            sets = [self.spread_declaration(sets[0])]
        previous: list[_Item] | None = None
        for i, refs in enumerate(sets):
            items = [self.element(r) for r in refs]
            if previous is None:
                if any(inp for _, inp, _ in items):
                    self.d.error(refs[0].landmark, "input ports ignored at start of chain")
            else:
                self.connect_all(previous, items, s.arrows[i - 1], refs[0].landmark, sets[i - 1][-1].landmark)
            previous = items
        if previous is not None and any(out for _, _, out in previous):
            self.d.error(sets[-1][-1].landmark, "output ports ignored at end of chain")

    def spread_declaration(self, refs: list[ast.ElementRef]) -> list[ast.ElementRef]:
        """``a, b, c :: Class(config)`` declares all three (Click's rule).

        Applies when every element before the last is a bare name and nothing
        has ports; each then gets the last element's class and configuration.
        """
        if any(r.inputs is not None or r.outputs is not None for r in refs):
            return refs
        if any(isinstance(r.target, ast.Implicit) for r in refs):
            return refs
        if not all(isinstance(r.target, ast.Name) and r.target.config is None for r in refs[:-1]):
            return refs
        last = refs[-1].target
        out = []
        for r in refs[:-1]:
            n = r.target
            if isinstance(last, ast.Declaration):
                t = ast.Declaration(n.name, last.element_class, last.config, n.landmark, last.class_landmark)
            elif isinstance(last, ast.Name):
                t = ast.Name(n.name, last.config, n.landmark)
            else:
                return refs
            out.append(ast.ElementRef(None, t, None, r.landmark))
        out.append(refs[-1])
        return out

    def element(self, ref: ast.ElementRef) -> _Item:
        """Resolve one element reference to a table index (declaring it if new)."""
        t = ref.target
        inputs = _port_list(ref.inputs)
        outputs = _port_list(ref.outputs)
        table = self.table
        if isinstance(t, ast.Name):
            etype = self.class_named(t.name)
            if etype is None and t.name in table.index:
                if t.config is not None:
                    self.d.error(t.landmark, "configuration string ignored on element reference")
                idx = table.index[t.name]
            else:
                bare = etype is None and t.config is None
                if etype is None:
                    etype = self.force_class(t.name, t.landmark)
                idx = table.add(table.anonymous_name(t.name), etype, t.config or "", t.landmark, bare)
        elif isinstance(t, ast.Declaration):
            name_type = self.class_named(t.name)
            if isinstance(t.element_class, str):
                decl_type = self.force_class(t.element_class, t.class_landmark)
                same_name = t.element_class == t.name
            else:
                decl_type = self.compound(t.element_class, "")
                same_name = False
            if name_type is not None or same_name:
                self.d.error(t.landmark, f"class '{t.name}' used as element name")
                idx = table.add(table.anonymous_name(t.name), decl_type, t.config or "", t.landmark)
            elif t.name in table.index:
                idx = table.index[t.name]
                self.d.error(t.landmark, f"redeclaration of element '{t.name}'")
                if table.types[idx] is not TUNNEL:
                    self.d.note(table.landmarks[idx], f"element '{t.name}' previously declared here")
            else:
                idx = self.add_named(t.name, decl_type, t.config or "", t.landmark)
        elif isinstance(t, ast.AnonymousCompound):
            ct = self.compound(t.compound, "")
            idx = table.add(table.anonymous_name(""), ct, t.config or "", t.landmark)
        elif isinstance(t, ast.Group):
            idx, group_ports = self.group(t)
            # A group's unwritten port lists name all of its ports, in order.
            if ref.inputs is None:
                inputs = list(range(group_ports[0]))
            if ref.outputs is None:
                outputs = list(range(group_ports[1]))
        else:  # Implicit input/output of the enclosing compound or group
            idx = table.index[t.which]
        return idx, inputs, outputs

    def add_named(self, name: str, etype: ElementType, config: str, landmark: Landmark) -> int:
        for part in name.split("/"):
            if part.isdigit():
                self.d.error(landmark, f"element name '{name}' has all-digit component")
                break
        return self.table.add(name, etype, config, landmark)

    def group(self, g: ast.Group) -> tuple[int, tuple[int, int]]:
        table = self.table
        name = table.anonymous_name("")
        idx, gin, gout = self.add_tunnels(name, g.landmark)
        saved = table.index.get("input"), table.index.get("output")
        table.index["input"], table.index["output"] = gin, gout
        try:
            self.statements(g.statements)
        finally:
            for key, old in zip(("input", "output"), saved):
                if old is None:
                    table.index.pop(key, None)
                else:
                    table.index[key] = old
        nin = table.pseudo_ports(gin, False, "<anonymous group>", self.d, g.end_landmark)
        nout = table.pseudo_ports(gout, True, "<anonymous group>", self.d, g.end_landmark)
        return idx, (nin, nout)

    def add_tunnels(self, name: str, landmark: Landmark) -> tuple[int, int, int]:
        """Entries for a compound instance or group and its pseudo-ports.

        In the file's table the pairs are remembered so that connections can
        be joined through them once everything is expanded.
        """
        table = self.table
        idxs = []
        for n in (name, name + "/input", name + "/output"):
            i = table.add(n, TUNNEL, "", landmark)
            if table.types[i] is not TUNNEL:
                self.d.error(landmark, f"redeclaration of element '{n}'")
                self.d.note(table.landmarks[i], f"'{n}' previously declared here")
            idxs.append(i)
        if table is self.top:
            x, xin, xout = idxs
            self.pairs_forward[x] = xin
            self.pairs_forward[xout] = x
            self.pairs_backward[xin] = x
            self.pairs_backward[x] = xout
        return idxs[0], idxs[1], idxs[2]

    def connect_all(self, outputs: list[_Item], inputs: list[_Item], arrow: str, lm: Landmark,
                    source_lm: Landmark) -> None:
        """Connect a chain step, including many-to-one, one-to-many and '=>'.

        lm is where the step's targets are written, source_lm where its
        sources end: the landmark each connection keeps."""
        minp = [0, 0]  # [inputs side, outputs side]
        expandable = [0, 0]
        for k, items in ((0, inputs), (1, outputs)):
            for item in items:
                ports = item[2] if k == 1 else item[1]
                n = len(ports)
                if n <= 1:
                    minp[k] += 1
                elif ports[-1] == -1:
                    minp[k] += n - 1
                    expandable[k] += 1
                else:
                    minp[k] += n
        if expandable[0] + expandable[1] > 1:
            self.d.error(lm, "at most one expandable port allowed per connection")
            expandable[1 if minp[0] < minp[1] else 0] = 0
        if arrow == "=>":
            # '=>' may stretch a side that names one element and no ports.
            for k in (0, 1):
                items = outputs if k == 1 else inputs
                first_ports = items[0][2] if k == 1 else items[0][1]
                if minp[k] == 1 and minp[1 - k] > 1 and not first_ports:
                    expandable[k] = 1
        step = [minp[k] > 1 or bool(expandable[k]) for k in (0, 1)]
        grow = [minp[1 - k] - minp[k] if expandable[k] else 0 for k in (0, 1)]
        if step[0] and step[1]:
            if arrow != "=>":
                self.d.error(lm, "syntax error: many-to-many connections require '=>'")
            if not expandable[0] and not expandable[1] and minp[0] != minp[1]:
                self.d.error(lm, f"connection mismatch: {minp[1]} outputs connected to {minp[0]} inputs")
            elif not expandable[0] and minp[0] < minp[1]:
                self.d.error(lm, f"connection mismatch: {minp[1]} or more outputs connected to {minp[0]} inputs")
            elif not expandable[1] and minp[1] < minp[0]:
                self.d.error(lm, f"connection mismatch: {minp[1]} outputs connected to {minp[0]} or more inputs")
        elif not step[0] and not step[1]:
            step[0] = True

        sides = (inputs, outputs)
        pos = [0, 0]  # which item on each side
        ppos = [0, 0]  # which port within that item's list
        port = [-1, -1]
        while pos[0] < len(inputs) and pos[1] < len(outputs):
            for k in (0, 1):
                if port[k] < 0:
                    plist = sides[k][pos[k]][1 + k]
                    port[k] = plist[0] if plist else 0
            self.table.connect(outputs[pos[1]][0], port[1], inputs[pos[0]][0], port[0], source_lm)
            for k in (0, 1):
                if not step[k]:
                    continue
                plist = sides[k][pos[k]][1 + k]
                n = len(plist)
                ppos[k] += 1
                if ppos[k] < n and plist[ppos[k]] >= 0:
                    port[k] = plist[ppos[k]]  # next port in the list
                elif n and plist[-1] == -1 and grow[k] > 0:
                    port[k] = plist[n - 2] + ppos[k] - (n - 2)  # expandable list grows
                    grow[k] -= 1
                elif n == 0 and minp[k] == 1 and grow[k] > 0:
                    port[k] = ppos[k]  # a bare element stretched by '=>'
                    grow[k] -= 1
                else:
                    port[k] = -1  # next element of the comma list
                    ppos[k] = 0
                    pos[k] += 1

    # --- pass 2: expand ----------------------------------------------------

    def expand_all(self, scope: VariableScope) -> None:
        """Expand every element of the file's table, depth first, without recursion.

        Children are expanded right after their compound, in order, as Click
        does (anonymous names are numbered in that order).
        """
        stack = [(i, scope) for i in reversed(range(len(self.top.names)))]
        while stack and not self.too_large:
            i, s = stack.pop()
            children = self.expand_element(i, s)
            stack.extend(reversed(children))

    def limit_passed(self, landmark: Landmark, what: str) -> None:
        self.d.error(landmark, f"configuration too large: {what}")
        self.too_large = True

    def expand_element(self, i: int, scope: VariableScope) -> list[tuple[int, VariableScope]]:
        """Expand one element; the new elements a compound left to expand next."""
        table = self.table
        if table.names[i].startswith(";"):
            table.deanonymize(i)
        etype = table.types[i]
        if etype is TUNNEL or etype is None:
            return []
        try:
            table.configs[i] = expand(table.configs[i], scope)
        except ExpansionTooLarge as e:
            self.limit_passed(table.landmarks[i], str(e))
            return []
        self.config_chars += len(table.configs[i])
        if self.config_chars > limits.MAX_CONFIG_CHARS:
            self.limit_passed(table.landmarks[i], f"configuration strings total more than "
                              f"{limits.MAX_CONFIG_CHARS} characters")
            return []
        if not isinstance(etype, CompoundType):
            return []
        args = split_args(table.configs[i])
        found = self.resolve_overload(etype, table.nports[0][i], table.nports[1][i], args, table.landmarks[i])
        if found is None:
            table.types[i] = None
        elif isinstance(found[0], PrimitiveClass):
            table.types[i] = found[0]
        else:
            ct, values = found
            body_scope = VariableScope(scope.parent_of(ct.depth))
            for k in range(len(ct.formal_types)):
                body_scope.define(ct.table.scope.names[k], values[k], override=True)
            try:
                for k in range(len(ct.formal_types), len(ct.table.scope.names)):
                    value = expand(ct.table.scope.values[k], body_scope)
                    body_scope.define(ct.table.scope.names[k], value, override=True)
            except ExpansionTooLarge as e:
                self.limit_passed(table.landmarks[i], str(e))
                return []
            return self.expand_into(ct, i, body_scope)
        return []

    def resolve_overload(self, ct: CompoundType, nin: int, nout: int, args: list[str], lm: Landmark):
        """The first overload fitting the arguments and ports used, as (class, values)."""
        closest = None
        tried = 0
        c: CompoundType | PrimitiveClass | None = ct
        while isinstance(c, CompoundType):
            tried += 1
            values = assign_arguments(args, c.formal_types)
            if values is not None:
                if c.ninputs == nin and c.noutputs == nout:
                    return c, values
                closest = (c, values)
            c = c.overload
        if c is not None:  # the chain ends in a primitive class: use it
            return c, None
        if tried != 1 or closest is None:
            nargs = f"{_plural(len(args), 'argument')}, " if args else ""
            self.d.error(
                lm,
                f"no match for '{ct.printable_name}[{nargs}{_plural(nin, 'input')}, {_plural(nout, 'output')}]'",
            )
            c = ct
            first = True
            while isinstance(c, CompoundType):
                self.d.note(c.landmark, ("candidates are: " if first else "                ") + c.signature())
                first = False
                c = c.overload
        return closest

    def expand_into(self, ct: CompoundType, which: int, scope: VariableScope) -> list[tuple[int, VariableScope]]:
        table = self.table
        ename = table.names[which]
        lm = table.landmarks[which]
        body = ct.table
        if len(table.names) + len(body.names) > limits.MAX_ELEMENTS * 2:
            self.limit_passed(lm, f"compound elements expand to more than {limits.MAX_ELEMENTS} elements")
            return []
        if len(table.connections) + len(body.connections) > limits.MAX_CONNECTIONS:
            self.limit_passed(lm, f"compound elements expand to more than {limits.MAX_CONNECTIONS} connections")
            return []
        table.types[which] = TUNNEL
        _, xin, xout = self.add_tunnels(ename, lm)
        mapping: list[int | None] = [xin, xout]
        k = 2
        while k < len(body.names):
            cname = f"{ename}/{body.names[k]}"
            if cname in table.index:
                self.d.error(lm, f"redeclaration of element '{cname}'")
                self.d.note(table.landmarks[table.index[cname]], f"'{cname}' previously declared here")
                mapping.append(None)
                k += 1
                continue
            if self.class_named(cname) is not None:
                self.d.error(lm, f"'{cname}' is an element class")
            if body.types[k] is TUNNEL:  # a group inside the body: three entries
                mapping.extend(self.add_tunnels(cname, body.landmarks[k]))
                k += 3
                continue
            try:
                config = expand(body.configs[k], scope)
            except ExpansionTooLarge as e:
                self.limit_passed(body.landmarks[k], str(e))
                return []
            mapping.append(table.add(cname, body.types[k], config, body.landmarks[k], body.bare[k]))
            k += 1
        for (f, fp, t, tp), clm in zip(body.connections, body.connection_landmarks):
            if mapping[f] is not None and mapping[t] is not None:
                table.connect(mapping[f], fp, mapping[t], tp, clm)
        return [(idx, scope) for idx in mapping[2:] if idx is not None]

    # --- joining connections through tunnels --------------------------------

    def flatten(self) -> FlatGraph:
        table = self.table
        real = [t is not TUNNEL for t in table.types]
        out_from: dict[tuple[int, int], list[tuple[int, int]]] = {}
        in_to: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for f, fp, t, tp in table.connections:
            out_from.setdefault((f, fp), []).append((t, tp))
            in_to.setdefault((t, tp), []).append((f, fp))
        memo: dict[tuple[int, int, bool], list[tuple[int, int]]] = {}
        reported: set[tuple] = set()  # tunnel errors already given

        def ends(idx: int, port: int, forward: bool) -> list[tuple[int, int]]:
            """Real ports reached from a connection end, following tunnels.

            A walk with its own stack (tunnels can chain as deep as compounds
            nest), remembering each answer; a cycle of tunnels reaches nothing.
            """
            if real[idx]:
                return [(idx, port)]
            start = (idx, port, forward)
            if start in memo:
                return memo[start]
            pairs = self.pairs_forward if forward else self.pairs_backward
            links_of = out_from if forward else in_to
            found: dict[tuple[int, int], None] = {}
            seen = {start}
            stack = [start]
            while stack:
                key = stack.pop()
                if key in memo and key != start:
                    found.update(dict.fromkeys(memo[key]))
                    continue
                tidx, tport, _ = key
                partner = pairs.get(tidx)
                if partner is None:
                    if key not in reported:
                        reported.add(key)
                        self.d.error(
                            table.landmarks[tidx],
                            f"'{table.names[tidx]}' used as {'input' if forward else 'output'}",
                        )
                    continue
                links = links_of.get((partner, tport), [])
                if not links and (partner, tport, forward, "no link") not in reported:
                    reported.add((partner, tport, forward, "no link"))
                    self.tunnel_error(tidx, partner, tport, forward)
                for nidx, nport in reversed(links):
                    if real[nidx]:
                        found[(nidx, nport)] = None
                    elif (nidx, nport, forward) not in seen:
                        seen.add((nidx, nport, forward))
                        stack.append((nidx, nport, forward))
            memo[start] = result = list(found)
            return result

        edges: dict[tuple[int, int, int, int], Landmark] = {}  # -> where it was first written
        for (f, fp, t, tp), clm in zip(table.connections, table.connection_landmarks):
            if real[f] and real[t]:
                edges.setdefault((f, fp, t, tp), clm)
                continue
            for sf, sfp in ends(f, fp, False):
                for st, stp in ends(t, tp, True):
                    edges.setdefault((sf, sfp, st, stp), clm)
            if len(edges) > limits.MAX_CONNECTIONS:
                self.limit_passed(table.landmarks[f], f"compound elements join into more than "
                                  f"{limits.MAX_CONNECTIONS} connections")
                return FlatGraph()

        graph = FlatGraph(requirements=list(self.requirements), requirement_landmarks=dict(self.requirement_landmarks))
        new_index = {}
        for i, etype in enumerate(table.types):
            if etype is TUNNEL:
                continue
            new_index[i] = len(graph.elements)
            if etype is None:
                graph.elements.append(FlatElement(table.names[i], "Error", table.configs[i], table.landmarks[i], failed=True))
            else:
                graph.elements.append(
                    FlatElement(table.names[i], etype.name, table.configs[i], table.landmarks[i], table.bare[i])
                )
        conns = {(new_index[f], fp, new_index[t], tp): clm for (f, fp, t, tp), clm in edges.items()}
        graph.connections = sorted(conns, key=lambda c: (c[2], c[3], c[0], c[1]))
        graph.connection_landmarks = conns
        return graph

    def tunnel_error(self, idx: int, partner: int, port: int, forward: bool) -> None:
        """Report a compound or group port that leads nowhere."""
        table = self.table
        name, pname = table.names[idx], table.names[partner]
        if pname == name + "/input":  # entering the compound from outside
            msg = f"'{name}' has no input {port}"
        elif name == pname + "/output":  # leaving the compound from inside
            msg = f"'{pname}' output {port} unused"
            idx = partner
        elif name == pname + "/input":  # the body uses an input nobody feeds
            msg = f"'{pname}' input {port} unused"
            idx = partner
        else:  # pname == name + "/output": a use of an output the body lacks
            msg = f"'{name}' has no output {port}"
        self.d.error(table.landmarks[idx], msg)


def _port_list(p: ast.Ports | None) -> list[int]:
    if p is None:
        return []
    return list(p.numbers) + ([-1] if p.expandable else [])


def elaborate(
    program: ast.Program,
    diagnostics: Diagnostics | None = None,
    definitions: dict[str, str] | None = None,
    known_class=catalog.is_known,
    keep_parameters: bool = False,
) -> FlatGraph:
    """Expand a program into a flat router graph; errors go to diagnostics.

    ``definitions`` are command-line ``NAME=value`` parameters; they override
    the file's own ``define``s of the same name. With ``keep_parameters``
    (click-flatten's default), the file-scope parameters stay symbolic: their
    ``$NAME`` references are left in the configurations and the graph keeps
    their definitions, so its printout can be run with other values. The
    formals and ``define``s of compounds are substituted either way.
    """
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    el = Elaborator(diagnostics, known_class)
    el.statements(program.statements)
    scope = el.top.scope
    for name, value in (definitions or {}).items():
        scope.define(name, value, override=True)
    scope.symbolic = keep_parameters
    el.expand_all(scope)
    if not el.too_large:
        real = [i for i, t in enumerate(el.top.types) if t is not TUNNEL]
        if len(real) > limits.MAX_ELEMENTS:
            el.limit_passed(el.top.landmarks[real[limits.MAX_ELEMENTS]],
                            f"more than {limits.MAX_ELEMENTS} elements")
    if el.too_large:
        return FlatGraph()
    graph = el.flatten()
    if keep_parameters:
        graph.parameters = list(zip(scope.names, scope.values))
    return graph
