# cython: language_level=3
"""NotifierQueue: a FIFO that tells pullers when it has packets."""
from clickpy.runtime.notifier cimport ActiveNotifier

from clickpy.elements.standard.simple_queue cimport SimpleQueue


cdef class NotifierQueue(SimpleQueue):
    """=c
    NotifierQueue([CAPACITY])

    =s storage
    stores packets in a FIFO queue

    =d
    Stores pushed packets, first in first out, until pulled; drops a packet
    pushed when CAPACITY (default 1000) are held, sending it to output 1 if
    that exists. Pullers downstream that listen (Unqueue, RatedUnqueue,
    ToDevice...) sleep while the queue is empty: the queue tells them to, a
    few empty pulls after it empties (so a queue hovering around one packet
    does not make them thrash), and wakes them when a packet arrives.
    Unlike Queue it says nothing to pushers about being full.

    =h length, highwater_length, drops read-only
    =h capacity read/write
    =h reset_counts write-only: zero drops and highwater_length
    =h reset write-only: empty the queue (packets leave on output 1 if it exists)

    =e
    src :: InfiniteSource(LIMIT 15) -> q :: NotifierQueue(5) -> Idle;
    // q.drops is 10: InfiniteSource is not told the queue is full.
    """
    def __cinit__(self):
        self._empty_note = ActiveNotifier("empty", 0, False)
