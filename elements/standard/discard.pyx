# cython: language_level=3
"""Discard: drops every packet it receives (and, in pull context, pulls them)."""
from libc.stdint cimport uint64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport Batch, MAX_BATCH, Packet, packet_kill
from clickpy.runtime.scheduler cimport Task

from clickpy.runtime.args import Arg, Bool, Unsigned
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite, Write


def _write_active(e, value):
    from clickpy.runtime.args import ArgError
    try:
        e.active = Bool(value)
    except ArgError as err:
        raise HandlerError(f"active: {err}") from None
    if e.active and e.task is not None:
        e.task.reschedule()


cdef class Discard(Element):
    """=c
    Discard([keywords ACTIVE, BURST])

    =s basicsources
    drops all packets

    =d
    Drops every packet pushed to it. In a pull context it pulls whenever the
    queues upstream have packets (listening to their notifiers), BURST at a
    time, while ACTIVE.

    =h count read-only
    =h reset_counts write-only
    =h active read/write
    """
    port_count = "1/0"
    processing = "a"
    arguments = (
        Arg("ACTIVE", Bool, True),
        Arg("BURST", Unsigned, 1),
    )
    handlers = (
        Read("count", lambda e: e.count),
        Write("reset_counts", lambda e, v: setattr(e, "count", 0)),
        ReadWrite("active", lambda e: e.active, _write_active),
    )

    cdef public uint64_t count
    cdef public bint active
    cdef public unsigned burst
    cdef public Task task
    cdef NotifierSignal _signal

    def __cinit__(self):
        self.task = None

    def initialize(self, errh):
        if self.input_is_pull(0):
            self.task = Task(self)
            self.task.initialize(self.router.scheduler, self.active)
            self._signal = self.router.upstream_empty_signal(self, 0, self.task)

    cdef void push(self, int port, Packet *p) noexcept:
        self.count += 1
        packet_kill(p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef int i
        for i in range(b.count):
            packet_kill(b.p[i])
        self.count += b.count
        b.count = 0

    cdef bint run_task(self, object task) noexcept:
        cdef Batch b
        cdef int i, n
        if not self.active:
            return False
        n = self.input_pull_batch(0, &b, self.burst if self.burst < MAX_BATCH else MAX_BATCH)
        for i in range(n):
            packet_kill(b.p[i])
        self.count += n
        if n > 0 or self._signal.active():
            (<Task> task).fast_reschedule()
        return n > 0
