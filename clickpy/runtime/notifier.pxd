# cython: language_level=3
"""Notifiers: how a queue tells a pulling task it has packets (and a pushing
source that it has room), so idle tasks sleep instead of spinning.

An ``ActiveNotifier`` belongs to the element that knows (a queue); its
listeners are the tasks to wake when it becomes active. A ``NotifierSignal``
is what a listener checks: active if any of the notifiers it watches is
active. A signal that cannot be known (an element in the way that may create
packets by itself) is *busy*: always active.
"""


cdef class ActiveNotifier:
    cdef public bint active
    cdef list listeners         # Tasks to reschedule on activation
    cdef public str kind        # "empty" (a queue's non-empty signal) or "full"
    cdef public int search_op   # SEARCH_STOP, SEARCH_CONTINUE or SEARCH_CONTINUE_WAKE

    cpdef void set_active(self, bint active, bint wake=*)
    cdef inline void wake(self):
        if not self.active:
            self.set_active(True, True)
    cdef inline void sleep(self) noexcept:
        self.active = False


cdef class NotifierSignal:
    cdef list notifiers         # ActiveNotifiers combined with "or"
    cdef public bint busy       # always active
    # noexcept: asked once per task run, it must not cost an error check
    cdef inline bint active(self) noexcept:
        cdef ActiveNotifier n
        if self.busy:
            return True
        for n in self.notifiers:
            if n.active:
                return True
        return False
