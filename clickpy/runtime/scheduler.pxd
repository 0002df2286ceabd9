# cython: language_level=3
"""Tasks, timers, file-descriptor readiness and the driver loop.

One ``Scheduler`` per router runs, in a loop: the scheduled tasks (in
stride-scheduling order, as Click's tickets give them shares), the timers
that are due, and the callbacks of ready file descriptors. It sleeps only
when no task is scheduled, until the next timer or descriptor. In simulated
time (``--simtime``) sleeping is instant: the clock jumps to the next timer.
"""
from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint64_t

from clickpy.runtime.element cimport Element


cdef struct TaskSlot:
    uint64_t pass_          # the task's pass when it was queued (the heap key)
    PyObject *task          # a counted reference to the Task


cdef class Task:
    cdef public Element element     # whose run_task runs, or None when callback is set
    cdef public object callback     # a Python callable(task) -> bool (non-element tasks)
    cdef Scheduler scheduler
    cdef readonly bint scheduled
    cdef int _tickets
    cdef uint64_t _stride
    cdef uint64_t _pass
    cdef readonly uint64_t runs
    cdef int _heap_index
    cdef readonly bint dead         # its element left the router: never runs again
    cdef object __weakref__

    # (int ... except -1, not void: a caller checks the result, not
    # PyErr_Occurred(), which cost a call per packet at BURST 1)
    cpdef int reschedule(self) except -1
    cdef int _reschedule(self) except -1
    cdef inline int fast_reschedule(self) except -1:
        if not self.scheduled:
            return self._reschedule()
        return 0
    cpdef void unschedule(self)


cdef class Timer:
    cdef public Element element     # whose run_timer runs, or None when callback is set
    cdef public object callback     # a Python callable(timer)
    cdef Scheduler scheduler
    cdef readonly int64_t expiry    # nanoseconds; 0 when not scheduled
    cdef int _heap_index
    cdef uint64_t _seq
    cdef readonly bint dead         # its element left the router: never fires again
    cdef object __weakref__

    cpdef void schedule_at(self, int64_t when_ns)
    cpdef void schedule_after(self, double seconds)
    cpdef void unschedule(self)


cdef class Scheduler:
    cdef list _tasks                # heap of scheduled tasks, by pass
    cdef list _timers               # heap of scheduled timers, by expiry
    cdef uint64_t _global_pass
    cdef uint64_t _timer_seq
    cdef readonly bint simulated
    cdef int64_t _sim_now
    cdef public int runcount
    cdef public object stop_hook    # called when runcount drops to 0; True keeps running
    cdef object _selector
    cdef dict _fd_callbacks
    cdef int _wakeup_read
    cdef int _wakeup_write
    cdef readonly uint64_t iterations

    cpdef int64_t now(self)
    cdef int _push_task(self, Task t) except -1
    cdef void _remove_task(self, Task t) noexcept
    cdef void _give_up_alone(self) noexcept
    cdef void _sift_task_up(self, int i) noexcept
    cdef void _sift_task_down(self, int i) noexcept
    cdef void _sift_timer_up(self, int i)
    cdef void _sift_timer_down(self, int i)
    cdef void _push_timer(self, Timer t)
    cdef void _remove_timer(self, Timer t)
    cdef int _run_tasks(self, int budget) except -1
    cdef int _run_timers(self) except -1
    cpdef void please_stop(self)
    cpdef void adjust_runcount(self, int delta)
    # (Fields below were added later; new fields go at the end so that
    # modules compiled against the earlier layout keep working.)
    cdef TaskSlot *_heap            # scheduled tasks: a binary heap by pass, in C
    cdef int _nheap
    cdef int _heap_capacity
    cdef int64_t _now_cache

    cdef double _warp               # time runs this many times faster than the wall clock
    cdef int64_t _warp_wall0        # wall time when the warp factor was last set
    cdef int64_t _warp_now0         # router time at that moment

    cdef inline int64_t recent_now(self) noexcept:
        """Router time as of at most 8 task runs ago (NOW_EVERY), or of the
        current timer's run: the first call in a round of task runs reads
        the clock, later ones reuse it. Cheap, and precise enough for rates
        and timestamps of generated packets; rounds that never ask read no
        clock."""
        if self._now_stale:
            self._now_cache = self.now()
            self._now_stale = False
        return self._now_cache

    # Hot reload: who owns each task and timer (so a retired element's end),
    # and, for a scheduler that stages a new graph, the live one whose clock it tells.
    cdef dict _owned                # owner (an element, or None) -> WeakSet of its Tasks and Timers
    cdef public object current_owner  # the element being configured or initialized
    cdef Scheduler _clock
    cdef bint _now_stale            # _now_cache is from an earlier task or timer run
    # The task running while it was the only one scheduled: it still sits in
    # the heap's one slot, which is given up only if something else touches
    # the heap first or it does not ask to run again (see _run_tasks).
    cdef PyObject *_alone
