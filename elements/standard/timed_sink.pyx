# cython: language_level=3
"""TimedSink: pulls a packet every INTERVAL and drops it."""
from libc.stdint cimport int64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet, packet_kill
from clickpy.runtime.scheduler cimport Scheduler, Timer

from clickpy.runtime.args import Arg, ArgError, PositiveInterval, unparse_interval
from clickpy.runtime.handlers import HandlerError, ReadWrite



def _write_interval(e, value):
    try:
        e.interval = PositiveInterval(value)
    except ArgError:
        raise HandlerError("bad interval") from None


cdef class TimedSink(Element):
    """=c
    TimedSink([INTERVAL])

    =s basicsources
    periodically pulls and drops a packet

    =d
    Pulls one packet every INTERVAL (a time, not zero; default 500
    milliseconds) and drops it. Driven by a timer, so the pulls are INTERVAL apart exactly, in
    simulated time too.

    =h interval read/write

    =e
    ... -> Shaper(1000) -> TimedSink(1ms);
    """
    port_count = "1/0"
    processing = "l"
    arguments = (Arg("INTERVAL", PositiveInterval, 500000000, positional=True),)
    handlers = (
        ReadWrite("interval", lambda e: unparse_interval(e.interval), _write_interval, calm=True),
    )

    cdef public int64_t interval    # nanoseconds
    cdef Timer _timer
    cdef Scheduler _sched

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self._timer = Timer(self)
        self._timer.initialize(self._sched)
        self._timer.schedule_at(self._sched.now() + self.interval)

    cdef void run_timer(self, object timer) noexcept:
        cdef Packet *p = self.input_pull(0)
        if p != NULL:
            packet_kill(p)
        self._timer.schedule_at(self._timer.expiry + self.interval)
