# cython: language_level=3
"""RatedSource: generates packets at a fixed rate."""
from libc.stdint cimport int64_t, uint32_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet, packet_clone, packet_kill, packet_make
from clickpy.runtime.scheduler cimport Scheduler, Task, Timer

from clickpy.elements.standard.token_bucket cimport (
    TokenBucket, tb_assign, tb_assign_adjust, tb_init, tb_jiffies, tb_rate, tb_refill,
    tb_remove_if, tb_set, tb_swap_content, tb_time_until_contains,
)

from clickpy.runtime.args import Arg, ArgError, Bool, Data, Int, Unsigned
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite, Write
from clickpy.runtime.packet import LARGE_BUFFER_SIZE

from clickpy.elements.standard.rate_args import BandwidthArg

DEFAULT_DATA = b"Random bullshit in a packet, at least 64 bytes long. Well, now it is."
# Click leaves room for an Ethernet, IP and UDP header in front (and click-align knows it).
cdef uint32_t HEADROOM = 16 + 20 + 24
cdef uint32_t NO_LIMIT = 0xFFFFFFFF
MAX_LENGTH = LARGE_BUFFER_SIZE - HEADROOM     # the largest packet a buffer holds


def _parse(parse, value, e=None):
    try:
        return parse(value, e)
    except ArgError:
        raise HandlerError("syntax error") from None


def _set_packet(e, data, length):
    try:
        e.set_packet(data, length)
    except ValueError as err:
        raise HandlerError(str(err)) from None


def _write_data(e, value):
    _set_packet(e, value.encode("latin-1", "replace"), e.length)


def _write_rate(e, value):
    e.set_rate(_parse(Unsigned, value))


def _write_limit(e, value):
    e.set_limit(_parse(Int, value))


def _write_active(e, value):
    e.set_active(_parse(Bool, value))


def _write_length(e, value):
    _set_packet(e, e.data, _parse(Int, value))


cdef class RatedSource(Element):
    """=c
    RatedSource([DATA, RATE, LIMIT, ACTIVE, keywords LENGTH, STOP, BANDWIDTH])

    =s basicsources
    generates packets at specified rate

    =d
    Makes copies of a packet holding DATA at RATE packets per second (default
    10; 0 sends nothing), LIMIT packets in all (default -1: forever), while
    ACTIVE (default true). LENGTH pads (repeating DATA) or cuts the packet to
    that many bytes. BANDWIDTH (a bandwidth) sets RATE from the packet length
    instead. With STOP true the driver stops once LIMIT packets are out. Each
    packet is timestamped when it is made.

    The rate is Click's token bucket (see RatedUnqueue), with a burst of 2
    packets below 200 per second and RATE/100 above; in push context one
    packet leaves per task run and a timer wakes the task when the next is
    due. In pull context a pull returns a packet if one is due, else nothing.

    =h count read-only: packets made so far
    =h reset write-only: count from zero again (another LIMIT packets)
    =h data, length, rate, limit, active read/write
    =h datasize read/write: the same as length (Click's older name)

    =e
    RatedSource(\\<0800>, 10, 1000) -> Queue -> ...
    """
    port_count = "0/1"
    processing = "a"
    arguments = (
        Arg("DATA", Data, DEFAULT_DATA, positional=True),
        Arg("RATE", Unsigned, 10, positional=True),
        Arg("LIMIT", Int, -1, positional=True),
        Arg("ACTIVE", Bool, True, positional=True),
        Arg("LENGTH", Int, -1),
        Arg("DATASIZE", Int, -1, attr="datasize"),
        Arg("STOP", Bool, False),
        Arg("BANDWIDTH", BandwidthArg, 0),
    )
    handlers = (
        ReadWrite("data", lambda e: e.data, _write_data, calm=True),
        ReadWrite("rate", lambda e: e.rate(), _write_rate),
        ReadWrite("limit", lambda e: -1 if e.limit_value == NO_LIMIT else e.limit_value, _write_limit,
                  calm=True),
        ReadWrite("active", lambda e: e.active, _write_active, calm=True),
        Read("count", lambda e: e.count),
        Write("reset", lambda e, v: e.reset(), button=True),
        ReadWrite("length", lambda e: e.length, _write_length),
        ReadWrite("datasize", lambda e: e.length, _write_length),
    )

    cdef TokenBucket _tb
    cdef Packet *_packet
    cdef public bytes data
    cdef public int length          # packet length; -1: DATA's length
    cdef public int datasize        # old name of LENGTH
    cdef public long long limit     # as configured
    cdef public uint32_t limit_value    # NO_LIMIT for none
    cdef public uint32_t count
    cdef public bint active
    cdef public bint stop
    cdef public unsigned bandwidth
    cdef public Task task
    cdef Timer _timer
    cdef Scheduler _sched

    def __cinit__(self):
        self._packet = NULL
        self.task = None
        tb_init(&self._tb)

    def __dealloc__(self):
        if self._packet != NULL:
            packet_kill(self._packet)

    def configure(self, conf, errh):
        from clickpy.runtime.args import parse_arguments
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        data = values["data"]
        length = values["length"] if values["length"] >= 0 else values["datasize"]
        rate = values["rate"]
        bandwidth = values["bandwidth"]
        if bandwidth > 0:
            size = len(data) if length < 0 else length
            if size <= 0:
                return errh.error("BANDWIDTH needs a packet of at least one byte")
            rate = bandwidth // size
        burst = 2 if rate < 200 else rate // 100
        if bandwidth > 0 and burst < 2 * length:
            burst = 2 * length
        try:
            self.set_packet(data, length)
        except ValueError as err:
            return errh.error(str(err))
        tb_assign(&self._tb, rate, burst)
        self.datasize = length
        self.limit = values["limit"]
        self.limit_value = values["limit"] if values["limit"] >= 0 else NO_LIMIT
        self.active = values["active"]
        self.stop = values["stop"]
        self.bandwidth = bandwidth
        return True

    def set_packet(self, bytes data, int length):
        """Send DATA cut or padded to length (-1: as it is) from now on;
        ValueError, and nothing changed, if no such packet can be made."""
        cdef const unsigned char[:] view
        cdef Packet *p
        packet = data
        if length > MAX_LENGTH or (length < 0 and len(data) > MAX_LENGTH):
            raise ValueError(f"packet longer than the largest packet ({MAX_LENGTH} bytes)")
        if length >= 0:
            if len(data) >= length:
                packet = data[:length]
            elif data:
                packet = (data * (length // len(data) + 1))[:length]
            else:
                packet = bytes(length)
        view = packet
        p = packet_make(HEADROOM, &view[0] if len(packet) else NULL, len(packet), 0)
        if p == NULL:
            raise ValueError(f"cannot make a packet of {len(packet)} bytes")
        if self._packet != NULL:
            packet_kill(self._packet)
        self._packet = p
        self.data, self.length = data, length

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self.count = 0
        if self.output_is_push(0):
            self.task = Task(self)
            self.task.initialize(self._sched, True)
        self._prime()
        self._timer = Timer(self)
        self._timer.initialize(self._sched)

    def take_state(self, old, errh):
        """Carry on old's bucket (token_bucket.pxd, tb_take_content: no burst is
        granted) and packet count (so LIMIT counts on) in a reload; swapped, so
        a rollback restores them."""
        cdef RatedSource o
        if not isinstance(old, RatedSource):
            return None
        o = old
        tb_swap_content(&self._tb, &o._tb)
        self.count, o.count = o.count, self.count
        return {"counts": 1}

    def rate(self):
        return tb_rate(&self._tb)

    cdef void _prime(self) noexcept:
        # The first packet goes at once, unless the rate is 0: then none does.
        tb_set(&self._tb, 1 if self._tb.tokens_per_tick else 0)

    def set_rate(self, unsigned rate):
        tb_assign_adjust(&self._tb, rate, 2 if rate < 200 else rate // 100)
        if rate == 0:
            tb_set(&self._tb, 0)
        # A task waiting (perhaps for ever, at rate 0) on the old rate's timer
        # looks again now.
        if self.task is not None and self.active and not self.task.scheduled:
            self._timer.unschedule()
            self.task.reschedule()

    def set_limit(self, long long limit):
        self.limit = limit
        self.limit_value = limit if limit >= 0 else NO_LIMIT

    def set_active(self, bint active):
        self.active = active
        if self.task is not None and not self.task.scheduled and active:
            self._prime()
            self.task.reschedule()

    def reset(self):
        self.count = 0
        self._prime()
        if self.task is not None and not self.task.scheduled and self.active:
            self.task.reschedule()

    cdef void run_timer(self, object timer) noexcept:
        self.task.reschedule()

    cdef inline Packet *_make(self, int64_t now) noexcept:
        cdef Packet *p = packet_clone(self._packet)
        if p != NULL:
            p.timestamp = now
        return p

    cdef bint run_task(self, object task) noexcept:
        cdef int64_t now
        cdef Packet *p
        if not self.active:
            return False
        if self.limit_value != NO_LIMIT and self.count >= self.limit_value:
            if self.stop:
                self.router.please_stop_driver()
            return False
        now = self._sched.now()
        tb_refill(&self._tb, tb_jiffies(now))
        if tb_remove_if(&self._tb, 1):
            p = self._make(now)
            self.count += 1
            if p != NULL:
                self.output_push(0, p)
            self.task.fast_reschedule()
            return True
        self._timer.schedule_at(now + <int64_t> tb_time_until_contains(&self._tb, 1) * 1000000)
        return False

    cdef Packet *pull(self, int port) noexcept:
        cdef int64_t now
        if not self.active:
            return NULL
        if self.limit_value != NO_LIMIT and self.count >= self.limit_value:
            if self.stop:
                self.router.please_stop_driver()
            return NULL
        now = self._sched.now()
        tb_refill(&self._tb, tb_jiffies(now))
        if tb_remove_if(&self._tb, 1):
            self.count += 1
            return self._make(now)
        return NULL
