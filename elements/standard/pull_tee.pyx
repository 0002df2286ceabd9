# cython: language_level=3
"""PullTee: hands each pulled packet on, and pushes clones of it out of its other outputs."""
from clickpy.runtime.element cimport Element, batch_of_one
from clickpy.runtime.packet cimport Batch, Packet, packet_clone

from clickpy.runtime.args import Arg, Unsigned


cdef class PullTee(Element):
    """=c
    PullTee([N])

    =s basictransfer
    duplicates packets

    =d
    Output 0 is a pull output: a pull there pulls a packet from the input and
    returns it, after pushing a clone of it out of each other (push) output,
    1 to N-1. N, when given, must equal the number of outputs.

    =e
    q :: Queue -> t :: PullTee -> ToDevice(eth0);
    t[1] -> Counter -> Discard;
    """
    port_count = "1/1-"
    processing = "l/lh"
    arguments = (Arg("N", Unsigned, None, positional=True),)

    cdef public object n

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        if self.n is not None and self.n != self.noutputs:
            errh.error(f"{self.noutputs} outputs implies {self.noutputs} arms")

    cdef inline void _copies(self, Packet *p) noexcept:
        cdef int i
        cdef Packet *q
        for i in range(1, self.noutputs):
            q = packet_clone(p)
            if q != NULL:
                self.output_push(i, q)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = self.input_pull(0)
        if p != NULL:
            self._copies(p)
        return p

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        # One packet per call, as Click pulls: its copies leave on the push
        # outputs just before the caller sends it on. Copies of a longer batch
        # would all leave before any of the batch.
        return batch_of_one(b, self.pull(port))
