# cython: language_level=3
"""Queue: a FIFO that tells pullers when it has packets and pushers when it has room."""
from clickpy.runtime.notifier cimport ActiveNotifier

from clickpy.elements.standard.simple_queue cimport SimpleQueue


cdef class Queue(SimpleQueue):
    """=c
    Queue([CAPACITY])

    =s storage
    stores packets in a FIFO queue

    =d
    A SimpleQueue with notification: pullers downstream (Unqueue, ToDevice)
    sleep while it is empty and wake when a packet arrives; pushers upstream
    that listen (InfiniteSource, RatedUnqueue) pause while it is full.
    """
    def __cinit__(self):
        self._empty_note = ActiveNotifier("empty", 0, False)
        self._full_note = ActiveNotifier("full", 0, True)
