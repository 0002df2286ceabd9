# cython: language_level=3
"""Notifiers (see notifier.pxd)."""

SEARCH_STOP = 0
SEARCH_CONTINUE = 1
SEARCH_CONTINUE_WAKE = 2


cdef class ActiveNotifier:
    def __init__(self, str kind="empty", int search_op=SEARCH_STOP, bint active=False):
        self.kind = kind
        self.search_op = search_op
        self.active = active
        self.listeners = []

    def add_listener(self, task):
        if task is not None and task not in self.listeners:
            self.listeners.append(task)

    def remove_listener(self, task):
        if task in self.listeners:
            self.listeners.remove(task)

    cpdef void set_active(self, bint active, bint wake=True):
        cdef bint was = self.active
        self.active = active
        if active and not was and wake:
            for t in self.listeners:
                t.reschedule()

    def __repr__(self):
        return f"<ActiveNotifier {self.kind} {'active' if self.active else 'idle'}>"


cdef class NotifierSignal:
    def __init__(self, notifiers=(), bint busy=False):
        self.notifiers = list(notifiers)
        self.busy = busy

    @staticmethod
    def busy_signal():
        return NotifierSignal(busy=True)

    @staticmethod
    def idle_signal():
        return NotifierSignal()

    def is_active(self):
        return self.active()

    @property
    def sources(self):
        """The notifiers this signal watches (a copy)."""
        return list(self.notifiers)

    def rebind(self, notifiers, bint busy):
        """Watch these notifiers instead, in place: every holder of this signal
        sees the change (a hot reload rewired the graph around its listener)."""
        self.notifiers = list(notifiers)
        self.busy = busy

    def __iadd__(self, NotifierSignal other):
        self.busy = self.busy or other.busy
        for n in other.notifiers:
            if n not in self.notifiers:
                self.notifiers.append(n)
        return self

    def __repr__(self):
        if self.busy:
            return "<NotifierSignal busy>"
        return f"<NotifierSignal {self.notifiers}>"
