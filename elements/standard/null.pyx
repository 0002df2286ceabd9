# cython: language_level=3
"""Null: passes packets on unchanged."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet


cdef class Null(Element):
    """=c
    Null

    =s basictransfer
    passes packets unchanged

    =d
    Passes every packet, or batch, from its input to its output unchanged,
    in a push or a pull context.

    =e
    src -> Null -> Discard;
    """
    port_count = "1/1"
    processing = "a"

    cdef void push(self, int port, Packet *p) noexcept:
        self.output_push(0, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        self.output_push_batch(0, b)

    cdef Packet *pull(self, int port) noexcept:
        return self.input_pull(0)

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        return self.input_pull_batch(0, b, max)
