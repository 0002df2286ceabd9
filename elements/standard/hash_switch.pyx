# cython: language_level=3
"""HashSwitch: chooses each packet's output from a hash of some of its bytes."""
from clickpy.runtime.element cimport Element, OutputRun, run_add, run_flush, run_start
from clickpy.runtime.packet cimport Batch, Packet, pkt_data

from clickpy.runtime.args import Arg, Unsigned


cdef class HashSwitch(Element):
    """=c
    HashSwitch(OFFSET, LENGTH)

    =s classification
    classifies packets by hash of contents

    =d
    Adds up the LENGTH bytes starting at OFFSET of each packet and sends the
    packet out of the output that sum selects (the low bits of the sum folded
    with itself for 2, 4 or 8 outputs, otherwise the sum modulo the number of
    outputs). Packets shorter than OFFSET + LENGTH go out of output 0.

    Packets of a batch that pick the same output one after another travel on
    together as one batch; the order in which packets reach the outputs is
    exactly the one-at-a-time order.

    =e
    src -> h :: HashSwitch(26, 8);   // IP source and destination
    h[0] -> Queue -> ToDevice(eth0);
    h[1] -> Queue -> ToDevice(eth1);
    """
    port_count = "1/1-"
    processing = "h"
    arguments = (
        Arg("OFFSET", Unsigned, None, positional=True, mandatory=True),
        Arg("LENGTH", Unsigned, None, positional=True, mandatory=True),
    )

    cdef public unsigned offset
    cdef public unsigned length

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        if self.length == 0:
            errh.error("length must be > 0")

    cdef inline int choose(self, Packet *p) noexcept:
        cdef const unsigned char *d
        cdef unsigned i
        cdef int s = 0
        cdef int n = self.noutputs
        if <unsigned long long> p.length < <unsigned long long> self.offset + self.length:
            return 0
        d = pkt_data(p)
        for i in range(self.offset, self.offset + self.length):
            s += d[i]
        if n == 2 or n == 4 or n == 8:
            return (s ^ (s >> 4)) & (n - 1)
        return s % n

    cdef void push(self, int port, Packet *p) noexcept:
        self.output_push(self.choose(p), p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef OutputRun run
        cdef int i
        cdef int n = b.count
        run_start(&run)
        b.count = 0
        for i in range(n):
            run_add(self, &run, self.choose(b.p[i]), b.p[i])
        run_flush(self, &run)
