# cython: language_level=3
"""SimpleQueue: a FIFO of packets (push in, pull out); the base of Click's queues."""
from libc.stdlib cimport free, malloc

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport ActiveNotifier
from clickpy.runtime.packet cimport Batch, Packet, packet_kill

from clickpy.runtime.args import Arg, ArgError, Unsigned
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite, Write, write_keyword

# Pulls that find the queue empty before it tells pullers to sleep (Click's value).
cdef int SLEEPINESS_TRIGGER = 9
# The ring has CAPACITY + 1 slots, counted in 32 bits.
MAX_CAPACITY = 0xFFFFFFFE


def _capacity(text, element=None):
    v = Unsigned(text, element)
    if v > MAX_CAPACITY:
        raise ArgError(f"expected at most {MAX_CAPACITY}")
    return v


# As Click's: rewrite CAPACITY in the configuration and reconfigure, so that
# 'config' shows the new capacity (Queue then reads 'CAPACITY 10').
_write_capacity = write_keyword("CAPACITY", 0)


cdef class SimpleQueue(Element):
    """=c
    SimpleQueue([CAPACITY])

    =s storage
    stores packets in a FIFO queue

    =d
    Stores pushed packets, first in first out, until pulled. Drops a packet
    pushed when CAPACITY (default 1000) are held; dropped packets leave on
    output 1 if it exists. The first drop prints "overflow" once.

    =h length, highwater_length, drops read-only
    =h capacity read/write: writing it rewrites CAPACITY in the configuration
    and resizes the queue in place (the oldest packets that fit stay)
    =h reset_counts write-only: zero drops and highwater_length
    =h reset write-only: empty the queue; its packets leave on output 1 if it
    exists, else they are dropped
    """
    port_count = "1/1-2"
    processing = "h/lh"
    live_reconfigure = True     # 'config' is writable: a new CAPACITY resizes in place
    arguments = (Arg("CAPACITY", _capacity, 1000, positional=True),)
    handlers = (
        Read("length", lambda e: e.length()),
        Read("highwater_length", lambda e: e.highwater_length),
        ReadWrite("capacity", lambda e: e.capacity, _write_capacity),
        Read("drops", lambda e: e.drops),
        Write("reset_counts", lambda e, v: e.reset_counts()),
        Write("reset", lambda e, v: e.reset()),
    )

    def __cinit__(self):
        self._q = NULL
        self._slots = 1
        self._head = self._tail = 0
        self._empty_note = None
        self._full_note = None

    def __dealloc__(self):
        cdef Packet *p
        if self._q != NULL:
            while self._head != self._tail:
                packet_kill(self._q[self._head])
                self._head = (self._head + 1) % self._slots
            free(self._q)

    def configure(self, conf, errh):
        cdef unsigned old = self.capacity
        if not Element.configure(self, conf, errh):
            return False
        # Also a live reconfiguration (a 'capacity' write): the packets that
        # fit stay, and pushers wake if there is room now.
        try:
            self._resize(self.capacity)
        except MemoryError:
            errh.error(f"CAPACITY {self.capacity}: out of memory")
            self.capacity = old
            return False
        if self._full_note is not None:
            self._full_note.set_active(self.size() < self.capacity, True)
        return True

    cdef int _resize(self, unsigned capacity) except -1:
        cdef unsigned n = self.size()
        cdef Packet **q = <Packet **> malloc((capacity + 1) * sizeof(Packet *))
        cdef unsigned i = 0
        if q == NULL:
            raise MemoryError()
        while self._head != self._tail:
            if i < capacity:
                q[i] = self._q[self._head]
                i += 1
            else:
                packet_kill(self._q[self._head])
            self._head = (self._head + 1) % self._slots
        free(self._q)
        self._q = q
        self._slots = capacity + 1
        self._head = 0
        self._tail = i
        self.capacity = capacity
        return 0

    def set_capacity(self, unsigned capacity):
        self._resize(capacity)
        if self._full_note is not None:
            self._full_note.set_active(self.size() < self.capacity, True)

    def length(self):
        return self.size()

    def reset_counts(self):
        self.drops = 0
        self.highwater_length = self.size()

    def reset(self):
        # As Click's: the queued packets leave on output 1 if it exists.
        cdef Packet *p
        while self._head != self._tail:
            p = self._q[self._head]
            self._head = (self._head + 1) % self._slots
            self.checked_output_push(1, p)
        if self._full_note is not None:
            self._full_note.wake()

    def take_state(self, old, errh):
        """Take over the packets of old (a SimpleQueue or subclass) in a reload.

        The packets that fit in this queue's capacity come over in order (the
        oldest ones; FrontDropQueue keeps the newest); the rest are destroyed,
        reported and counted in 'drops'. old is left empty, so that
        ``old.take_state(self)`` gives them back.
        """
        cdef SimpleQueue q
        cdef unsigned n, kept, first, i = 0
        cdef Packet *p
        if not isinstance(old, SimpleQueue):
            return None
        q = old
        if self._head != self._tail:
            errh.error("already have packets enqueued, can't take state")
            return None
        n = q.size()
        kept = n if n < self.capacity else self.capacity
        first = n - kept if self._keeps_newest() else 0
        if kept < n:
            errh.warning(f"some packets lost (old length {n}, new capacity {self.capacity})")
        self._head = self._tail = 0
        while q._head != q._tail:
            p = q._q[q._head]
            q._head = (q._head + 1) % q._slots
            if first <= i < first + kept:
                self._q[self._tail] = p
                self._tail += 1
            else:
                packet_kill(p)
            i += 1
        q._head = q._tail = 0
        self.drops += n - kept
        self.highwater_length = kept
        # The giver is empty: its pullers may sleep, its pushers may push.
        if q._empty_note is not None:
            q._empty_note.sleep()
        if q._full_note is not None:
            q._full_note.wake()
        if kept and self._empty_note is not None:
            self._empty_note.wake()
        if self._full_note is not None and kept == self.capacity:
            self._full_note.sleep()
        carried = {}
        if kept:
            carried["packets"] = kept
        if kept < n:
            carried["dropped"] = n - kept
        return carried or None

    cdef bint _keeps_newest(self) noexcept:
        return False

    def port_notifier(self, isoutput, port, kind):
        if isoutput and kind == "empty":
            return self._empty_note
        if not isoutput and kind == "full":
            return self._full_note
        return None

    cdef bint enqueue(self, Packet *p) noexcept:
        cdef unsigned nt = (self._tail + 1) % self._slots
        cdef unsigned s
        if nt == self._head:
            return False
        self._q[self._tail] = p
        self._tail = nt
        s = self.size()
        if s > self.highwater_length:
            self.highwater_length = s
        if self._empty_note is not None:
            self._empty_note.wake()
        if self._full_note is not None and s == self.capacity:
            self._full_note.sleep()
        return True

    cdef Packet *dequeue(self) noexcept:
        cdef Packet *p
        if self._head == self._tail:
            if self._empty_note is not None:
                if self._sleepiness >= SLEEPINESS_TRIGGER:
                    self._empty_note.sleep()
                else:
                    self._sleepiness += 1
            return NULL
        p = self._q[self._head]
        self._head = (self._head + 1) % self._slots
        self._sleepiness = 0
        if self._full_note is not None:
            self._full_note.wake()
        return p

    cdef void push(self, int port, Packet *p) noexcept:
        if not self.enqueue(p):
            if self.drops == 0 and self.capacity > 0:
                import sys
                print(f"{self.declaration()}: overflow", file=sys.stderr)
            self.drops += 1
            self.checked_output_push(1, p)

    cdef Packet *pull(self, int port) noexcept:
        return self.dequeue()

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        cdef Packet *p
        b.count = 0
        while b.count < max:
            p = self.dequeue()
            if p == NULL:
                break
            b.p[b.count] = p
            b.count += 1
        return b.count
