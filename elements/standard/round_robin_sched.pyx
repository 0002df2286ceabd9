# cython: language_level=3
"""RoundRobinSched: answers pulls from its inputs in turn."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport Packet


cdef class RoundRobinSched(Element):
    """=c
    RoundRobinSched

    =s scheduling
    pulls from round-robin inputs

    =d
    Each pull on the output tries the inputs in turn, starting just after the
    input that gave the last packet, and returns the first packet it gets.
    Inputs whose upstream queues are known to be empty (their notifier
    signals are off) are skipped without pulling.

    RoundRobinSched keeps no packets, so it is transparent to notification:
    the pullers downstream find the notifiers upstream of its inputs. A
    batch pull is a series of single pulls (the same packets, in the same
    order).

    =e
    q0 :: Queue; q1 :: Queue;
    q0 -> [0] r :: RoundRobinSched -> ToDevice(eth0);
    q1 -> [1] r;
    """
    port_count = "-/1"
    processing = "l"
    flags = "S0"

    cdef list _signals
    cdef int _next

    def __cinit__(self):
        self._signals = []
        self._next = 0

    def initialize(self, errh):
        self._signals = [self.router.upstream_empty_signal(self, i, None) for i in range(self.ninputs)]

    cdef Packet *pull(self, int port) noexcept:
        cdef int n = self.ninputs
        cdef int i = self._next
        cdef int j
        cdef Packet *p
        for j in range(n):
            p = self.input_pull(i) if (<NotifierSignal> self._signals[i]).active() else NULL
            i += 1
            if i >= n:
                i = 0
            if p != NULL:
                self._next = i
                return p
        return NULL
