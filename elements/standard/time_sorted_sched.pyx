# cython: language_level=3
"""TimeSortedSched: merges packet streams sorted by timestamp into one sorted stream."""
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport ActiveNotifier, NotifierSignal
from clickpy.runtime.packet cimport Packet, packet_kill

from clickpy.runtime.args import Arg, Bool, Int
from clickpy.runtime.handlers import Read
from clickpy.runtime.notifier import SEARCH_CONTINUE_WAKE

cdef struct Held:
    Packet *p
    int input


cdef inline bint earlier(Held *a, Held *b) noexcept:
    return a.p.timestamp < b.p.timestamp


class _UpstreamWoke:
    """Listener on the inputs' notifiers: a queue upstream that gets a packet
    turns this element's own signal on (without waking anybody: the pullers
    downstream listen to those queues themselves)."""
    __slots__ = ("notifier",)

    def __init__(self, notifier):
        self.notifier = notifier

    def reschedule(self):
        self.notifier.set_active(True, False)


cdef class TimeSortedSched(Element):
    """=c
    TimeSortedSched([I<keywords> STOP, BUFFER])

    =s timestamps
    merges sorted packet streams by timestamp

    =d
    Answers each pull with the packet with the earliest timestamp among those
    its inputs offer: it holds up to BUFFER packets (default 1) from each
    input, pulling more from inputs whose notifier signals are on, and
    returns the earliest held packet. The inputs are expected to arrive
    sorted by timestamp; a larger BUFFER copes with small disorder within an
    input. If STOP is true, the driver is stopped when no packet is held and
    every input's signal is off.

    TimeSortedSched is an empty notifier for the pullers downstream (on while
    it holds packets or any input's signal is on), and passes the search on
    to its inputs so that those pullers also wake when a queue upstream gets
    a packet.

    =h well_ordered read-only
    "false" once a packet went out with a timestamp earlier than the packet
    before it (some input was not sorted).

    =e
    tss :: TimeSortedSched(STOP true);
    FromDump(a.pcap) -> [0] tss;
    FromDump(b.pcap) -> [1] tss;
    tss -> ToDump(merged.pcap);
    """
    port_count = "-/1"
    processing = "l"
    flags = "S0"
    arguments = (
        Arg("STOP", Bool, False),
        Arg("BUFFER", Int, 1),
    )
    handlers = (Read("well_ordered", lambda e: e.well_ordered),)

    cdef public bint stop
    cdef public int buffer
    cdef public bint well_ordered
    cdef Held *_heap           # packets held, a binary heap by timestamp
    cdef int _nheld
    cdef int *_space           # per input: how many more packets it may have held
    cdef int *_ready           # inputs with space left (the first _nready entries)
    cdef int _nready
    cdef int64_t _last
    cdef list _signals
    cdef ActiveNotifier _notifier

    def __cinit__(self):
        self._heap = NULL
        self._space = NULL
        self._ready = NULL
        self._nheld = 0
        self._nready = 0
        self._last = 0
        self.well_ordered = True
        self._signals = []
        self._notifier = ActiveNotifier("empty", SEARCH_CONTINUE_WAKE, True)

    def __dealloc__(self):
        cdef int i
        if self._heap != NULL:
            for i in range(self._nheld):
                packet_kill(self._heap[i].p)
        free(self._heap)
        free(self._space)
        free(self._ready)

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        if self.buffer <= 0:
            errh.error("BUFFER must be at least 1")

    def initialize(self, errh):
        cdef int i, n = self.ninputs
        self._heap = <Held *> calloc(max(n * self.buffer, 1), sizeof(Held))
        self._space = <int *> calloc(max(n, 1), sizeof(int))
        self._ready = <int *> calloc(max(n, 1), sizeof(int))
        if not (self._heap and self._space and self._ready):
            return errh.error("out of memory!")
        listener = _UpstreamWoke(self._notifier)
        self._signals = [self.router.upstream_empty_signal(self, i, listener) for i in range(n)]
        for i in range(n):
            self._space[i] = self.buffer
            self._ready[i] = i
        self._nready = n

    def cleanup(self, stage):
        cdef int i
        if self._heap != NULL:
            for i in range(self._nheld):
                packet_kill(self._heap[i].p)
        self._nheld = 0

    def port_notifier(self, isoutput, port, kind):
        return self._notifier if isoutput and kind == "empty" else None

    cdef void _heap_push(self, Packet *p, int input) noexcept:
        cdef int i = self._nheld
        cdef int parent
        cdef Held h
        h.p = p
        h.input = input
        self._nheld += 1
        while i > 0:
            parent = (i - 1) >> 1
            if not earlier(&h, &self._heap[parent]):
                break
            self._heap[i] = self._heap[parent]
            i = parent
        self._heap[i] = h

    cdef void _heap_pop(self) noexcept:
        cdef int n = self._nheld - 1
        cdef Held last = self._heap[n]
        cdef int i = 0
        cdef int child
        self._nheld = n
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and earlier(&self._heap[child + 1], &self._heap[child]):
                child += 1
            if not earlier(&self._heap[child], &last):
                break
            self._heap[i] = self._heap[child]
            i = child
        if n > 0:
            self._heap[i] = last

    cdef Packet *pull(self, int port) noexcept:
        cdef bint signals_on = False
        cdef int rpos, i, inp
        cdef Packet *p
        rpos = self._nready - 1
        while rpos >= 0:
            i = self._ready[rpos]
            if (<NotifierSignal> self._signals[i]).active():
                signals_on = True
                while True:
                    p = self.input_pull(i)
                    if p == NULL:
                        break
                    self._heap_push(p, i)
                    self._space[i] -= 1
                    if self._space[i] == 0:
                        self._ready[rpos] = self._ready[self._nready - 1]
                        self._nready -= 1
                        break
            rpos -= 1
        self._notifier.active = self._nheld > 0 or signals_on
        if self._nheld == 0:
            if self.stop and not signals_on:
                self.router.please_stop_driver()
            return NULL
        p = self._heap[0].p
        inp = self._heap[0].input
        if p.timestamp:
            if self._last and p.timestamp < self._last:
                self.well_ordered = False
            self._last = p.timestamp
        self._space[inp] += 1
        if self._space[inp] == 1:
            self._ready[self._nready] = inp
            self._nready += 1
        self._heap_pop()
        return p
