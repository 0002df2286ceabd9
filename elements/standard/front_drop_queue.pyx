# cython: language_level=3
"""FrontDropQueue: a FIFO that, when full, drops its oldest packet to make room."""
from libc.stdlib cimport free, malloc

from clickpy.runtime.packet cimport Packet, packet_kill

from clickpy.elements.standard.notifier_queue cimport NotifierQueue


cdef class FrontDropQueue(NotifierQueue):
    """=c
    FrontDropQueue([CAPACITY])

    =s storage
    stores packets in drop-from-front FIFO queue

    =d
    Stores pushed packets, first in first out, until pulled. When a packet
    arrives and CAPACITY (default 1000) packets are already held, the packet
    at the head -- the oldest -- is dropped (sent to output 1 if it exists)
    and the new one is queued. Pullers that listen sleep while it is empty,
    as with NotifierQueue.

    Lowering the capacity (a 'capacity' write), or a reload into a smaller
    FrontDropQueue, keeps the newest packets.

    =h length, highwater_length read-only
    =h drops read-only: packets dropped from the front so far
    =h capacity read/write
    =h reset_counts write-only: zero drops and highwater_length
    =h reset write-only: empty the queue (packets leave on output 1 if it exists)

    =e
    ... -> FrontDropQueue(100) -> ToDevice(eth0);
    """

    cdef void push(self, int port, Packet *p) noexcept:
        cdef unsigned nt = (self._tail + 1) % self._slots
        cdef unsigned s
        cdef Packet *old
        if nt == self._head:
            if self.drops == 0 and self.capacity > 0:
                import sys
                print(f"{self.declaration()}: overflow", file=sys.stderr)
            # The oldest packet goes first, as in Click (with CAPACITY 0 the
            # 'oldest' is the newcomer itself, which then cannot be kept).
            if self._head == self._tail:
                self.drops += 1
                self.checked_output_push(1, p)
                return
            old = self._q[self._head]
            self._head = (self._head + 1) % self._slots
            self.drops += 1
            self.checked_output_push(1, old)
        self._q[self._tail] = p
        self._tail = nt
        s = self.size()
        if s > self.highwater_length:
            self.highwater_length = s
        if s == 1:
            self._empty_note.wake()

    cdef int _resize(self, unsigned capacity) except -1:
        # Keep the newest packets (the tail), drop the oldest.
        cdef unsigned n = self.size()
        cdef unsigned skip = n - capacity if n > capacity else 0
        cdef Packet **q = <Packet **> malloc((capacity + 1) * sizeof(Packet *))
        cdef unsigned i = 0
        if q == NULL:
            raise MemoryError()
        while self._head != self._tail:
            if skip > 0:
                packet_kill(self._q[self._head])
                skip -= 1
            else:
                q[i] = self._q[self._head]
                i += 1
            self._head = (self._head + 1) % self._slots
        free(self._q)
        self._q = q
        self._slots = capacity + 1
        self._head = 0
        self._tail = i
        self.capacity = capacity
        return 0

    cdef bint _keeps_newest(self) noexcept:
        # As when its capacity shrinks: the newest packets stay.
        return True
