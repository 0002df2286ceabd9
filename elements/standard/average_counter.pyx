# cython: language_level=3
"""AverageCounter: counts packets and bytes and their average rate since the first packet."""
from libc.stdint cimport uint32_t

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Batch, Packet
from clickpy.runtime.scheduler cimport Scheduler

from clickpy.elements.standard.token_bucket cimport TB_FREQUENCY, tb_jiffies

from clickpy.runtime.args import Arg, Unsigned
from clickpy.runtime.handlers import Read, Write

from clickpy.elements.standard.rate_args import unparse_real


cdef class AverageCounter(SimpleElement):
    """=c
    AverageCounter([IGNORE])

    =s counters
    measures historical packet count and rate

    =d
    Passes packets unchanged, counting packets and bytes, and measures their
    average rate: the count over the time between the first and the latest
    packet (in whole milliseconds, as Click's). The first IGNORE seconds
    (default 0) after the first packet are not counted. Counts are 32-bit, as
    Click's.

    =h count, byte_count read-only
    =h rate read-only: packets per second
    =h byte_rate read-only: bytes per second
    =h reset write-only: zero the counts and restart the average

    =e
    ... -> AverageCounter -> Discard;   // then read its rate
    """
    port_count = "1/1"
    processing = "a"
    arguments = (Arg("IGNORE", Unsigned, 0, positional=True),)
    handlers = (
        Read("count", lambda e: e.count),
        Read("byte_count", lambda e: e.byte_count),
        Read("rate", lambda e: e.rate(False)),
        Read("byte_rate", lambda e: e.rate(True)),
        Write("reset", lambda e, v: e.reset(), button=True),
    )

    cdef public uint32_t count
    cdef public uint32_t byte_count
    cdef public uint32_t first      # tick (ms) of the first packet; 0 before it
    cdef public uint32_t last       # tick of the latest packet
    cdef public uint32_t ignore     # IGNORE, in ticks
    cdef Scheduler _sched

    def configure(self, conf, errh):
        if not SimpleElement.configure(self, conf, errh):
            return False
        self.ignore = <uint32_t> (self.ignore * TB_FREQUENCY)
        return True

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self.reset()

    def reset(self):
        self.count = self.byte_count = 0
        self.first = self.last = 0

    def take_state(self, old, errh):
        """Carry on old's counts and the time of its first and latest packet in a
        reload (swapped, so old gets them back on rollback): the average goes on."""
        cdef AverageCounter a
        if not isinstance(old, AverageCounter):
            return None
        a = old
        self.count, a.count = a.count, self.count
        self.byte_count, a.byte_count = a.byte_count, self.byte_count
        self.first, a.first = a.first, self.first
        self.last, a.last = a.last, self.last
        return {"counts": 1}

    def rate(self, bint bytes_):
        cdef uint32_t d = self.last - self.first
        d -= self.ignore
        if d < 1:
            d = 1
        cdef uint32_t n = self.byte_count if bytes_ else self.count
        return unparse_real((<double> n * TB_FREQUENCY) / d)

    cdef inline void _count(self, uint32_t now, uint32_t length) noexcept:
        if self.first == 0:
            self.first = now
        if now - self.first >= self.ignore:
            self.count += 1
            self.byte_count += length
        self.last = now

    cdef Packet *simple_action(self, Packet *p) noexcept:
        self._count(tb_jiffies(self._sched.now()), p.length)
        return p

    cdef void push_batch(self, int port, Batch *b) noexcept:
        # One clock reading per batch: the packets arrive together.
        cdef uint32_t now = tb_jiffies(self._sched.now())
        cdef int i
        for i in range(b.count):
            self._count(now, b.p[i].length)
        self.output_push_batch(0, b)

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        cdef int i, n = self.input_pull_batch(0, b, max)
        cdef uint32_t now = tb_jiffies(self._sched.now())
        for i in range(n):
            self._count(now, b.p[i].length)
        return n
