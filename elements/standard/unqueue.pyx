# cython: language_level=3
"""Unqueue: pulls packets whenever they are available and pushes them on."""
from libc.stdint cimport uint64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport Batch, MAX_BATCH, Packet
from clickpy.runtime.scheduler cimport Task

from clickpy.runtime.args import Arg, ArgError, Bool, Int
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite, Write


def _setter(attr, parse):
    def write(e, value):
        try:
            setattr(e, attr, parse(value))
        except ArgError as err:
            raise HandlerError(f"{attr}: {err}") from None
        e.task.reschedule()
    return write


cdef class Unqueue(Element):
    """=c
    Unqueue([keywords ACTIVE, LIMIT, BURST])

    =s shaping
    pull-to-push converter

    =d
    Pulls packets whenever the queues upstream have them, up to BURST per
    turn (negative: until none is left), and pushes them out. Stops after
    LIMIT packets if LIMIT is not negative. Does nothing while ACTIVE is false.
    Bursts travel as a batch.

    =h count read-only
    =h reset write-only: zero the count (and pull LIMIT more)
    =h active, limit, burst read/write
    """
    port_count = "1/1"
    processing = "l/h"
    arguments = (
        Arg("ACTIVE", Bool, True, positional=True),
        Arg("LIMIT", Int, -1),
        Arg("BURST", Int, 1),
    )
    handlers = (
        Read("count", lambda e: e.count),
        Write("reset", lambda e, v: e.reset()),
        ReadWrite("active", lambda e: e.active, _setter("active", Bool)),
        ReadWrite("limit", lambda e: e.limit, _setter("limit", Int)),
        ReadWrite("burst", lambda e: e.burst, _setter("burst", Int)),
    )

    cdef public uint64_t count
    cdef public bint active
    cdef public long long limit
    cdef public int burst
    cdef public Task task
    cdef NotifierSignal _signal

    def initialize(self, errh):
        self.task = Task(self)
        self.task.initialize(self.router.scheduler, self.active)
        self._signal = self.router.upstream_empty_signal(self, 0, self.task)

    def reset(self):
        self.count = 0
        self.task.reschedule()

    cdef bint run_task(self, object task) noexcept:
        cdef Batch b
        cdef Packet *p
        cdef long long want
        cdef int got, total = 0
        if not self.active:
            return False
        want = self.burst if self.burst > 0 else (1 << 30)
        if self.limit >= 0:
            if self.count >= <uint64_t> self.limit:
                return False
            if want > self.limit - <long long> self.count:
                want = self.limit - <long long> self.count
        if want == 1:
            # One packet at a time, exactly as Click moves it.
            p = self.input_pull(0)
            if p != NULL:
                self.count += 1
                total = 1
                self.output_push(0, p)
        else:
            while want > 0:
                got = self.input_pull_batch(0, &b, MAX_BATCH if want > MAX_BATCH else <int> want)
                if got == 0:
                    break
                self.count += got
                total += got
                want -= got
                self.output_push_batch(0, &b)
        if total > 0 or self._signal.active():
            (<Task> task).fast_reschedule()
        return total > 0
