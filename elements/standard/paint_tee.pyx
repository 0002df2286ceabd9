# cython: language_level=3
"""PaintTee: passes every packet on, and a copy of those of one paint colour out of output 1."""
from libc.stdint cimport uint8_t

from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport PAINT_ANNO_OFFSET, Packet, packet_clone

from clickpy.runtime.args import Annotation, Arg
from clickpy.runtime.handlers import ReadWrite

from clickpy.elements.standard.paint import Byte, write_color


cdef class PaintTee(BranchElement):
    """=c
    PaintTee(COLOR [, ANNO])

    =s paint
    duplicates packets of one paint colour

    =d
    Every packet goes out of output 0. A packet whose paint annotation equals
    COLOR also sends a copy (a clone, sharing the data) out of output 1,
    before the packet itself goes on. ANNO names another one-byte annotation
    to compare instead of the paint.

    Routers use it to notice packets that leave on the interface they came
    in on, and answer them with an ICMP redirect.

    =h color read/write
    The colour.

    =e
    routes[7] -> pt :: PaintTee(7) -> ... -> ToDevice(eth7);
    pt[1] -> ICMPError(18.26.4.24, redirect, host) -> ...
    """
    port_count = "1/2"
    emits = True                # classify sends copies (emit)
    processing = "a/ah"
    arguments = (
        Arg("COLOR", Byte, None, positional=True, mandatory=True),
        Arg("ANNO", Annotation(1), PAINT_ANNO_OFFSET, positional=True),
    )
    handlers = (ReadWrite("color", lambda e: e.color, write_color),)

    cdef public uint8_t color
    cdef public int anno

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        # As Click's: the copy leaves on output 1 before the packet on output 0.
        cdef Packet *copy
        out[0] = 0
        if p.anno[self.anno] == self.color:
            copy = packet_clone(p)
            if copy != NULL:
                self.emit(1, copy)
        return p
