# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Tasks, timers and the driver loop (see scheduler.pxd)."""
import os
import selectors
import weakref

from cpython.exc cimport PyErr_CheckSignals
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from libc.stdlib cimport free, realloc
from libc.stdint cimport int64_t, uint64_t
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

from clickpy.runtime.element cimport Element

# Click's stride scheduling constants: a task with more tickets runs more often.
DEFAULT_TICKETS = 1 << 10
MAX_TICKETS = 1 << 15
# Click starts simulated time at 1,000,000,000 seconds after the epoch.
SIMTIME_START_NS = 1_000_000_000 * 1_000_000_000

cdef uint64_t STRIDE1 = 1 << 16
cdef int TASK_BATCH = 64          # task runs between timer and signal checks
cdef int POLL_EVERY = 64          # busy rounds between non-blocking fd polls
# recent_now() reads the clock again after this many task runs (a power of 2):
# at one packet per run, a clock read per packet cost more than the packet
# (25 ns here). Click's Timestamp::recent() is a cached time of the same kind.
cdef int NOW_EVERY = 8
# Whatever an element asks for, the driver sleeps at most this long at once
# (it wakes, finds the timer not due, and sleeps again), and a timer is set
# at most this far ahead: time arithmetic never overflows.
cdef double MAX_SLEEP_S = 3600.0
cdef double MAX_DELAY_S = 1e9     # about 31 years
cdef double MAX_WARP = 1e9
# Router time never passes 2^62 ns (year 2116): times parsed from text are
# below that too (clickpy.runtime.args.MAX_TIME_NS), so now + delay fits in 64 bits.
cdef int64_t MAX_TIME_NS = (<int64_t> 1) << 62


cdef inline int64_t _wall_ns() noexcept:
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return <int64_t> ts.tv_sec * 1000000000 + ts.tv_nsec


cdef inline double _sleep_seconds(int64_t ns, double warp) noexcept:
    cdef double s = ns / 1e9 / warp
    return s if s < MAX_SLEEP_S else MAX_SLEEP_S


cdef class Task:
    """Scheduled work for an element: its run_task runs when the task is scheduled.

    A task that has more to do reschedules itself (``fast_reschedule``); one
    waiting for packets stays unscheduled until a notifier wakes it.
    """

    def __init__(self, Element element=None, callback=None, int tickets=DEFAULT_TICKETS):
        if element is None and callback is None:
            raise ValueError("a task needs an element or a callback")
        self.element = element
        self.callback = callback
        self.scheduler = None
        self.scheduled = False
        self._pass = 0
        self.runs = 0
        self._heap_index = -1
        self.tickets = tickets
        self.dead = False

    def initialize(self, Scheduler scheduler, bint scheduled=True):
        self.scheduler = scheduler
        scheduler._own(self, self.element, self.callback)
        if scheduled:
            self.reschedule()

    @property
    def tickets(self):
        return self._tickets

    @tickets.setter
    def tickets(self, int n):
        if n < 1:
            n = 1
        elif n > MAX_TICKETS:
            n = MAX_TICKETS
        self._tickets = n
        self._stride = STRIDE1 // n

    cpdef int reschedule(self) except -1:
        return self._reschedule()

    cdef int _reschedule(self) except -1:
        if self.scheduled or self.dead:
            return 0
        if self.scheduler is None:
            raise RuntimeError("task rescheduled before it was initialized")
        # A task coming back from sleep starts at the current pass, so it
        # cannot claim the turns it missed.
        if self._pass < self.scheduler._global_pass:
            self._pass = self.scheduler._global_pass
        self.scheduled = True
        return self.scheduler._push_task(self)

    cpdef void unschedule(self):
        if self.scheduled:
            self.scheduled = False
            self.scheduler._remove_task(self)

    def __repr__(self):
        owner = self.element.name if self.element is not None else self.callback
        return f"<Task {owner} {'scheduled' if self.scheduled else 'idle'}>"


cdef class Timer:
    """A one-shot alarm; the owner reschedules it to make it periodic."""

    def __init__(self, Element element=None, callback=None):
        if element is None and callback is None:
            raise ValueError("a timer needs an element or a callback")
        self.element = element
        self.callback = callback
        self.scheduler = None
        self.expiry = 0
        self._heap_index = -1
        self.dead = False

    def initialize(self, Scheduler scheduler):
        self.scheduler = scheduler
        scheduler._own(self, self.element, self.callback)

    @property
    def scheduled(self):
        return self._heap_index >= 0

    cpdef void schedule_at(self, int64_t when_ns):
        if self.dead:
            return
        if self.scheduler is None:
            raise RuntimeError("timer scheduled before it was initialized")
        if when_ns > MAX_TIME_NS:  # so that now plus any parsed time stays in range
            when_ns = MAX_TIME_NS
        if self._heap_index >= 0:
            self.scheduler._remove_timer(self)
        self.expiry = when_ns
        self.scheduler._push_timer(self)

    cpdef void schedule_after(self, double seconds):
        # NaN and infinities fail both tests and end up at a bound.
        if not (seconds >= 0):
            seconds = 0 if seconds < 0 else MAX_DELAY_S
        elif seconds > MAX_DELAY_S:
            seconds = MAX_DELAY_S
        self.schedule_at(self.scheduler.now() + <int64_t> (seconds * 1e9))

    def schedule_now(self):
        self.schedule_at(self.scheduler.now())

    cpdef void unschedule(self):
        if self._heap_index >= 0:
            self.scheduler._remove_timer(self)
        self.expiry = 0


cdef class Scheduler:
    def __init__(self, bint simulated=False, double simtime_start=0):
        self._tasks = []  # unused: tasks live in the C heap
        self._heap = NULL
        self._nheap = 0
        self._heap_capacity = 0
        self._timers = []
        self._global_pass = 0
        self._timer_seq = 0
        self.simulated = simulated
        self._sim_now = <int64_t> (simtime_start * 1e9) if simtime_start else SIMTIME_START_NS
        self.runcount = 1
        self.stop_hook = None
        self._selector = selectors.DefaultSelector()
        self._fd_callbacks = {}
        self.iterations = 0
        # Signal handlers write here, so a sleeping loop wakes to see them.
        self._wakeup_read, self._wakeup_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wakeup_read, selectors.EVENT_READ, None)
        self._warp = 1.0
        self._owned = {}
        self.current_owner = None
        self._clock = None
        self._now_cache = self.now()

    @staticmethod
    def staging(Scheduler live):
        """A scheduler that holds a new graph's tasks, timers and descriptors
        while it is built beside live's running one, telling live's time;
        ``live.adopt`` takes them over at the swap."""
        cdef Scheduler s = Scheduler(live.simulated)
        s._clock = live
        s._now_cache = live._now_cache
        s._now_stale = True
        return s

    def __dealloc__(self):
        cdef int i
        for i in range(self._nheap):
            Py_DECREF(<object> self._heap[i].task)
        free(self._heap)

    def clear_tasks(self):
        """Unschedule every task (the heap holds references the GC cannot see)."""
        cdef Task t
        while self._nheap:
            t = <Task> self._heap[0].task
            t.scheduled = False
            self._remove_task(t)

    def close(self):
        """Release the descriptors (once; later calls do nothing)."""
        if self._wakeup_read < 0:
            return
        self._selector.close()
        os.close(self._wakeup_read)
        os.close(self._wakeup_write)
        self._wakeup_read = self._wakeup_write = -1

    def descriptors(self):
        """The descriptors this scheduler holds itself (its selector and wake-up pipe)."""
        return [self._selector.fileno(), self._wakeup_read, self._wakeup_write]

    def after_fork(self):
        """In a child forked from the process that made this scheduler: a
        selector and wake-up pipe of its own (epoll instances and pipes are
        shared across fork), watching the same descriptors."""
        watched = [(key.fd, key.events, key.data) for key in self._selector.get_map().values()
                   if key.data is not None]
        self._selector.close()
        os.close(self._wakeup_read)
        os.close(self._wakeup_write)
        self._selector = selectors.DefaultSelector()
        self._wakeup_read, self._wakeup_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wakeup_read, selectors.EVENT_READ, None)
        for fd, events, callback in watched:
            self._selector.register(fd, events, callback)

    @property
    def wakeup_fd(self):
        """A descriptor to hand to signal.set_wakeup_fd."""
        return self._wakeup_write

    cpdef int64_t now(self):
        """Current time in nanoseconds since the epoch (simulated, warped or real)."""
        if self._clock is not None:
            return self._clock.now()
        if self.simulated:
            return self._sim_now
        if self._warp_wall0 == 0:  # never warped: plain wall-clock time
            return _wall_ns()
        return self._warp_now0 + <int64_t> ((_wall_ns() - self._warp_wall0) * self._warp)

    @property
    def warp(self):
        """How much faster than the wall clock router time runs (Click's timewarp)."""
        return self._warp

    @warp.setter
    def warp(self, double factor):
        if not (0 < factor <= MAX_WARP):
            raise ValueError(f"timefactor must be > 0 and at most {MAX_WARP:g}")
        self._warp_now0 = self.now()
        self._warp_wall0 = _wall_ns()
        self._warp = factor

    def now_seconds(self):
        return self.now() / 1e9

    @property
    def scheduled_tasks(self):
        """How many tasks are waiting to run (control work yields to them)."""
        return self._nheap - (self._alone != NULL)

    # --- task heap (by pass), a C array of counted references ------------

    cdef int _push_task(self, Task t) except -1:
        cdef TaskSlot *grown
        cdef int i, parent
        if self._alone != NULL:
            if self._alone == <PyObject *> t:
                # The task running alone asks to run again: taking it out of
                # the heap and putting it back would leave it where it is.
                self._alone = NULL
                self._heap[0].pass_ = t._pass
                t._heap_index = 0
                return 0
            self._give_up_alone()
        if self._nheap == self._heap_capacity:
            grown = <TaskSlot *> realloc(self._heap, (self._heap_capacity * 2 + 8) * sizeof(TaskSlot))
            if grown == NULL:
                raise MemoryError()
            self._heap = grown
            self._heap_capacity = self._heap_capacity * 2 + 8
        Py_INCREF(t)
        i = self._nheap
        self._nheap += 1
        while i > 0:
            parent = (i - 1) >> 1
            if self._heap[parent].pass_ <= t._pass:
                break
            self._heap[i] = self._heap[parent]
            (<Task> self._heap[i].task)._heap_index = i
            i = parent
        self._heap[i].pass_ = t._pass
        self._heap[i].task = <PyObject *> t
        t._heap_index = i
        return 0

    cdef void _sift_task_up(self, int i) noexcept:
        cdef TaskSlot slot = self._heap[i]
        cdef int parent
        while i > 0:
            parent = (i - 1) >> 1
            if self._heap[parent].pass_ <= slot.pass_:
                break
            self._heap[i] = self._heap[parent]
            (<Task> self._heap[i].task)._heap_index = i
            i = parent
        self._heap[i] = slot
        (<Task> slot.task)._heap_index = i

    cdef void _sift_task_down(self, int i) noexcept:
        cdef TaskSlot slot = self._heap[i]
        cdef int child
        cdef int n = self._nheap
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and self._heap[child + 1].pass_ < self._heap[child].pass_:
                child += 1
            if slot.pass_ <= self._heap[child].pass_:
                break
            self._heap[i] = self._heap[child]
            (<Task> self._heap[i].task)._heap_index = i
            i = child
        self._heap[i] = slot
        (<Task> slot.task)._heap_index = i

    cdef void _give_up_alone(self) noexcept:
        """Take the task that ran alone out of the heap, as _run_tasks would
        have before running it (the heap holds nothing else)."""
        cdef PyObject *t = self._alone
        self._alone = NULL
        self._nheap = 0
        (<Task> t)._heap_index = -1
        Py_DECREF(<object> t)

    cdef void _remove_task(self, Task t) noexcept:
        if self._alone != NULL:
            self._give_up_alone()
            if t._heap_index < 0:       # it was t
                return
        cdef int i = t._heap_index
        cdef PyObject *moved
        self._nheap -= 1
        t._heap_index = -1
        if i != self._nheap:
            moved = self._heap[self._nheap].task
            self._heap[i] = self._heap[self._nheap]
            self._sift_task_down(i)
            self._sift_task_up((<Task> moved)._heap_index)
        Py_DECREF(t)

    cdef int _run_tasks(self, int budget) except -1:
        cdef int ran = 0
        cdef Task t
        while ran < budget and self._nheap:
            t = <Task> self._heap[0].task
            if self._nheap == 1:
                self._alone = <PyObject *> t      # out of the heap, but still in its slot
            else:
                self._remove_task(t)
            t.scheduled = False
            self._global_pass = t._pass
            t._pass += t._stride
            t.runs += 1
            ran += 1
            if (ran & (NOW_EVERY - 1)) == 1:
                self._now_stale = True   # (recent_now reads the clock if a task asks)
            try:
                if t.element is not None:
                    t.element.run_task(t)
                else:
                    t.callback(t)
            finally:
                if self._alone != NULL:     # it did not ask to run again (or its callback raised)
                    self._give_up_alone()
            if self.runcount <= 0:
                break
        return ran

    # --- timer heap (by expiry, then scheduling order) --------------------

    cdef void _push_timer(self, Timer t):
        self._timer_seq += 1
        t._seq = self._timer_seq
        heap = self._timers
        t._heap_index = len(heap)
        heap.append(t)
        self._sift_timer_up(t._heap_index)

    cdef void _sift_timer_up(self, int i):
        heap = self._timers
        cdef Timer t = heap[i]
        cdef Timer parent
        while i > 0:
            parent = heap[(i - 1) >> 1]
            if (parent.expiry, parent._seq) <= (t.expiry, t._seq):
                break
            heap[i] = parent
            parent._heap_index = i
            i = (i - 1) >> 1
        heap[i] = t
        t._heap_index = i

    cdef void _sift_timer_down(self, int i):
        heap = self._timers
        cdef int n = len(heap)
        cdef Timer t = heap[i]
        cdef Timer c, c2
        cdef int child
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            c = heap[child]
            if child + 1 < n:
                c2 = heap[child + 1]
                if (c2.expiry, c2._seq) < (c.expiry, c._seq):
                    child += 1
                    c = c2
            if (t.expiry, t._seq) <= (c.expiry, c._seq):
                break
            heap[i] = c
            c._heap_index = i
            i = child
        heap[i] = t
        t._heap_index = i

    cdef void _remove_timer(self, Timer t):
        heap = self._timers
        cdef int i = t._heap_index
        cdef Timer last = heap.pop()
        t._heap_index = -1
        if last is not t:
            heap[i] = last
            last._heap_index = i
            self._sift_timer_down(i)
            self._sift_timer_up(last._heap_index)

    cdef int _run_timers(self) except -1:
        cdef Timer t
        cdef int64_t now = self.now()
        cdef int fired = 0
        heap = self._timers
        while heap:
            t = heap[0]
            if t.expiry > now:
                break
            self._remove_timer(t)
            fired += 1
            self._now_cache = now
            self._now_stale = False
            if t.element is not None:
                t.element.run_timer(t)
            else:
                t.callback(t)
            if self.runcount <= 0:
                break
        return fired

    # --- owners: what a hot reload moves and ends ------------------------------

    def _own(self, thing, element, callback):
        owner = element if element is not None else getattr(callback, "__self__", None)
        if not isinstance(owner, Element):
            owner = self.current_owner
        owned = self._owned.get(owner)
        if owned is None:
            owned = self._owned[owner] = weakref.WeakSet()
        owned.add(thing)

    def adopt(self, Scheduler staging):
        """Take over every task, timer and descriptor of staging (see ``staging``);
        scheduled ones stay scheduled, at their times. Costs what staging holds."""
        cdef Task t
        cdef Timer tm
        cdef int64_t expiry
        for owner, things in staging._owned.items():
            mine = self._owned.get(owner)
            if mine is None:
                mine = self._owned[owner] = weakref.WeakSet()
            for thing in list(things):
                if isinstance(thing, Task):
                    t = thing
                    if t.scheduled:
                        staging._remove_task(t)
                        t.scheduled = False
                        t.scheduler = self
                        t.reschedule()
                    else:
                        t.scheduler = self
                else:
                    tm = thing
                    if tm._heap_index >= 0:
                        expiry = tm.expiry
                        staging._remove_timer(tm)
                        tm.scheduler = self
                        tm.schedule_at(expiry)
                    else:
                        tm.scheduler = self
                mine.add(thing)
        staging._owned = {}
        for fd, callback in list(staging._fd_callbacks.items()):
            events = staging._selector.get_key(fd).events
            staging.remove_fd(fd)
            self.add_fd(fd, events, callback)

    def retire(self, owner):
        """End owner's tasks and timers for good, and stop watching its descriptors:
        the element has left the router. Returns how many were ended."""
        cdef Task t
        cdef Timer tm
        cdef int n = 0
        for thing in list(self._owned.pop(owner, ())):
            if isinstance(thing, Task):
                t = thing
                t.unschedule()
                t.dead = True
            else:
                tm = thing
                tm.unschedule()
                tm.dead = True
            n += 1
        for fd, callback in list(self._fd_callbacks.items()):
            if getattr(callback, "__self__", None) is owner:
                self.remove_fd(fd)
                n += 1
        return n

    def owned(self, owner):
        """The live tasks and timers owner has here (for tests and reports)."""
        return list(self._owned.get(owner, ()))

    def next_timer_expiry(self):
        return (<Timer> self._timers[0]).expiry if self._timers else None

    # --- file descriptors ---------------------------------------------------

    def add_fd(self, int fd, int events, callback):
        """Call callback(fd, events) when fd is ready (selectors.EVENT_READ/WRITE)."""
        if fd in self._fd_callbacks:
            self._selector.modify(fd, events, callback)
        else:
            self._selector.register(fd, events, callback)
        self._fd_callbacks[fd] = callback

    def remove_fd(self, int fd):
        if self._fd_callbacks.pop(fd, None) is not None:
            self._selector.unregister(fd)

    def _poll(self, timeout):
        for key, events in self._selector.select(timeout):
            if key.data is None:  # the wakeup pipe
                try:
                    while os.read(self._wakeup_read, 512):
                        pass
                except BlockingIOError:
                    pass
            else:
                key.data(key.fd, events)

    # --- stopping -------------------------------------------------------------

    cpdef void please_stop(self):
        """Ask the driver to stop (Click's please_stop_driver)."""
        self.adjust_runcount(-1)

    cpdef void adjust_runcount(self, int delta):
        self.runcount += delta
        if self.runcount <= 0:
            try:
                os.write(self._wakeup_write, b"s")
            except (BlockingIOError, OSError):
                pass

    def set_runcount(self, int n):
        self.adjust_runcount(n - self.runcount)

    def run(self):
        """Run until the runcount drops to zero (and the stop hook agrees)."""
        cdef int ran
        cdef int64_t expiry, now
        while True:
            if self.runcount <= 0:
                if self.stop_hook is not None and self.stop_hook():
                    continue
                return
            ran = self._run_tasks(TASK_BATCH)
            if self._timers:
                self._run_timers()
            self.iterations += 1
            if ran or self._nheap:  # a timer may have woken a task
                if (self.iterations % POLL_EVERY) == 0:
                    PyErr_CheckSignals()
                    if len(self._fd_callbacks):
                        self._poll(0)
                continue
            if self.runcount <= 0:
                continue
            # Nothing to run: sleep until the next timer or descriptor.
            PyErr_CheckSignals()
            if self._timers:
                expiry = (<Timer> self._timers[0]).expiry
                if self.simulated:
                    if self._fd_callbacks:
                        self._poll(0)
                    if expiry > self._sim_now and not self._nheap:
                        self._sim_now = expiry
                    continue
                now = self.now()
                if expiry > now:
                    self._poll(_sleep_seconds(expiry - now, self._warp))
            else:
                self._poll(None)
