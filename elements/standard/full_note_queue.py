"""FullNoteQueue: Click's old name for Queue."""
from clickpy.elements.standard.queue import Queue


class FullNoteQueue(Queue):
    """=c
    FullNoteQueue([CAPACITY])

    =s storage
    stores packets in a FIFO queue (old name of Queue)

    =d
    Exactly Queue: a FIFO of CAPACITY (default 1000) packets that tells
    pullers when it has packets and pushers when it has room. Click keeps
    this name for old configurations; new ones say Queue.

    =h length, highwater_length, drops read-only
    =h capacity read/write
    =h reset_counts, reset write-only

    =e
    InfiniteSource(LIMIT 15) -> FullNoteQueue(5) -> Idle;
    // InfiniteSource sleeps once 5 packets wait: nothing is dropped.
    """
    # The data path, notifiers and handlers are Queue's (Cython); this
    # subclass only adds the name.
