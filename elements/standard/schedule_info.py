"""ScheduleInfo: how often named elements' tasks run, relative to each other."""
from __future__ import annotations

import math

from clickpy.lang.confstring import split_words
from clickpy.runtime.args import Arg, ArgError, Double, language, parse_arguments
from clickpy.runtime.element import Element

FRAC_BITS = 10                 # parameters are fixed point, 1.0 = 1 << FRAC_BITS
DEFAULT_TICKETS = 1 << FRAC_BITS
MAX_TICKETS = 1 << 15
# Tasks exist only once their elements are initialized, so ScheduleInfo
# initializes last (Click's CONFIGURE_PHASE_LAST) and sets their tickets then.
CONFIGURE_PHASE_LAST = 2000


def _compound_prefix(element) -> str:
    name = getattr(element, "name", "") or ""
    return name.rsplit("/", 1)[0] + "/" if "/" in name else ""


def _fixed(text: str) -> int:
    v = Double(text)
    if not 0 <= v < math.inf:   # Click's reals include 'inf' and 'nan'; no share can be either
        raise ArgError("expected nonnegative real")
    return int(round(v * DEFAULT_TICKETS))


def _define(texts, element, errh):
    """ScheduleInfo's arguments, each 'ELEMENTNAME PARAM': defines them in element.params."""
    for arg in texts:
        words = split_words(arg)
        if not words:
            continue
        try:
            if len(words) != 2:
                raise ArgError("")
            element.params[words[0]] = _fixed(words[1])
        except ArgError:
            errh.error("expected 'ELEMENTNAME PARAM'")
    return element.params


class ScheduleInfo(Element):
    """=c
    ScheduleInfo(ELEMENT PARAM, ...)

    =s information
    specifies scheduling parameters

    =d
    Sets how often the tasks of the named elements run, relative to each
    other: an element with PARAM 2 runs twice as often as one with the
    default, 1 (its task gets PARAM times the default number of tickets,
    1024, at most 32768).

    Names are relative to the compound element the ScheduleInfo is in. A
    ScheduleInfo outside a compound may give the compound itself a PARAM:
    it scales the PARAMs of the compound's components. An outer
    ScheduleInfo that names a component directly ('c/i 3') overrides the
    compound's own settings for it.

    The tickets are set once every element has made its tasks (this element
    initializes after the others).

    =e
    elementclass Compound { i :: InfiniteSource -> output; ScheduleInfo(i 0.5) }
    c :: Compound -> Discard;
    ScheduleInfo(c 4);     // c/i gets 4 * 0.5 = 2 times the default tickets
    """
    port_count = "0/0"
    processing = "a"
    configure_phase = CONFIGURE_PHASE_LAST
    arguments = (Arg("ELEMENT", language(_define), rest=True, doc="'ELEMENTNAME PARAM', any number"),)

    def __init__(self, *args, **kwargs):
        self.params: dict[str, int] = {}   # name relative to this compound -> fixed-point PARAM

    def configure(self, conf, errh):
        return parse_arguments(self, conf, type(self).arguments, errh) is not None

    def initialize(self, errh):
        infos = [e for e in self.router.elements if isinstance(e, ScheduleInfo)]
        if infos[0] is not self:
            return  # the first ScheduleInfo applies what all of them say
        for e in self.router.elements:
            task = getattr(e, "task", None)
            if task is None or not hasattr(task, "tickets"):
                continue
            tickets = tickets_for(self.router, e.name)
            if tickets > MAX_TICKETS:
                errh.warning(f"ScheduleInfo too high; reduced to {MAX_TICKETS >> FRAC_BITS}")
                tickets = MAX_TICKETS
            if tickets != DEFAULT_TICKETS:
                task.tickets = max(tickets, 1)


def _param(router, name: str, scopes) -> tuple[int, str] | None:
    """The outermost definition covering a prefix of name: (value, the prefix), deepest prefix first."""
    for ctx, params in scopes:
        if not name.startswith(ctx):
            continue
        rel = name[len(ctx):].split("/")
        for k in range(len(rel), 0, -1):
            key = "/".join(rel[:k])
            if key in params:
                return params[key], ctx + key
    return None


def tickets_for(router, name: str) -> int:
    """Tickets for the task of the element called name (DEFAULT_TICKETS if nobody says)."""
    merged: dict[str, dict[str, int]] = {}
    for e in router.elements:
        if isinstance(e, ScheduleInfo):
            merged.setdefault(_compound_prefix(e), {}).update(e.params)
    # Outermost contexts first: they override inner ones.
    scopes = sorted(merged.items(), key=lambda kv: len(kv[0]))
    tickets = DEFAULT_TICKETS
    prefix = ""
    while True:
        inner = [(ctx, p) for ctx, p in scopes if ctx.startswith(prefix)]
        found = _param(router, name, inner)
        if found is None:
            return tickets
        value, covered = found
        tickets = (tickets * value) >> FRAC_BITS
        if covered == name:
            return tickets
        prefix = covered + "/"
