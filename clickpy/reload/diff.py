"""Reload, stage 1: what changes between the running Plan and a new one.

Elements are matched by name (unnamed ones, whose made-up ``Class@N``
names shift, by class and order). One whose class, configuration and port plan
are unchanged continues: the same object keeps running (no device reopened,
no queue emptied, no counter reset). It is *kept* when its connections are
unchanged too, and *rewired* when they changed or a neighbour is new (its
ports must point at other objects). One whose configuration changed is
*reconfigured* in place when its class supports live reconfiguration with the
same ports, otherwise *replaced*: a new object is built beside it and takes its
state. The rest are *added* or *removed*.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from clickpy.plan import Plan

KEEP = "keep"
REWIRE = "rewire"
RECONFIGURE = "reconfigure"
REPLACE = "replace"
ADD = "add"
REMOVE = "remove"

# Actions that keep the running object.
CONTINUING = (KEEP, REWIRE, RECONFIGURE)


@dataclass
class PlanDiff:
    old: Plan
    new: Plan
    actions: list[str] = field(default_factory=list)          # per new element
    previous: list[int | None] = field(default_factory=list)  # per new element: the old index it follows
    reasons: list[str] = field(default_factory=list)          # per new element: why, for the dry run
    removed: list[int] = field(default_factory=list)          # old indices that go
    rewired: set[int] = field(default_factory=set)            # new indices of continuing objects to reconnect

    @property
    def unchanged(self) -> bool:
        return not self.removed and all(a == KEEP for a in self.actions)

    def names(self, action: str) -> list[str]:
        if action == REMOVE:
            return [self.old.elements[i].name for i in self.removed]
        return [self.new.elements[i].name for i, a in enumerate(self.actions) if a == action]

    def counts(self) -> dict[str, int]:
        return {a: len(self.names(a)) for a in (KEEP, REWIRE, RECONFIGURE, REPLACE, ADD, REMOVE)}

    def pack(self) -> list:
        """The actions as plain lists (a checking child sends them to the router)."""
        return [self.actions, [-1 if j is None else j for j in self.previous], self.reasons, self.removed,
                sorted(self.rewired)]

    @classmethod
    def unpack(cls, old: Plan, new: Plan, data) -> "PlanDiff":
        """A diff of old and new from pack()'s lists; ValueError if they do not fit the two Plans."""
        try:
            actions, previous, reasons, removed, rewired = data
            d = cls(old, new, [str(a) for a in actions], [None if j < 0 else int(j) for j in previous],
                    [str(r) for r in reasons], [int(j) for j in removed], {int(i) for i in rewired})
        except (TypeError, ValueError) as e:
            raise ValueError(f"damaged diff: {e}") from None
        n, m = len(new.elements), len(old.elements)
        ok = len(d.actions) == len(d.previous) == len(d.reasons) == n \
            and all(a in (KEEP, REWIRE, RECONFIGURE, REPLACE, ADD) for a in d.actions) \
            and all((j is None) == (a == ADD) and (j is None or 0 <= j < m) for a, j in zip(d.actions, d.previous)) \
            and all(0 <= j < m for j in d.removed) \
            and all(0 <= i < n and d.actions[i] in CONTINUING for i in d.rewired) \
            and sorted([j for j in d.previous if j is not None] + d.removed) == list(range(m))
        if not ok:
            raise ValueError("damaged diff: it does not fit the two plans")
        return d

    def lines(self) -> list[str]:
        """One line per element that changes, in the new graph's order, then the removed ones."""
        out = []
        for i, a in enumerate(self.actions):
            if a != KEEP:
                fe = self.new.elements[i]
                out.append(f"{a:<11} {fe.name} :: {fe.class_name}" + (f"  ({self.reasons[i]})" if self.reasons[i] else ""))
        for i in self.removed:
            fe = self.old.elements[i]
            out.append(f"{REMOVE:<11} {fe.name} :: {fe.class_name}")
        return out


def _neighbours(plan: Plan, identity) -> list[set]:
    """Per element: its connections as (direction, own port, peer's identity, peer port)."""
    out = [set() for _ in plan.elements]
    for f, fp, t, tp in plan.graph.connections:
        out[f].add(("out", fp, identity(t), tp))
        out[t].add(("in", tp, identity(f), fp))
    return out


def _anonymous(name: str, class_name: str) -> bool:
    """Is name one the language made up (``Class@N``, perhaps inside a compound)?"""
    base = name.rsplit("/", 1)[-1]
    head, _, number = base.rpartition("@")
    return head == class_name and number.isdigit()


def _match(old: Plan, new: Plan) -> dict[int, int]:
    """new index -> old index of the element it continues.

    By name; then anonymous elements, whose made-up numbers shift when an
    element is added or removed before them, pair up by class in order of
    appearance (so an unnamed Counter or Queue keeps its state).
    """
    old_index = {e.name: i for i, e in enumerate(old.elements)}
    match = {i: old_index[e.name] for i, e in enumerate(new.elements) if e.name in old_index}
    taken = set(match.values())
    spare: dict[str, list[int]] = {}
    for j, e in enumerate(old.elements):
        if j not in taken and _anonymous(e.name, e.class_name):
            spare.setdefault(e.class_name, []).append(j)
    for i, e in enumerate(new.elements):
        if i not in match and _anonymous(e.name, e.class_name) and spare.get(e.class_name):
            match[i] = spare[e.class_name].pop(0)
    return match


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_@/]*")


def _words(config: str) -> set[str]:
    """The names a configuration may mention, whole and by their last component."""
    words = set(_WORD.findall(config))
    return words | {w.rsplit("/", 1)[-1] for w in words if "/" in w}


def _replace_dependents(d: PlanDiff, lookup) -> None:
    """An element that names one that is replaced or removed (a Script reading
    its handlers, an ARPQuerier's table), or uses a name an AddressInfo or
    PortInfo that changes defines, found that element or name when it was
    set up: it is replaced too, so that it finds the new one."""
    old, new = d.old, d.new

    def definer(fe) -> bool:
        return getattr(lookup(fe.class_name), "defines_names", False)

    gone = [old.elements[j] for j in d.removed] + \
        [old.elements[d.previous[i]] for i, a in enumerate(d.actions) if a == REPLACE]
    gone += [new.elements[i] for i, a in enumerate(d.actions) if a in (ADD, REPLACE, RECONFIGURE)
             and definer(new.elements[i])]
    targets: set[str] = set()

    def add(fe) -> None:
        targets.add(fe.name)
        targets.add(fe.name.rsplit("/", 1)[-1])
        if definer(fe):
            targets.update(_words(fe.config))

    for fe in gone:
        add(fe)
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(d.actions):
            if a not in CONTINUING:
                continue
            fe = new.elements[i]
            hit = sorted(_words(fe.config) & targets - {fe.name})
            if hit:
                d.actions[i] = REPLACE
                d.reasons[i] = f"names '{hit[0]}', which changes"
                add(old.elements[d.previous[i]])
                changed = True


def diff(old: Plan, new: Plan, lookup) -> PlanDiff:
    """The actions that turn old's running graph into new's.

    ``lookup(class name)`` gives the element class (for its live_reconfigure
    and replace_on_reload declarations), or None.
    """
    d = PlanDiff(old, new)
    match = _match(old, new)
    taken = set()
    for i, fe in enumerate(new.elements):
        j = match.get(i)
        if j is None:
            d.actions.append(ADD)
            d.previous.append(None)
            d.reasons.append("")
            continue
        taken.add(j)
        d.previous.append(j)
        oe = old.elements[j]
        same_ports = old.ports[j] == new.ports[i]
        if oe.class_name != fe.class_name:
            d.actions.append(REPLACE)
            d.reasons.append(f"was {oe.class_name}")
        elif not same_ports:
            d.actions.append(REPLACE)
            d.reasons.append("ports changed")
        elif oe.config != fe.config:
            cls = lookup(fe.class_name)
            in_place = cls is not None and getattr(cls, "live_reconfigure", False) \
                and not getattr(cls, "replace_on_reload", False)
            d.actions.append(RECONFIGURE if in_place else REPLACE)
            d.reasons.append("configuration changed")
        else:
            d.actions.append(KEEP)
            d.reasons.append("" if oe.name == fe.name else f"was {oe.name}")
    d.removed = [j for j in range(len(old.elements)) if j not in taken]
    _replace_dependents(d, lookup)

    # A continuing object is reconnected when its connections changed or a
    # peer is a new object (its port pointers then point elsewhere).
    # Peers are compared by the old element they continue, so that a made-up
    # name that shifted is no change; a new object is a peer of its own.
    continuing = {i: d.previous[i] for i, a in enumerate(d.actions) if a in CONTINUING}
    old_nb = _neighbours(old, lambda j: j)
    new_nb = _neighbours(new, lambda i: continuing.get(i, ("new", i)))
    same_places = _neighbours(new, lambda i: d.previous[i] if d.previous[i] is not None else ("new", i))
    for i, a in enumerate(d.actions):
        if a not in CONTINUING:
            continue
        nb = new_nb[i]
        if nb != old_nb[d.previous[i]] or any(isinstance(peer, tuple) for _, _, peer, _ in nb):
            d.rewired.add(i)
            if a == KEEP:
                d.actions[i] = REWIRE
                why = "a neighbour is new" if same_places[i] == old_nb[d.previous[i]] else "connections changed"
                d.reasons[i] = f"{d.reasons[i]}; {why}" if d.reasons[i] else why
    return d
