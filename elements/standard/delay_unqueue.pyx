# cython: language_level=3
"""DelayUnqueue: pulls packets and pushes each on once it is DELAY old."""
from libc.stdint cimport int64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport Packet, packet_kill
from clickpy.runtime.scheduler cimport Scheduler, Task, Timer

from clickpy.runtime.args import Arg, ArgError, Interval, unparse_interval
from clickpy.runtime.handlers import HandlerError, ReadWrite


# How early a timer fires to let the task finish the wait (Click's Timer::adjustment()).
cdef int64_t TIMER_ADJUSTMENT_NS = 500000


def _write_delay(e, value):
    try:
        e.delay = Interval(value)
    except ArgError as err:
        raise HandlerError(f"delay: {err}") from None


cdef inline int64_t timer_adjustment(Scheduler s) noexcept:
    # In simulated time the clock jumps straight to a timer: no slack needed.
    return 0 if s.simulated else TIMER_ADJUSTMENT_NS


cdef class DelayUnqueue(Element):
    """=c
    DelayUnqueue(DELAY)

    =s shaping
    delay-inducing pull-to-push converter

    =d
    Pulls packets and pushes each one out no earlier than DELAY after its
    timestamp (a packet without a timestamp is stamped when pulled). On the
    way out the packet's timestamp is its release time: timestamp + DELAY.
    Holds one packet at a time. Sleeps while the queues upstream are empty
    (listens to their notifiers) and while the held packet is not due (a
    timer wakes it).

    =h delay read/write: DELAY, printed as Click prints intervals ('5ms')
    =h scheduled, tickets: the task's

    =e
    ... -> Queue -> DelayUnqueue(0.01) -> ...
    """
    port_count = "1/1"
    processing = "l/h"
    arguments = (Arg("DELAY", Interval, None, positional=True, mandatory=True),)
    handlers = (ReadWrite("delay", lambda e: unparse_interval(e.delay), _write_delay),)

    cdef Packet *_p                 # the packet being delayed, or NULL
    cdef public int64_t delay       # nanoseconds
    cdef public Task task
    cdef Timer _timer               # wakes the task shortly before _p is due
    cdef NotifierSignal _signal
    cdef Scheduler _sched

    def __cinit__(self):
        self._p = NULL
        self.task = None

    def __dealloc__(self):
        if self._p != NULL:
            packet_kill(self._p)

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self.task = Task(self)
        self.task.initialize(self._sched, True)
        self._timer = Timer(self)
        self._timer.initialize(self._sched)
        self._signal = self.router.upstream_empty_signal(self, 0, self.task)

    def cleanup(self, stage):
        if self._p != NULL:
            packet_kill(self._p)
            self._p = NULL

    def take_state(self, old, errh):
        """Carry on old's delayed packet in a reload; it leaves when old had it
        due. Swapped, so ``old.take_state(self)`` gives it back."""
        cdef DelayUnqueue o
        if not isinstance(old, DelayUnqueue):
            return None
        o = old
        self._p, o._p = o._p, self._p
        if self._p == NULL:
            return None
        self.task.reschedule()      # the task sets the timer for it
        return {"packets": 1}

    cdef void run_timer(self, object timer) noexcept:
        self.task.reschedule()

    cdef bint run_task(self, object task) noexcept:
        cdef bint worked = False
        cdef int64_t now, expiry
        while True:
            if self._p == NULL:
                self._p = self.input_pull(0)
                if self._p != NULL:
                    # A timestamp in the epoch's first second counts as unset.
                    if 0 <= self._p.timestamp < 1000000000:
                        self._p.timestamp = self._sched.now()
                    self._p.timestamp += self.delay
            if self._p == NULL:
                if not self._signal.active():
                    return worked       # the upstream notifier wakes us
                break
            now = self._sched.now()
            if self._p.timestamp <= now:
                self.output_push(0, self._p)
                self._p = NULL
                worked = True
                continue
            expiry = self._p.timestamp - timer_adjustment(self._sched)
            if expiry > now:
                self._timer.schedule_at(expiry)
                return worked
            break   # due within the timer's slack: keep the task running
        self.task.fast_reschedule()
        return worked
