# cython: language_level=3
"""Counter: counts packets and bytes, and measures their rates."""
cimport cython
from libc.math cimport pow
from libc.stdint cimport int64_t, uint64_t

from clickpy.runtime.element cimport Element, SimpleElement
from clickpy.runtime.packet cimport Batch, Packet
from clickpy.runtime.scheduler cimport Scheduler

from clickpy.runtime.args import Arg, ArgError, Raw
from clickpy.runtime.handlers import HandlerCall, HandlerError, Read, ReadWrite, Write

# Rates are exponentially weighted moving averages over 1 ms epochs, each
# epoch weighing 1/16 (Click's Counter uses the same stability). Constants,
# so that finding a packet's epoch is a multiplication, not a division.
cdef enum:
    EPOCH_NS = 1000000
cdef double KEEP = 15.0 / 16.0
cdef uint64_t NONE = <uint64_t> -1   # no call (Click's "(counter_t) -1")


@cython.final
cdef class RateMeter:
    """An EWMA of events per second."""
    cdef int64_t epoch
    cdef double epoch_count
    cdef double average   # events per epoch

    def __init__(self):
        self.reset()

    def reset(self):
        self.epoch = 0
        self.epoch_count = 0
        self.average = 0

    cdef inline void add(self, double n, int64_t e) noexcept:
        """n events in the epoch under way, then move on to epoch e."""
        self.epoch_count += n
        if e != self.epoch:
            self._advance(e)

    cdef void _advance(self, int64_t e) noexcept:
        cdef int64_t elapsed = e - self.epoch
        if self.epoch and elapsed > 0:
            self.average = self.average * KEEP + self.epoch_count * (1 - KEEP)
            if elapsed > 1:
                self.average *= pow(KEEP, <double> (elapsed - 1))
        self.epoch = e
        self.epoch_count = 0

    def rate(self):
        """Events per second, as of the epoch under way."""
        return self.average * (1000000000.0 / EPOCH_NS)


def _parse_count_call(text, element=None, handler_optional=False):
    """'N HANDLER [VALUE]' -> (N, HandlerCall, or None when the handler may be omitted)."""
    from clickpy.lang.confstring import shift_word
    from clickpy.runtime.args import Unsigned64

    n, rest = shift_word(text)
    if not rest and not handler_optional:
        raise ArgError("expected 'N HANDLER [VALUE]'")
    return Unsigned64(n), (HandlerCall(rest) if rest else None)


def _write_call(which):
    def write(e, value):
        # As in Click, the handler can be omitted: the count is set, nothing is called.
        try:
            n, call = _parse_count_call(value, handler_optional=True)
            if call is not None:
                call.initialize(e)
        except (ArgError, HandlerError) as err:
            raise HandlerError(f"{which}: {err}") from None
        e.set_call(which, n, call)
    return write


def _read_count_call(e):
    """The count at which the call fires; empty without a call (Click's answer)."""
    return e.count_call_trigger()


cdef class Counter(SimpleElement):
    """=c
    Counter([keywords COUNT_CALL, BYTE_COUNT_CALL])

    =s counters
    measures packet count and rate

    =d
    Passes packets unchanged, counting packets and bytes and measuring their
    rates. COUNT_CALL 'N HANDLER [VALUE]' calls a write handler, before the
    packet goes on, when the packet count becomes exactly N;
    BYTE_COUNT_CALL when the byte count reaches or passes N. Each call fires
    once, until a reset (or a new call) arms it again.

    =h count, byte_count read-only
    =h rate, bit_rate, byte_rate read-only: recent rates per second (EWMA)
    =h reset_counts, reset write-only: zero the counts and rates, and re-arm the calls
    =h count_call read/write: the N of the count call ('' if none); writing
    'N [HANDLER [VALUE]]' sets a new call and arms it
    =h byte_count_call write-only: set a new byte count call, as count_call does
    """
    port_count = "1/1"
    processing = "a"
    arguments = (
        Arg("COUNT_CALL", _parse_count_call, None),
        Arg("BYTE_COUNT_CALL", _parse_count_call, None),
    )
    handlers = (
        Read("count", lambda e: e.count),
        Read("byte_count", lambda e: e.byte_count),
        Read("rate", lambda e: e.rate()),
        Read("bit_rate", lambda e: e.byte_rate() * 8),
        Read("byte_rate", lambda e: e.byte_rate()),
        Write("reset_counts", lambda e, v: e.reset()),
        Write("reset", lambda e, v: e.reset()),
        ReadWrite("count_call", _read_count_call, _write_call("count_call")),
        Write("byte_count_call", _write_call("byte_count_call")),
    )

    cdef public uint64_t count
    cdef public uint64_t byte_count
    cdef public object count_call
    cdef public object byte_count_call
    # Each call's N (NONE: no call) and the count at which it fires next:
    # N while armed, NONE once fired until a reset re-arms it.
    cdef uint64_t _count_trigger
    cdef uint64_t _byte_trigger
    cdef uint64_t _count_fire_at
    cdef uint64_t _byte_fire_at
    cdef object _count_handler
    cdef object _byte_handler
    cdef RateMeter _packets
    cdef RateMeter _bytes
    # The meters hear of packets once per epoch, not once per packet: the
    # counts when they last did, and when the epoch under way ends.
    cdef uint64_t _count_told
    cdef uint64_t _bytes_told
    cdef int64_t _epoch_end
    cdef Scheduler _sched

    def __cinit__(self):
        self._packets = RateMeter()
        self._bytes = RateMeter()
        self._count_trigger = self._count_fire_at = NONE
        self._byte_trigger = self._byte_fire_at = NONE

    def initialize(self, errh):
        self._sched = self.router.scheduler
        for which in ("count_call", "byte_count_call"):
            spec = getattr(self, which)
            if spec is not None:
                try:
                    spec[1].initialize(self)
                except HandlerError as err:
                    return errh.error(f"{which.upper()}: {err}")
                self.set_call(which, spec[0], spec[1])

    def set_call(self, which, n, call):
        """A new call (call None: a count without a handler), armed."""
        if which == "count_call":
            self._count_trigger, self._count_handler = n, call
        else:
            self._byte_trigger, self._byte_handler = n, call
        self._arm()

    def count_call_trigger(self):
        return str(self._count_trigger) if self._count_handler is not None else ""

    cdef void _arm(self):
        self._count_fire_at = self._count_trigger if self._count_handler is not None else NONE
        self._byte_fire_at = self._byte_trigger if self._byte_handler is not None else NONE

    def reset(self):
        self.count = 0
        self.byte_count = 0
        self._packets.reset()
        self._bytes.reset()
        self._count_told = self._bytes_told = 0
        self._epoch_end = 0
        self._arm()

    def take_state(self, old, errh):
        """Carry on old's counts and rates in a reload (swapped, so old gets them back on rollback).

        The calls stay this configuration's: a count call whose N the carried
        count has already passed does not fire.
        """
        cdef Counter c
        if not isinstance(old, Counter):
            return None
        c = old
        self.count, c.count = c.count, self.count
        self.byte_count, c.byte_count = c.byte_count, self.byte_count
        self._packets, c._packets = c._packets, self._packets
        self._bytes, c._bytes = c._bytes, self._bytes
        self._count_told, c._count_told = c._count_told, self._count_told
        self._bytes_told, c._bytes_told = c._bytes_told, self._bytes_told
        self._epoch_end, c._epoch_end = c._epoch_end, self._epoch_end
        return {"counts": 1}

    def rate(self):
        self._tell_meters(self._sched.now())
        return self._packets.rate()

    def byte_rate(self):
        self._tell_meters(self._sched.now())
        return self._bytes.rate()

    @cython.cdivision(True)     # router time is never negative
    cdef void _tell_meters(self, int64_t now) noexcept:
        """Give the meters the packets counted since they last heard, which
        all came in the epoch under way; then move them on to now's epoch.
        (A count set back by hand tells them nothing.)"""
        cdef int64_t e = now // EPOCH_NS
        self._packets.add(<double> (self.count - self._count_told) if self.count >= self._count_told else 0, e)
        self._bytes.add(<double> (self.byte_count - self._bytes_told)
                        if self.byte_count >= self._bytes_told else 0, e)
        self._count_told, self._bytes_told = self.count, self.byte_count
        self._epoch_end = (e + 1) * EPOCH_NS

    cdef inline void _keep_meters_up(self) noexcept:
        cdef int64_t now = self._sched.recent_now()
        if now >= self._epoch_end:
            self._tell_meters(now)

    cdef inline void _calls(self) noexcept:
        if self.count == self._count_fire_at:
            self._count_fire_at = NONE
            self._count_handler.call_write()
        if self.byte_count >= self._byte_fire_at:
            self._byte_fire_at = NONE
            self._byte_handler.call_write()

    cdef Packet *simple_action(self, Packet *p) noexcept:
        self._keep_meters_up()
        self.count += 1
        self.byte_count += p.length
        if self.count == self._count_fire_at or self.byte_count >= self._byte_fire_at:
            self._calls()
        return p

    cdef bint wants_packet_order(self) noexcept:
        # A call fires between two packets: the ones before it go on first.
        return self._count_fire_at != NONE or self._byte_fire_at != NONE

    cdef void simple_action_batch(self, Batch *b) noexcept:
        cdef int i
        cdef uint64_t nbytes = 0
        if self.wants_packet_order():
            SimpleElement.simple_action_batch(self, b)
            return
        self._keep_meters_up()
        for i in range(b.count):
            nbytes += b.p[i].length
        self.count += b.count
        self.byte_count += nbytes

    cdef void push_batch(self, int port, Batch *b) noexcept:
        if self.wants_packet_order():
            Element.push_batch(self, port, b)       # each packet all the way down before the next
        else:
            SimpleElement.push_batch(self, port, b)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = self.input_pull(0)
        if p != NULL:
            self.simple_action(p)
        return p

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        self.input_pull_batch(0, b, max)
        self.simple_action_batch(b)
        return b.count
