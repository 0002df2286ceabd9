# cython: language_level=3
from libc.stdint cimport uint64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport ActiveNotifier
from clickpy.runtime.packet cimport Batch, Packet


cdef class SimpleQueue(Element):
    cdef Packet **_q           # ring of capacity + 1 slots
    cdef unsigned _slots
    cdef unsigned _head
    cdef unsigned _tail
    cdef public unsigned capacity
    cdef public unsigned highwater_length
    cdef public uint64_t drops
    cdef int _sleepiness
    # Queues that notify: 'empty' wakes pullers, 'full' wakes pushers.
    cdef ActiveNotifier _empty_note
    cdef ActiveNotifier _full_note

    cdef int _resize(self, unsigned capacity) except -1
    cdef inline unsigned size(self) noexcept:
        return (self._tail + self._slots - self._head) % self._slots
    cdef bint enqueue(self, Packet *p) noexcept
    cdef Packet *dequeue(self) noexcept
    # which packets a smaller queue keeps when it takes another's: the newest, or the oldest
    cdef bint _keeps_newest(self) noexcept
