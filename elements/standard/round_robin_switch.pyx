# cython: language_level=3
"""RoundRobinSwitch: sends packets out of its outputs in turn."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet


cdef class RoundRobinSwitch(Element):
    """=c
    RoundRobinSwitch

    =s classification
    sends packets to round-robin outputs

    =d
    Pushes the first packet out of output 0, the next out of output 1, and so
    on, starting again at 0 after the last output. With one output, a batch
    moves on whole; otherwise consecutive packets go to different outputs,
    so a batch is handed on packet by packet (exactly the one-at-a-time
    order).

    =e
    src -> r :: RoundRobinSwitch;
    r[0] -> Queue -> ToDevice(eth0);
    r[1] -> Queue -> ToDevice(eth1);
    """
    port_count = "1/1-"
    processing = "h"

    cdef unsigned _next

    cdef void push(self, int port, Packet *p) noexcept:
        cdef unsigned i = self._next
        self._next = i + 1
        if self._next >= <unsigned> self.noutputs:
            self._next = 0
        self.output_push(i, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef int i, n
        if self.noutputs == 1:
            self.output_push_batch(0, b)
            return
        n = b.count
        b.count = 0
        for i in range(n):
            self.push(port, b.p[i])
