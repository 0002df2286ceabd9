# cython: language_level=3
"""PushNull: passes pushed packets on unchanged."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet


cdef class PushNull(Element):
    """=c
    PushNull

    =s basictransfer
    passes packets unchanged

    =d
    Pushes every packet, or batch, it receives out of its output unchanged.
    Its ports are push, which forces a push context where it is.

    =e
    src -> PushNull -> Discard;
    """
    port_count = "1/1"
    processing = "h"

    cdef void push(self, int port, Packet *p) noexcept:
        self.output_push(0, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        self.output_push_batch(0, b)
