# cython: language_level=3
"""BranchElement: one input; each packet goes on out of the output
``classify`` picks (usually 0, or an error or divert output 1; dropped if
that output is not connected), or is consumed.

A subclass writes ``classify`` once and gets push, batched push and pull
with the same results. In a batch, consecutive packets for one output leave
together, and a run is sent before the next packet for another output (see
OutputRun), so each output, and the order across outputs, is exactly what
per-packet pushes give. ``emit`` sends an extra packet (a copy) from inside
``classify`` at the point per-packet processing would. A pulled batch holds
one packet, for the same reason.
"""
from clickpy.runtime.element cimport Element, OutputRun, batch_of_one, run_add, run_flush, run_start
from clickpy.runtime.packet cimport Batch, Packet


cdef class BranchElement(Element):
    abstract = True
    # True in a class whose classify calls emit: a fused chain's batch
    # function does not inline it (clickpy.specialize).
    emits = False

    def __cinit__(self, *args, **kwargs):
        self._pending = NULL

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        out[0] = 0
        return p

    cdef void emit(self, int port, Packet *p) noexcept:
        if self._pending != NULL:
            run_flush(self, self._pending)
        self.checked_output_push(port, p)

    cdef void push(self, int port, Packet *p) noexcept:
        cdef int out
        p = self.classify(p, &out)
        if p != NULL:
            self.checked_output_push(out, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef OutputRun run
        cdef OutputRun *outer = self._pending   # a push_batch further up a loop
        cdef int i, out
        cdef int n = b.count
        cdef Packet *p
        run_start(&run)
        self._pending = &run
        b.count = 0
        for i in range(n):
            p = self.classify(b.p[i], &out)
            if p != NULL:
                run_add(self, &run, out, p)
        run_flush(self, &run)
        self._pending = outer

    cdef Packet *pull(self, int port) noexcept:
        cdef int out
        cdef Packet *p = self.input_pull(0)
        if p == NULL:
            return NULL
        p = self.classify(p, &out)
        if p == NULL or out == 0:
            return p
        self.checked_output_push(out, p)
        return NULL

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        # One packet per call: a packet sent to another output (or a copy
        # emitted) while pulling a longer batch would leave before the
        # packets pulled ahead of it, which the caller only sends on later.
        return batch_of_one(b, self.pull(port))
