# cython: language_level=3
from cpython.object cimport PyObject

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet

ctypedef void (*chain_fn)(PyObject **els, Packet *p) noexcept
ctypedef void (*chain_batch_fn)(PyObject **els, Batch *b) noexcept


cdef class ChainEntry(Element):
    cdef chain_fn _fn
    cdef chain_batch_fn _batch_fn
    cdef PyObject **_els         # the chain's elements, borrowed from _refs
    cdef list _refs
    cdef Element _target
    cdef int _target_port
    cdef object _capsule        # keeps the module that holds the functions loaded
    cdef object _batch_capsule


# Where a chain's batch function gathers the packets leaving it: the packets
# waiting for one exit (an element's push input), sent on as one batch
# before a packet leaves by another exit, and at the end of the batch. So
# every exit gets its packets in per-packet order, in as few batches as
# that order allows (BranchElement's OutputRun, across a whole chain).
cdef struct ExitRun:
    PyObject *el            # the exit's element, or NULL before the first packet
    int port
    Batch batch


cdef inline void exit_flush(ExitRun *r) noexcept:
    if r.batch.count:
        (<Element> r.el).push_batch(r.port, &r.batch)
        r.batch.count = 0


cdef inline void exit_add(ExitRun *r, PyObject *el, int port, Packet *p) noexcept:
    """Queue p for element el's input port, after every packet added before
    it. At most one batch's packets (MAX_BATCH) between two flushes."""
    if el != r.el or port != r.port:
        exit_flush(r)
        r.el = el
        r.port = port
    r.batch.p[r.batch.count] = p
    r.batch.count += 1
