# cython: language_level=3
"""BranchElement: one input; each packet goes on out of output 0, or out of
output 1 (dropped if output 1 is not connected), as ``classify`` decides.

A subclass writes ``classify`` once and gets push, batched push and pull
with the same results. In a batch, packets for output 0 leave in runs, and a
run is sent before the next packet for output 1, so each output sees
exactly the order per-packet pushes would give.
"""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet


cdef class BranchElement(Element):
    abstract = True

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        out[0] = 0
        return p

    cdef void push(self, int port, Packet *p) noexcept:
        cdef int out
        p = self.classify(p, &out)
        if p == NULL:
            return
        if out == 0:
            self.output_push(0, p)
        else:
            self.checked_output_push(1, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef Batch run
        cdef int i, out
        cdef int n = b.count
        cdef Packet *p
        run.count = 0
        b.count = 0
        for i in range(n):
            p = self.classify(b.p[i], &out)
            if p == NULL:
                continue
            if out == 0:
                run.p[run.count] = p
                run.count += 1
            else:
                if run.count:
                    self.output_push_batch(0, &run)
                    run.count = 0
                self.checked_output_push(1, p)
        if run.count:
            self.output_push_batch(0, &run)

    cdef Packet *pull(self, int port) noexcept:
        cdef int out
        cdef Packet *p = self.input_pull(0)
        if p == NULL:
            return NULL
        p = self.classify(p, &out)
        if p == NULL or out == 0:
            return p
        self.checked_output_push(1, p)
        return NULL
