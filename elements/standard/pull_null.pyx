# cython: language_level=3
"""PullNull: passes pulled packets on unchanged."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet


cdef class PullNull(Element):
    """=c
    PullNull

    =s basictransfer
    passes packets unchanged

    =d
    Answers each pull on its output by pulling its input and returning the
    packet (or batch) unchanged. Its ports are pull, which forces a pull
    context where it is.

    =e
    Queue -> PullNull -> Discard;
    """
    port_count = "1/1"
    processing = "l"

    cdef Packet *pull(self, int port) noexcept:
        return self.input_pull(0)

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        return self.input_pull_batch(0, b, max)
