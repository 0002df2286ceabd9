# cython: language_level=3
"""TimedSource: pushes a packet every INTERVAL."""
from libc.stdint cimport int64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet, packet_clone, packet_kill, packet_make
from clickpy.runtime.scheduler cimport Scheduler, Timer

from clickpy.runtime.args import Arg, ArgError, Bool, Data, Int, PositiveInterval, Unsigned, unparse_interval
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite, Write
from clickpy.runtime.packet import LARGE_BUFFER_SIZE


DEFAULT_DATA = b"Random bullshit in a packet, at least 64 bytes long. Well, now it is."
# Click's Packet::default_headroom.
DEFAULT_HEADROOM = 28


def _write_data(e, value):
    e.remake_packet(value.encode("latin-1", "replace"), e.headroom)


def _write_headroom(e, value):
    try:
        headroom = Unsigned(value)
    except ArgError:
        raise HandlerError("bad headroom") from None
    e.remake_packet(e.data, headroom)


def _write_interval(e, value):
    try:
        e.interval = PositiveInterval(value)
    except ArgError:
        raise HandlerError("bad interval") from None


def _write_limit(e, value):
    try:
        e.limit = Int(value)
    except ArgError as err:
        raise HandlerError(f"limit: {err}") from None


def _write_active(e, value):
    try:
        e.active = Bool(value)
    except ArgError:
        raise HandlerError("bad active") from None
    e.kick()


def _write_reset(e, value):
    e.count = 0
    e.kick()


cdef class TimedSource(Element):
    """=c
    TimedSource([INTERVAL, DATA, keywords LIMIT, ACTIVE, STOP, HEADROOM])

    =s basicsources
    periodically generates a packet

    =d
    Pushes a copy of a packet holding DATA about every INTERVAL (a time, not
    zero; default 500 milliseconds), LIMIT packets in all (default -1: forever),
    while ACTIVE (default true). With STOP true the driver stops one INTERVAL
    after the last packet. HEADROOM is the packets' headroom (default 28, as
    Click's). Each packet is timestamped when it is made. Driven by a timer:
    the packets are INTERVAL apart exactly, in simulated time too.

    =h count read-only: packets sent
    =h data, interval, limit, active, headroom read/write
    =h reset write-only: count from zero again (and start if stopped)

    =e
    TimedSource(INTERVAL 0.333) -> Print -> Discard;
    """
    port_count = "0/1"
    processing = "h"
    arguments = (
        Arg("INTERVAL", PositiveInterval, 500000000, positional=True),
        Arg("DATA", Data, DEFAULT_DATA, positional=True),
        Arg("LIMIT", Int, -1),
        Arg("ACTIVE", Bool, True),
        Arg("STOP", Bool, False),
        Arg("HEADROOM", Unsigned, DEFAULT_HEADROOM),
    )
    handlers = (
        ReadWrite("data", lambda e: e.data, _write_data, calm=True),
        ReadWrite("limit", lambda e: e.limit, _write_limit, calm=True),
        ReadWrite("interval", lambda e: unparse_interval(e.interval), _write_interval, calm=True),
        ReadWrite("active", lambda e: e.active, _write_active, calm=True),
        Read("count", lambda e: e.count),
        ReadWrite("headroom", lambda e: e.headroom, _write_headroom, calm=True),
        Write("reset", _write_reset, button=True),
    )

    cdef Packet *_packet
    cdef public bytes data
    cdef public int64_t interval    # nanoseconds
    cdef public int limit
    cdef public int count
    cdef public bint active
    cdef public bint stop
    cdef public unsigned headroom
    cdef Timer _timer
    cdef Scheduler _sched

    def __cinit__(self):
        self._packet = NULL
        self._timer = None

    def __dealloc__(self):
        if self._packet != NULL:
            packet_kill(self._packet)

    def configure(self, conf, errh):
        from clickpy.runtime.args import parse_arguments
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        try:
            self.remake_packet(values["data"], values["headroom"])
        except HandlerError as err:
            return errh.error(str(err))
        self.interval = values["interval"]
        self.limit = values["limit"]
        self.active = values["active"]
        self.stop = values["stop"]
        return True

    def remake_packet(self, bytes data, unsigned headroom):
        cdef const unsigned char[:] view = data
        cdef Packet *p
        if headroom + len(data) > LARGE_BUFFER_SIZE:
            raise HandlerError(f"DATA and HEADROOM: over the largest packet ({LARGE_BUFFER_SIZE})")
        p = packet_make(headroom, &view[0] if len(data) else NULL, len(data), 0)
        if p == NULL:
            raise HandlerError("out of memory")
        if self._packet != NULL:
            packet_kill(self._packet)
        self._packet = p
        self.data = data
        self.headroom = headroom

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self._timer = Timer(self)
        self._timer.initialize(self._sched)
        if self.active:
            self._timer.schedule_at(self._sched.now() + self.interval)

    def kick(self):
        # A write to active or reset restarts a stopped source at once.
        if self._timer is not None and not self._timer.scheduled and self.active:
            self._timer.schedule_at(self._sched.now())

    cdef void run_timer(self, object timer) noexcept:
        cdef Packet *p
        if not self.active:
            return
        if self.limit < 0 or self.count < self.limit:
            p = packet_clone(self._packet)
            if p != NULL:
                p.timestamp = self._sched.now()
                self.output_push(0, p)
            self.count += 1
            # Every INTERVAL from the last expiry: no drift.
            self._timer.schedule_at(self._timer.expiry + self.interval)
        elif self.stop:
            self.router.please_stop_driver()
