# cython: language_level=3
"""RatedUnqueue: pulls packets at a fixed rate and pushes them on."""
from libc.stdint cimport int64_t, uint32_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet
from clickpy.runtime.scheduler cimport Task, Timer

from clickpy.elements.standard.token_bucket cimport (
    tb_assign, tb_contains, tb_init, tb_jiffies, tb_rate, tb_refill, tb_remove,
    tb_swap_content, tb_time_until_contains,
)

from clickpy.runtime.args import ArgError, Bool
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite, write_config, write_keyword

from clickpy.elements.standard.rate_args import (
    parse_token_bucket, token_bucket_arguments, unparse_bandwidth,
)


def _read_rate(e):
    return e.rate_text()


def _write_active(e, value):
    try:
        e.active = Bool(value)
    except ArgError as err:
        raise HandlerError(f"active: {err}") from None
    e.wake()


cdef class RatedUnqueue(Element):
    """=c
    RatedUnqueue(RATE, [keywords BURST_DURATION, BURST_SIZE])

    =s shaping
    pull-to-push converter

    =d
    Pulls packets at RATE packets per second and pushes them out. The rate
    is a token bucket, as Click's (refilled every millisecond of the
    scheduler's clock, so simulated time gives exact, repeatable counts); it
    holds 20 milliseconds' worth of tokens (at least one) unless
    BURST_DURATION (a time) or BURST_SIZE (a number of packets) says
    otherwise -- not both. While the bucket is empty a timer wakes the task
    when the next token is due; while the queues upstream are empty the task
    sleeps until they have a packet.

    =h rate read/write: the rate; writing it reconfigures RATE
    =h active read/write: while false, nothing moves
    =h calls read-only: run counts (calls, empty runs, pushes, failed pulls)
    =h config read-only: the rate, as Click prints it
    =h scheduled, tickets: the task's

    =e
    ... -> Queue -> RatedUnqueue(1000) -> ToDevice(eth0);
    """
    port_count = "1/1"
    processing = "l/h"
    live_reconfigure = True
    arguments = token_bucket_arguments(bandwidth=False)
    bandwidth = False       # tokens are bytes (BandwidthRatedUnqueue)
    handlers = (
        ReadWrite("rate", _read_rate, write_keyword("RATE", 0)),
        ReadWrite("active", lambda e: e.active, _write_active),
        Read("calls", lambda e: e.calls_text()),
        ReadWrite("config", _read_rate, write_config, calm=True),
    )

    def __cinit__(self):
        tb_init(&self._tb)
        self.active = True
        self.task = None

    def configure(self, conf, errh):
        r = parse_token_bucket(self, conf, errh, type(self).bandwidth)
        if r is None:
            return False
        tb_assign(&self._tb, r[0], r[1])
        # A new rate (a 'rate' write): a task waiting on the old rate's timer looks again.
        self.wake()
        return True

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self.task = Task(self)
        self.task.initialize(self._sched, True)
        self._signal = self.router.upstream_empty_signal(self, 0, self.task)
        self._timer = Timer(self)
        self._timer.initialize(self._sched)

    def take_state(self, old, errh):
        """Carry on old's bucket (token_bucket.pxd, tb_take_content: no burst is
        granted) and run counts in a reload; swapped, so a rollback restores them."""
        cdef RatedUnqueue o
        if type(old) is not type(self):     # (the Bandwidth class counts bytes, not packets)
            return None
        o = old
        tb_swap_content(&self._tb, &o._tb)
        self.runs, o.runs = o.runs, self.runs
        self.pushes, o.pushes = o.pushes, self.pushes
        self.failed_pulls, o.failed_pulls = o.failed_pulls, self.failed_pulls
        self.empty_runs, o.empty_runs = o.empty_runs, self.empty_runs
        return {"counts": 1}

    def wake(self):
        if self.task is not None and self.active:
            self.task.reschedule()

    def rate_text(self):
        cdef uint32_t r = tb_rate(&self._tb)
        return unparse_bandwidth(r) if type(self).bandwidth else str(r)

    def calls_text(self):
        return (f"{self.runs} calls to run_task()\n{self.empty_runs} empty runs\n"
                f"{self.pushes} pushes\n{self.failed_pulls} failed pulls\n")

    cdef void _wait_for(self, uint32_t tokens) noexcept:
        # Sleep until the bucket holds enough; the timer reschedules the task.
        cdef int64_t ticks = tb_time_until_contains(&self._tb, tokens)
        self._timer.schedule_at(self._sched.now() + ticks * 1000000)
        self.empty_runs += 1

    cdef void run_timer(self, object timer) noexcept:
        self.task.reschedule()

    cdef bint run_task(self, object task) noexcept:
        cdef Packet *p
        self.runs += 1
        if not self.active:
            return False
        tb_refill(&self._tb, tb_jiffies(self._sched.now()))
        if not tb_contains(&self._tb, 1):
            self._wait_for(1)
            return False
        p = self.input_pull(0)
        if p == NULL:
            self.failed_pulls += 1
            if not self._signal.active():
                return False        # the upstream notifier wakes us
            self.empty_runs += 1
            self.task.fast_reschedule()
            return False
        tb_remove(&self._tb, 1)
        self.pushes += 1
        self.output_push(0, p)
        self.task.fast_reschedule()
        return True
