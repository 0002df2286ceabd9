# cython: language_level=3
"""LinkUnqueue: emulates a serial link of given latency and bandwidth."""
from libc.stdint cimport int64_t, uint32_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport EXTRA_LENGTH_ANNO_OFFSET, Packet, packet_kill, pkt_anno_u32
from clickpy.runtime.scheduler cimport Scheduler, Task, Timer

from clickpy.runtime.args import Arg, ArgError, Interval, unparse_interval
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite, Write

from clickpy.elements.standard.rate_args import BandwidthArg

cdef int64_t TIMER_ADJUSTMENT_NS = 500000


def _bandwidth(text, element=None):
    v = BandwidthArg(text, element)
    if v < 100:
        raise ArgError("bandwidth too small, minimum 100Bps")
    return v


def _bandwidth_hundreds(text, element=None):
    # Click keeps the bandwidth in units of 100 bytes per second.
    return _bandwidth(text, element) // 100


def _write(which):
    def write(e, value):
        if which == "latency":
            try:
                e.latency = Interval(value)
            except ArgError:
                raise HandlerError("latency must be a timestamp") from None
        elif which == "bandwidth":
            try:
                e.bandwidth_hundreds = _bandwidth_hundreds(value)
            except ArgError as err:
                raise HandlerError(str(err) if "small" in str(err) else "invalid bandwidth") from None
        e.reset()
    return write


cdef class LinkUnqueue(Element):
    """=c
    LinkUnqueue(LATENCY, BANDWIDTH)

    =s shaping
    link emulator

    =d
    Pulls packets and delays them as a serial link with latency LATENCY
    (a time) and bandwidth BANDWIDTH (such as "384kbps") would: each packet
    is delayed by LATENCY, plus its length (with its extra-length annotation)
    over BANDWIDTH, plus the time the packets ahead of it occupy the link.
    Packets are pushed out when they arrive at the far end, timestamped with
    that time. It pulls only while there is room on the link (the last
    packet on it left the near end), so put a Queue before it to emulate a
    link fed by a queue. Sleeps while the queues upstream are empty and
    while nothing is due (a timer wakes it).

    Uses the packets' "next packet" links (the link holds them in a list).

    =h latency read/write
    =h bandwidth read/write: bytes per second
    =h size read-only: packets on the link
    =h reset write-only: drop the packets on the link (writing latency or
    bandwidth does this too)

    =e
    ... -> Queue -> LinkUnqueue(5ms, 1Mbps) -> ...
    """
    port_count = "1/1"
    processing = "l/h"
    arguments = (
        Arg("LATENCY", Interval, None, positional=True, mandatory=True),
        Arg("BANDWIDTH", _bandwidth_hundreds, None, positional=True, mandatory=True,
            attr="bandwidth_hundreds"),
    )
    handlers = (
        ReadWrite("latency", lambda e: unparse_interval(e.latency), _write("latency"), calm=True),
        ReadWrite("bandwidth", lambda e: e.bandwidth_hundreds * 100, _write("bandwidth"), calm=True),
        Read("size", lambda e: e.size),
        Write("reset", lambda e, v: e.reset(), button=True),
    )

    cdef Packet *_qhead             # packets on the link, oldest first, linked by next
    cdef Packet *_qtail
    cdef public int64_t latency     # nanoseconds
    cdef public uint32_t bandwidth_hundreds     # bytes per second / 100 (Click's unit)
    cdef public unsigned size
    cdef bint _back_to_back         # the last packet was pulled right after the one before
    cdef public Task task
    cdef Timer _timer
    cdef NotifierSignal _signal
    cdef Scheduler _sched

    def __cinit__(self):
        self._qhead = self._qtail = NULL
        self.task = None

    def __dealloc__(self):
        self._drop_all()

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self.task = Task(self)
        self.task.initialize(self._sched, True)
        self._timer = Timer(self)
        self._timer.initialize(self._sched)
        self._signal = self.router.upstream_empty_signal(self, 0, self.task)
        self._back_to_back = False

    def cleanup(self, stage):
        self._drop_all()

    cdef void _drop_all(self) noexcept:
        cdef Packet *p
        while self._qhead != NULL:
            p = self._qhead
            self._qhead = p.next
            p.next = NULL
            packet_kill(p)
        self._qtail = NULL
        self.size = 0

    def reset(self):
        self._drop_all()
        if self.task is not None:
            self._timer.unschedule()
            self.task.reschedule()

    def take_state(self, old, errh):
        """Carry on the packets on old's link in a reload: they arrive when old
        had them arrive, and new packets queue behind them at this element's
        latency and bandwidth. Swapped, so ``old.take_state(self)`` gives them back."""
        cdef LinkUnqueue o
        cdef Packet *p
        if not isinstance(old, LinkUnqueue):
            return None
        o = old
        p = self._qhead
        self._qhead = o._qhead
        o._qhead = p
        p = self._qtail
        self._qtail = o._qtail
        o._qtail = p
        self.size, o.size = o.size, self.size
        self._back_to_back, o._back_to_back = o._back_to_back, self._back_to_back
        if self._qhead == NULL:
            return None
        self.task.reschedule()
        return {"packets": self.size}

    cdef inline void _delay_by_bandwidth(self, Packet *p, int64_t start) noexcept:
        cdef uint32_t length = p.length + pkt_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET)
        # Click's arithmetic: microseconds, 32 bits.
        cdef uint32_t delay_us = (length * <uint32_t> 10000) // self.bandwidth_hundreds
        p.timestamp = start + <int64_t> delay_us * 1000

    cdef void run_timer(self, object timer) noexcept:
        self.task.reschedule()

    cdef bint run_task(self, object task) noexcept:
        cdef bint worked = False
        cdef int64_t now = self._sched.now()
        cdef int64_t now_delayed = now + self.latency
        cdef int64_t expiry, expiry2
        cdef Packet *p
        # Pull while there is room on the link: the last packet has left the near end.
        while self._qtail == NULL or self._qtail.timestamp <= now_delayed:
            p = self.input_pull(0)
            if p == NULL:
                self._back_to_back = False
                break
            if self._qtail != NULL:
                self._qtail.next = p
                self._delay_by_bandwidth(p, self._qtail.timestamp if self._back_to_back else now_delayed)
            else:
                self._qhead = p
                self._delay_by_bandwidth(p, now_delayed)
            self._qtail = p
            p.next = NULL
            self.size += 1
            worked = self._back_to_back = True
        # Deliver the packets that reached the far end.
        while self._qhead != NULL and self._qhead.timestamp <= now:
            p = self._qhead
            self._qhead = p.next
            if self._qhead == NULL:
                self._qtail = NULL
            p.next = NULL
            self.size -= 1
            self.output_push(0, p)
            worked = True
        # Next: when the head arrives, or (if more may come) when there is room.
        if self._qhead != NULL:
            expiry = self._qhead.timestamp
            if self._signal.active():
                expiry2 = self._qtail.timestamp - self.latency
                if expiry2 < expiry:
                    expiry = expiry2
            if not self._sched.simulated:
                expiry -= TIMER_ADJUSTMENT_NS
            if expiry <= now:
                self.task.fast_reschedule()
            else:
                self._timer.schedule_at(expiry)
        elif self._signal.active():
            self.task.fast_reschedule()
        return worked
