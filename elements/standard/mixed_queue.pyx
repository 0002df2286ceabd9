# cython: language_level=3
"""MixedQueue: FIFO on input 0, LIFO on input 1."""
from clickpy.runtime.packet cimport Packet

from clickpy.elements.standard.notifier_queue cimport NotifierQueue


cdef class MixedQueue(NotifierQueue):
    """=c
    MixedQueue([CAPACITY])

    =s storage
    stores packets in a FIFO/LIFO queue

    =d
    A queue with two inputs. Packets pushed on input 0 join the tail (first
    in, first out); packets pushed on input 1 go to the head (last in, first
    out), so they are pulled next. When CAPACITY (default 1000) packets are
    held, a packet arriving on input 0 is dropped, while one arriving on
    input 1 is kept and the packet at the tail (the newest FIFO packet) is
    dropped instead. Dropped packets leave on output 1 if it exists. Pullers
    that listen sleep while it is empty, as with NotifierQueue.

    =h length, highwater_length, drops read-only
    =h capacity read/write
    =h reset_counts write-only: zero drops and highwater_length
    =h reset write-only: empty the queue (packets leave on output 1 if it exists)

    =e
    Five pushes of packets A to E, head on the left:

      push(0, A)   [A]
      push(0, B)   [A B]
      push(1, C)   [C A B]
      push(0, D)   [C A B D]
      push(1, E)   [E C A B D]
    """
    port_count = "2/1-2"

    cdef void push(self, int port, Packet *p) noexcept:
        cdef Packet *dropped = NULL
        cdef unsigned nt, ph, s
        if port == 0:
            # FIFO: join the tail; a full queue drops the newcomer.
            nt = (self._tail + 1) % self._slots
            if nt == self._head:
                self._overflow()
                self.checked_output_push(1, p)
                return
            self._q[self._tail] = p
            self._tail = nt
        else:
            # LIFO: go to the head; a full queue drops its newest packet.
            ph = (self._head + self._slots - 1) % self._slots
            if ph == self._tail:
                self._overflow()
                if self._head == self._tail:
                    # CAPACITY 0: nothing to make room with.
                    self.checked_output_push(1, p)
                    return
                self._tail = (self._tail + self._slots - 1) % self._slots
                dropped = self._q[self._tail]
            self._q[ph] = p
            self._head = ph
        s = self.size()
        if s > self.highwater_length:
            self.highwater_length = s
        if s == 1:
            self._empty_note.wake()
        if dropped != NULL:
            self.checked_output_push(1, dropped)

    cdef void _overflow(self) noexcept:
        if self.drops == 0 and self.capacity > 0:
            import sys
            print(f"{self.declaration()}: overflow", file=sys.stderr)
        self.drops += 1
