# cython: language_level=3
"""CheckPaint: sends packets of one paint colour on, and others out of a second output."""
from libc.stdint cimport uint8_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport PAINT_ANNO_OFFSET, Batch, Packet

from clickpy.runtime.args import Annotation, Arg
from clickpy.runtime.handlers import ReadWrite

from clickpy.elements.standard.paint import Byte, write_color


cdef class CheckPaint(Element):
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

    cdef void push(self, int port, Packet *p) noexcept:
        if p.anno[self.anno] != self.color:
            self.checked_output_push(1, p)
        else:
            self.output_push(0, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        # Runs of consecutive packets with the same verdict go on together.
        cdef Batch run
        cdef int i, out, cur = -1
        run.count = 0
        for i in range(b.count):
            out = 0 if b.p[i].anno[self.anno] == self.color else 1
            if out != cur and run.count:
                self.checked_output_push_batch(cur, &run)
                run.count = 0
            cur = out
            run.p[run.count] = b.p[i]
            run.count += 1
        b.count = 0
        if run.count:
            self.checked_output_push_batch(cur, &run)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = self.input_pull(0)
        if p != NULL and p.anno[self.anno] != self.color:
            self.checked_output_push(1, p)
            return NULL
        return p

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        cdef int i, j = 0
        self.input_pull_batch(0, b, max)
        for i in range(b.count):
            if b.p[i].anno[self.anno] != self.color:
                self.checked_output_push(1, b.p[i])
            else:
                b.p[j] = b.p[i]
                j += 1
        b.count = j
        return j
