"""AlignmentInfo: what alignment packets arriving at named elements' inputs have."""
from __future__ import annotations

from clickpy.lang.confstring import split_words
from clickpy.runtime.args import Arg, ArgError, Int, language, parse_arguments
from clickpy.runtime.element import Element

CONFIGURE_PHASE_INFO = 20


def _primary(router):
    """The AlignmentInfo that holds the information of all of them (the first)."""
    for e in getattr(router, "elements", ()):
        if isinstance(e, AlignmentInfo):
            return e
    return None


def _alignments(texts, element, errh):
    """AlignmentInfo's arguments, each 'ELEMENT [MODULUS OFFSET ...]' -> [(name, element, pairs)].
    Arguments naming no element are skipped."""
    out = []
    for i, arg in enumerate(texts):
        words = split_words(arg)
        if not words:
            errh.warning(f"empty configuration argument {i}")
            continue
        e = element.router.find(words[0], element)
        if e is None:
            continue
        if len(words) % 2 != 1:
            errh.error("expected 'ELEMENTNAME CHUNK OFFSET [CHUNK OFFSET...]'")
        pairs = []
        for j in range(1, len(words) - 1, 2):
            chunk = offset = -1
            try:
                chunk = Int(words[j])
            except ArgError:
                errh.error("expected CHUNK")
            try:
                offset = Int(words[j + 1])
            except ArgError:
                errh.error("expected OFFSET")
            pairs.append((chunk, offset))
        out.append((words[0], e, pairs))
    return out


class AlignmentInfo(Element):
    """=c
    AlignmentInfo(ELEMENT [MODULUS OFFSET ...], ...)

    =s information
    specifies alignment information

    =d
    Records the alignment packets have when they reach the inputs of
    ELEMENT: packets arriving on input I start OFFSETI bytes past a
    MODULUSI-byte boundary, for each MODULUS OFFSET pair in turn. All the
    AlignmentInfo elements of a configuration pool what they say; saying two
    different things about one element is an error. Arguments naming no
    element are ignored (as Click's click-align output may).

    Elements ask with ``AlignmentInfo.query(element, port)``, which returns
    (MODULUS, OFFSET) or None.

    =e
    AlignmentInfo(src 4 2, dst 4 0);
    """
    port_count = "0/0"
    processing = "a"
    configure_phase = CONFIGURE_PHASE_INFO
    arguments = (Arg("ELEMENT", language(_alignments), rest=True, doc="'ELEMENT [MODULUS OFFSET ...]', any number"),)

    def __init__(self, *args, **kwargs):
        self.table: dict[int, list[tuple[int, int]]] = {}   # element index -> per input (chunk, offset)

    @staticmethod
    def query(element, port: int):
        """(modulus, offset) for packets arriving at element's input port, or None."""
        primary = _primary(getattr(element, "router", None))
        if primary is None:
            return None
        pairs = primary.table.get(element.eindex)
        if pairs is None or not 0 <= port < len(pairs):
            return None
        return pairs[port]

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        primary = _primary(self.router) or self
        for name, e, pairs in values["element"]:
            old = primary.table.get(e.eindex)
            primary.table[e.eindex] = pairs
            if old is not None and old != pairs:
                errh.error(f"conflicting AlignmentInfo for '{name}'")
