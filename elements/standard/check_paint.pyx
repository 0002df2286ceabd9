# cython: language_level=3
"""CheckPaint: sends packets of one paint colour on, and others out of a second output."""
from libc.stdint cimport uint8_t

from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport PAINT_ANNO_OFFSET, Packet

from clickpy.runtime.args import Annotation, Arg
from clickpy.runtime.handlers import ReadWrite

from clickpy.elements.standard.paint import Byte, write_color


cdef class CheckPaint(BranchElement):
    """=c
    CheckPaint(COLOR [, ANNO])

    =s paint
    checks packet paint annotation

    =d
    Passes packets whose paint annotation equals COLOR out of output 0.
    Other packets go out of output 1 if it exists, and are dropped if not.
    ANNO names another one-byte annotation to check instead.

    In a pull context, a pull returns the next packet if it has the colour;
    a packet without it is pushed out of output 1 (or dropped) and the pull
    returns nothing.

    =h color read/write
    The colour.

    =e
    ... -> CheckPaint(2) -> ...   // only packets painted 2 pass
    """
    port_count = "1/1-2"
    processing = "a/ah"
    arguments = (
        Arg("COLOR", Byte, None, positional=True, mandatory=True),
        Arg("ANNO", Annotation(1), PAINT_ANNO_OFFSET, positional=True),
    )
    handlers = (ReadWrite("color", lambda e: e.color, write_color),)

    cdef public uint8_t color
    cdef public int anno

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        out[0] = 0 if p.anno[self.anno] == self.color else 1
        return p
