# cython: language_level=3
"""DelayShaper: a pull element that hands each packet out once it is DELAY old."""
from libc.stdint cimport int64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport ActiveNotifier, NotifierSignal
from clickpy.runtime.packet cimport Packet, packet_kill
from clickpy.runtime.scheduler cimport Scheduler, Timer

from clickpy.runtime.args import Arg, ArgError, Interval, unparse_interval
from clickpy.runtime.handlers import HandlerError, ReadWrite
from clickpy.runtime.notifier import SEARCH_STOP


cdef int64_t TIMER_ADJUSTMENT_NS = 500000


def _write_delay(e, value):
    try:
        e.delay = Interval(value)
    except ArgError as err:
        raise HandlerError("delay must be a timestamp") from None


cdef class _NotifierWaker:
    """Listens to the upstream queues for a DelayShaper: their packets wake its own pullers."""
    cdef ActiveNotifier notifier

    def __init__(self, ActiveNotifier notifier):
        self.notifier = notifier

    def reschedule(self):
        self.notifier.wake()


cdef class DelayShaper(Element):
    """=c
    DelayShaper(DELAY)

    =s shaping
    shapes traffic to meet delay requirements

    =d
    Pulls packets and hands each one out, on a pull, no earlier than DELAY
    after its timestamp (a packet without a timestamp is stamped when
    pulled); on the way out its timestamp becomes the current time. Holds
    one packet at a time: until it is due, pulls return nothing.

    Pullers downstream sleep while it waits: its notifier goes quiet while
    the held packet is not due (a timer wakes it) and while the queues
    upstream are empty (their notifiers wake it). Unlike DelayUnqueue both
    its input and output are pull.

    =h delay read/write: DELAY, printed as Click prints intervals ('5ms')

    =e
    ... -> Queue -> DelayShaper(0.05) -> ToDevice(eth0);
    """
    port_count = "1/1"
    processing = "l"
    arguments = (Arg("DELAY", Interval, None, positional=True, mandatory=True),)
    handlers = (ReadWrite("delay", lambda e: unparse_interval(e.delay), _write_delay, calm=True),)

    cdef Packet *_p                 # the packet being delayed, or NULL
    cdef public int64_t delay       # nanoseconds
    cdef Timer _timer               # wakes the notifier when _p is (nearly) due
    cdef NotifierSignal _upstream
    cdef ActiveNotifier _notifier   # 'empty' notifier of the output
    cdef Scheduler _sched

    def __cinit__(self):
        self._p = NULL
        # Click's notifier here is SEARCH_CONTINUE_WAKE: pullers' signal is
        # this notifier alone, and the queues upstream wake them too. The
        # runtime's search would OR the upstream signals into theirs (so they
        # would spin while a packet waits here), so the search stops here
        # and this element relays the upstream wake-ups itself (_NotifierWaker).
        self._notifier = ActiveNotifier("empty", SEARCH_STOP, True)

    def __dealloc__(self):
        if self._p != NULL:
            packet_kill(self._p)

    def initialize(self, errh):
        self._sched = self.router.scheduler
        self._timer = Timer(self)
        self._timer.initialize(self._sched)
        self._upstream = self.router.upstream_empty_signal(self, 0, _NotifierWaker(self._notifier))

    def cleanup(self, stage):
        if self._p != NULL:
            packet_kill(self._p)
            self._p = NULL

    def take_state(self, old, errh):
        """Carry on old's delayed packet in a reload; it leaves when old had it
        due. Swapped, so ``old.take_state(self)`` gives it back."""
        cdef DelayShaper o
        cdef Packet *p
        if not isinstance(old, DelayShaper):
            return None
        o = old
        p = self._p
        self._p = o._p
        o._p = p
        if self._p == NULL:
            return None
        self._notifier.wake()       # pullers pull: that sets the timer for it
        return {"packets": 1}

    def port_notifier(self, isoutput, port, kind):
        return self._notifier if isoutput and kind == "empty" else None

    cdef void run_timer(self, object timer) noexcept:
        self._notifier.wake()

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p
        cdef int64_t now, expiry
        if self._p == NULL:
            self._p = self.input_pull(0)
            if self._p != NULL:
                if 0 <= self._p.timestamp < 1000000000:
                    self._p.timestamp = self._sched.now()
                self._p.timestamp += self.delay
        if self._p != NULL:
            now = self._sched.now()
            if self._p.timestamp <= now:
                p = self._p
                self._p = NULL
                p.timestamp = now
                return p
            expiry = self._p.timestamp - (0 if self._sched.simulated else TIMER_ADJUSTMENT_NS)
            if expiry <= now:
                # Due within the timer's slack: pullers keep pulling.
                self._notifier.wake()
            else:
                self._timer.schedule_at(expiry)
                self._notifier.sleep()
        elif not self._upstream.active():
            self._notifier.sleep()
        return NULL
