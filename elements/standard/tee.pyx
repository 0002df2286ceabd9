# cython: language_level=3
"""Tee: sends a copy of each pushed packet to every output."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet, packet_clone

from clickpy.runtime.args import Arg, Unsigned


cdef class Tee(Element):
    """=c
    Tee([N])

    =s basictransfer
    duplicates packets

    =d
    Pushes each packet arriving on its input out of every output: outputs 0
    to N-2 get clones (sharing the data buffer; writers copy on write) and
    the last output gets the original. N, when given, must equal the number
    of outputs.

    A batch is handled packet by packet, so that the elements downstream see
    packets in exactly the order they would see them one at a time (a packet
    reaches every output before the next packet reaches any).

    =e
    src -> t :: Tee;
    t[0] -> Queue -> ToDevice(eth0);
    t[1] -> Counter -> Discard;
    """
    port_count = "1/1-"
    processing = "h"
    arguments = (Arg("N", Unsigned, None, positional=True),)

    cdef public object n

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        if self.n is not None and self.n != self.noutputs:
            errh.error(f"{self.noutputs} outputs implies {self.noutputs} arms")

    cdef void push(self, int port, Packet *p) noexcept:
        cdef int i
        cdef int last = self.noutputs - 1
        cdef Packet *q
        for i in range(last):
            q = packet_clone(p)
            if q != NULL:
                self.output_push(i, q)
        self.output_push(last, p)
