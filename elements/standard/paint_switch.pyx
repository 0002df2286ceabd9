# cython: language_level=3
"""PaintSwitch: sends each packet out of the output its paint annotation names."""
from clickpy.runtime.element cimport Element, OutputRun, run_add, run_flush, run_start
from clickpy.runtime.packet cimport PAINT_ANNO_OFFSET, Batch, Packet, packet_clone

from clickpy.runtime.args import Annotation, Arg



cdef class PaintSwitch(Element):
    """=c
    PaintSwitch([ANNO])

    =s paint
    sends packet stream to output chosen per-packet

    =d
    Sends each packet out of the output numbered by its paint annotation (or
    the one-byte annotation ANNO names). Packets whose value names no output
    are dropped; value 255 sends the packet out of every output (clones to
    all but the last).

    Consecutive packets of a batch bound for the same output go on together
    as one batch, so the order in which packets reach the outputs is exactly
    the one-at-a-time order.

    =e
    ... -> ps :: PaintSwitch;
    ps[0] -> ...;  ps[1] -> ...;
    """
    port_count = "1/-"
    processing = "h"
    arguments = (Arg("ANNO", Annotation(1), PAINT_ANNO_OFFSET, positional=True),)

    cdef public int anno

    cdef void _everywhere(self, Packet *p) noexcept:
        cdef int i
        cdef int last = self.noutputs - 1
        cdef Packet *q
        for i in range(last):
            q = packet_clone(p)
            if q != NULL:
                self.output_push(i, q)
        self.checked_output_push(last, p)

    cdef void push(self, int port, Packet *p) noexcept:
        cdef int out = p.anno[self.anno]
        if out != 0xFF:
            self.checked_output_push(out, p)
        else:
            self._everywhere(p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef OutputRun run
        cdef int i, out
        cdef int n = b.count
        run_start(&run)
        b.count = 0
        for i in range(n):
            out = b.p[i].anno[self.anno]
            if out == 0xFF:
                run_flush(self, &run)
                self._everywhere(b.p[i])
            else:
                run_add(self, &run, out, b.p[i])
        run_flush(self, &run)
