# cython: language_level=3
"""InfiniteSource: generates copies of one packet whenever scheduled."""
from libc.stdint cimport int64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport ActiveNotifier, NotifierSignal
from clickpy.runtime.packet cimport Batch, MAX_BATCH, Packet, packet_clone, packet_kill, packet_make
from clickpy.runtime.scheduler cimport Scheduler, Task

from clickpy.runtime.args import Arg, ArgError, Bool, Data, Int
from clickpy.runtime.handlers import HandlerCallArg, HandlerError, Read, ReadWrite, Write
from clickpy.runtime.packet import LARGE_BUFFER_SIZE

DEFAULT_DATA = b"Random bullshit in a packet, at least 64 bytes long. Well, now it is."
cdef unsigned HEADROOM = 48
MAX_LENGTH = LARGE_BUFFER_SIZE - HEADROOM     # the largest packet a buffer holds


def _burst(text, element=None):
    v = Int(text, element)
    if v < 1:
        raise ArgError("burst size must be >= 1")
    return v


def _set(attr, parse):
    def write(e, value):
        try:
            v = parse(value, e)
        except ArgError as err:
            raise HandlerError(f"{attr}: {err}") from None
        old = getattr(e, attr)
        setattr(e, attr, v)
        try:
            e.setup_packet()
        except ValueError as err:
            setattr(e, attr, old)
            raise HandlerError(f"{attr}: {err}") from None
        e.wake()
    return write


cdef class InfiniteSource(Element):
    """=c
    InfiniteSource([DATA, LIMIT, BURST, ACTIVE, keywords LENGTH, STOP, END_CALL, TIMESTAMP])

    =s basicsources
    generates packets whenever scheduled

    =d
    Pushes BURST copies of a packet holding DATA each time it is scheduled,
    LIMIT packets in all (negative: forever), while ACTIVE. LENGTH pads or
    cuts the packet to that many bytes. STOP stops the driver once LIMIT
    packets are out; END_CALL calls a write handler then instead. In a pull
    context, hands out a packet per pull. Bursts larger than one travel as a
    batch.

    =h count read-only: packets generated
    =h reset write-only: start counting (and generating) again
    =h data, length, limit, burst, active read/write

    =e
    InfiniteSource(LENGTH 64, LIMIT 1000, STOP true) -> Counter -> Discard;
    """
    port_count = "0/1"
    processing = "a"
    flags = ""
    arguments = (
        Arg("DATA", Data, DEFAULT_DATA, positional=True),
        Arg("LIMIT", Int, -1, positional=True),
        Arg("BURST", _burst, 1, positional=True),
        Arg("ACTIVE", Bool, True, positional=True),
        Arg("TIMESTAMP", Bool, True),
        Arg("LENGTH", Int, -1),
        Arg("DATASIZE", Int, -1, attr="datasize"),
        Arg("STOP", Bool, False),
        Arg("END_CALL", HandlerCallArg, None),
    )
    handlers = (
        Read("count", lambda e: e.count),
        Write("reset", lambda e, v: e.reset()),
        ReadWrite("data", lambda e: e.data, _set("data", Data)),
        ReadWrite("length", lambda e: e.length, _set("length", Int)),
        ReadWrite("limit", lambda e: e.limit, _set("limit", Int)),
        ReadWrite("burst", lambda e: e.burst, _set("burst", _burst)),
        ReadWrite("active", lambda e: e.active, _set("active", Bool)),
    )

    cdef Packet *_packet
    cdef public bytes data
    cdef public long long limit
    cdef public long long count
    cdef public int burst
    cdef public int length
    cdef public int datasize
    cdef public bint active
    cdef public bint timestamp
    cdef public bint stop
    cdef public object end_call
    cdef public Task task
    cdef Scheduler _sched
    cdef NotifierSignal _nonfull
    cdef ActiveNotifier _notifier
    cdef bint _per_packet

    def __cinit__(self):
        self._packet = NULL
        self.task = None
        self._notifier = ActiveNotifier("empty", 0, True)

    def __dealloc__(self):
        if self._packet != NULL:
            packet_kill(self._packet)

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        if self.length < 0 and self.datasize >= 0:
            self.length = self.datasize
        if self.stop and self.end_call is not None:
            return errh.error("END_CALL and STOP are mutually exclusive")
        if self.stop:
            from clickpy.runtime.handlers import HandlerCall
            self.end_call = HandlerCall("stop")
        try:
            self.setup_packet()
        except ValueError as err:
            return errh.error(str(err))

    def setup_packet(self):
        """Make the packet to send from DATA and LENGTH; ValueError (and the old
        packet kept) if it cannot be made."""
        cdef Packet *p
        data = self.data
        if self.length >= 0:
            if self.length > MAX_LENGTH:
                raise ValueError(f"LENGTH {self.length}: over the largest packet ({MAX_LENGTH})")
            data = (data * (self.length // max(len(data), 1) + 1))[: self.length] if data else bytes(self.length)
        if len(data) > MAX_LENGTH:
            raise ValueError(f"DATA of {len(data)} bytes: over the largest packet ({MAX_LENGTH})")
        cdef const unsigned char[:] view = data
        p = packet_make(HEADROOM, &view[0] if len(data) else NULL, len(data), 0)
        if p == NULL:
            raise ValueError("no packet buffers left")
        if self._packet != NULL:
            packet_kill(self._packet)
        self._packet = p

    def initialize(self, errh):
        self._sched = self.router.scheduler
        # 'clickpy run --per-packet': bursts go out one packet at a time, as Click's do.
        self._per_packet = getattr(self.router, "per_packet", False)
        if self.end_call is not None:
            try:
                self.end_call.initialize(self)
            except HandlerError as err:
                return errh.error(f"END_CALL: {err}")
        if self.output_is_push(0):
            self.task = Task(self)
            self.task.initialize(self._sched, self.active)
            self._nonfull = self.router.downstream_full_signal(self, 0, self.task)

    def port_notifier(self, isoutput, port, kind):
        # In a pull context, pullers sleep once the limit is reached.
        return self._notifier if isoutput and kind == "empty" and not self.output_is_push(0) else None

    def reset(self):
        self.count = 0
        self.wake()

    def wake(self):
        # As in Click, a handler write restarts the source only while it has
        # packets left to send (else END_CALL would run again).
        if self.limit >= 0 and self.count >= self.limit:
            return
        if self.task is not None and self.active:
            self.task.reschedule()
        self._notifier.set_active(self.active, True)

    cdef bint run_task(self, object task) noexcept:
        cdef Batch b
        cdef Packet *p
        cdef long long n
        cdef int i, chunk
        cdef int64_t now
        if not self.active or (self._nonfull is not None and not self._nonfull.active()):
            return False
        n = self.burst
        if self.limit >= 0 and self.count + n >= self.limit:
            n = 0 if self.count > self.limit else self.limit - self.count
        if n > 0:
            now = self._sched.recent_now() if self.timestamp else 0
            if n == 1 or self._per_packet:
                # Each packet goes all the way downstream before the next, as in Click.
                for i in range(<int> n):
                    p = packet_clone(self._packet)
                    if p != NULL:
                        p.timestamp = now
                        self.output_push(0, p)
                self.count += n
            else:
                while n > 0:
                    chunk = MAX_BATCH if n > MAX_BATCH else <int> n
                    b.count = 0
                    for i in range(chunk):
                        b.p[b.count] = packet_clone(self._packet)
                        if b.p[b.count] != NULL:
                            b.p[b.count].timestamp = now
                            b.count += 1
                    self.output_push_batch(0, &b)
                    self.count += chunk
                    n -= chunk
            (<Task> task).fast_reschedule()
            return True
        if self.end_call is not None and self.limit >= 0 and self.count >= self.limit:
            self.end_call.call_write()
        return False

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p
        if not self.active:
            self._notifier.sleep()
            return NULL
        if self.limit >= 0 and self.count >= self.limit:
            if self.end_call is not None:
                self.end_call.call_write()
            self._notifier.sleep()
            return NULL
        self.count += 1
        p = packet_clone(self._packet)
        if p != NULL and self.timestamp:
            p.timestamp = self._sched.now()
        return p
