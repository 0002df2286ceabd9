# cython: language_level=3
"""TimeFilter: passes packets whose timestamps lie in a time range."""
from libc.stdint cimport INT64_MAX, int64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet

from clickpy.runtime.args import Arg, Bool, Timestamp, parse_time, unparse_timestamp
from clickpy.runtime.handlers import HandlerCall, HandlerCallArg, HandlerError, Read, ReadWrite, Write


# Click's "no end": the largest time a 32-bit seconds count reaches.
cdef int64_t NO_END = 0x7FFFFFFF * 1000000000


def _time_writer(which):
    def write(e, value):
        try:
            t = parse_time(value)
        except ValueError:
            raise HandlerError("expected time") from None
        e.set_time(which, t)
    return write


cdef class TimeFilter(Element):
    """=c
    TimeFilter(I<keywords> START, END, START_AFTER, END_AFTER, START_DELAY, END_DELAY,
    INTERVAL, STOP, END_CALL)

    =s timestamps
    filter packets by timestamp

    =d
    Passes packets whose timestamp annotations are at least the start time
    and before the end time; others leave on output 1, or are dropped if
    there is none. START and END are absolute times; START_AFTER and
    END_AFTER are relative to the first packet's timestamp; START_DELAY and
    END_DELAY to the time the router starts; INTERVAL is relative to the
    start time. Without a start, the start is the first packet's timestamp.

    When the first packet at or after END arrives, STOP stops the driver;
    END_CALL calls a write handler instead, with '$t' in its value replaced
    by that packet's timestamp. If the handler extends the interval
    ('extend_interval'), the packet is kept and the handler is called again
    when the new end is reached.

    =h start read/write: the start time
    =h end read/write: the end time
    =h interval read/write: end minus start (writing moves the end)
    =h extend_interval write-only: move the end later by a time interval

    =e
    FromDump(trace.pcap, STOP true) -> TimeFilter(START_AFTER 10, INTERVAL 60) -> ToDump(minute.pcap);
    """
    port_count = "1/1-2"
    processing = "a/ah"
    arguments = (
        Arg("START", Timestamp, 0, positional=True),
        Arg("END", Timestamp, 0, positional=True),
        Arg("START_DELAY", Timestamp, 0),
        Arg("END_DELAY", Timestamp, 0),
        Arg("START_AFTER", Timestamp, 0),
        Arg("END_AFTER", Timestamp, 0),
        Arg("INTERVAL", Timestamp, 0),
        Arg("STOP", Bool, False),
        Arg("END_CALL", HandlerCallArg, None),
    )
    handlers = (
        ReadWrite("start", lambda e: unparse_timestamp(e.first), _time_writer("start")),
        ReadWrite("end", lambda e: unparse_timestamp(e.last), _time_writer("end")),
        ReadWrite("interval", lambda e: unparse_timestamp(e.last - e.first), _time_writer("interval")),
        Write("extend_interval", _time_writer("extend_interval")),
    )

    cdef public int64_t start, end, start_delay, end_delay, start_after, end_after, interval
    cdef public bint stop
    cdef public object end_call
    cdef public int64_t first, last
    cdef bint _first_relative, _first_init_relative, _last_relative, _last_init_relative, _last_interval
    cdef bint _ready
    cdef bint _call_ready
    cdef bint _out1             # output 1 exists and is connected

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        self._first_relative = self._first_init_relative = False
        self._last_relative = self._last_init_relative = self._last_interval = False
        # As in Click, a zero time counts as not given.
        if bool(self.start) + bool(self.start_after) + bool(self.start_delay) > 1:
            return errh.error("START, START_AFTER, and START_DELAY are mutually exclusive")
        if self.start:
            self.first = self.start
        elif self.start_delay:
            self.first, self._first_init_relative = self.start_delay, True
        else:
            self.first, self._first_relative = self.start_after, True
        if bool(self.end) + bool(self.end_after) + bool(self.end_delay) + bool(self.interval) > 1:
            return errh.error("END, END_AFTER, END_DELAY, and INTERVAL are mutually exclusive")
        if self.end:
            self.last = self.end
        elif self.end_after:
            self.last, self._last_relative = self.end_after, True
        elif self.end_delay:
            self.last, self._last_init_relative = self.end_delay, True
        elif self.interval:
            self.last, self._last_interval = self.interval, True
        else:
            self.last = NO_END
        if self.end_call is not None and self.stop:
            return errh.error("END_CALL and STOP are mutually exclusive")
        if self.stop:
            self.end_call = HandlerCall("stop true")
        self._ready = False
        return True

    def initialize(self, errh):
        if self.end_call is not None:
            try:
                self.end_call.initialize(self)
            except HandlerError as err:
                return errh.error(f"END_CALL: {err}")
        if self._first_init_relative or self._last_init_relative:
            now = self.router.scheduler.now()
            if self._first_init_relative:
                self.first += now
            if self._last_init_relative:
                self.last += now
        self._call_ready = self.end_call is not None
        self._out1 = self.noutputs > 1 and self.output_is_push(1) and self.output_peer(1) is not None
        return True

    cdef void _first_packet(self, int64_t ts) noexcept:
        if self._first_relative:
            self.first += ts
        if self._last_relative:
            self.last += ts
        elif self._last_interval:
            self.last += self.first
        self._ready = True

    cdef bint _keep(self, Packet *p) noexcept:
        """Whether p is in range (calling END_CALL when p is the first past the end)."""
        cdef int64_t ts = p.timestamp
        cdef int64_t prev
        if not self._ready:
            self._first_packet(ts)
        if ts < self.first:
            return False
        if ts >= self.last and self.end_call is not None and self._call_ready:
            while True:
                prev = self.last
                self._call_ready = False
                self._call_end(ts)
                if not (ts >= self.last and self.end_call is not None and self._call_ready and self.last > prev):
                    break
        return ts < self.last

    cdef void _call_end(self, int64_t ts) noexcept:
        try:
            call = self.end_call
            value = call.value.replace("${t}", unparse_timestamp(ts)).replace("$t", unparse_timestamp(ts))
            call.call_write(value)
        except BaseException:
            pass

    cdef void push(self, int port, Packet *p) noexcept:
        if self._keep(p):
            self.output_push(0, p)
        else:
            self.checked_output_push(1, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef Batch rejected
        cdef int i, j = 0
        cdef Packet *p
        rejected.count = 0
        if (self.end_call is not None and self._call_ready) or self._out1:
            # END_CALL may run between two packets, and packets to both outputs
            # must leave in their order: then go packet by packet.
            Element.push_batch(self, port, b)
            return
        for i in range(b.count):
            p = b.p[i]
            if self._keep(p):
                b.p[j] = p
                j += 1
            else:
                rejected.p[rejected.count] = p
                rejected.count += 1
        b.count = j
        self.output_push_batch(0, b)
        for i in range(rejected.count):
            self.drop_rejected(rejected.p[i])

    cdef inline void drop_rejected(self, Packet *p) noexcept:
        self.checked_output_push(1, p)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = self.input_pull(0)
        if p == NULL:
            return NULL
        if self._keep(p):
            return p
        self.checked_output_push(1, p)
        return NULL

    def set_time(self, which, t):
        if which == "start":
            if not self._ready:
                self._first_packet(t)
            self.first = t
        elif which == "end":
            self.last = t
            self._last_relative = self._last_init_relative = self._last_interval = False
            self._call_ready = True
        elif which == "interval":
            self.last = min(self.first + t, INT64_MAX)
            self._call_ready = True
        else:
            # Saturating: extended again and again, the end stays the largest time.
            self.last = min(self.last + t, INT64_MAX)
            self._call_ready = True
