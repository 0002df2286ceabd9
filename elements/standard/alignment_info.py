"""AlignmentInfo: what alignment packets arriving at named elements' inputs have."""
from __future__ import annotations

from clickpy.lang.confstring import split_words
from clickpy.runtime.args import ArgError, Int
from clickpy.runtime.element import Element

CONFIGURE_PHASE_INFO = 20


def _primary(router):
    """The AlignmentInfo that holds the information of all of them (the first)."""
    for e in getattr(router, "elements", ()):
        if isinstance(e, AlignmentInfo):
            return e
    return None


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
    arguments = None

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
        primary = _primary(self.router) or self
        for i, arg in enumerate(conf):
            words = split_words(arg)
            if not words:
                errh.warning(f"empty configuration argument {i}")
                continue
            e = self.router.find(words[0], self)
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
            old = primary.table.get(e.eindex)
            primary.table[e.eindex] = pairs
            if old is not None and old != pairs:
                errh.error(f"conflicting AlignmentInfo for '{words[0]}'")
