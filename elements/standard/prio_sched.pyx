# cython: language_level=3
"""PrioSched: answers each pull from the first input, in port order, that has a packet."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport Packet


cdef class PrioSched(Element):
    """=c
    PrioSched

    =s scheduling
    pulls from priority-scheduled inputs

    =d
    Each pull on the output tries the inputs in order, 0 first, and returns
    the first packet it gets: input 0 has strict priority over input 1, and
    so on. Inputs whose upstream queues are known to be empty (their
    notifier signals are off) are skipped without pulling.

    PrioSched keeps no packets, so it is transparent to notification: the
    pullers downstream find the notifiers upstream of its inputs (their
    signal is on while any input may have packets).

    A batch pull is a series of single pulls (the same packets, in the same
    order: a NULL from an input may mean a dropped packet, not an empty one).

    =e
    q0 :: Queue; q1 :: Queue;
    q0 -> [0] p :: PrioSched -> ToDevice(eth0);   // q0 first
    q1 -> [1] p;
    """
    port_count = "-/1"
    processing = "l"
    flags = "S0"

    cdef list _signals

    def __cinit__(self):
        self._signals = []

    def initialize(self, errh):
        self._signals = [self.router.upstream_empty_signal(self, i, None) for i in range(self.ninputs)]

    cdef Packet *pull(self, int port) noexcept:
        cdef int i
        cdef Packet *p
        for i in range(self.ninputs):
            if (<NotifierSignal> self._signals[i]).active():
                p = self.input_pull(i)
                if p != NULL:
                    return p
        return NULL
