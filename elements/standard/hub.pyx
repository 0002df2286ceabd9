# cython: language_level=3
"""Hub: sends each packet out of every output except the one numbered like its input."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet, packet_clone, packet_kill


cdef class Hub(Element):
    """=c
    Hub

    =s basictransfer
    duplicates packets like a hub

    =d
    Has as many outputs as inputs. A packet arriving on input I goes out of
    every output except output I: clones out of all but the last of those,
    the packet itself out of the last. With a single port, packets are
    dropped. A batch is handled packet by packet (the one-at-a-time order).

    =e
    // three segments joined like a hub
    FromDevice(eth0) -> [0] h :: Hub;  FromDevice(eth1) -> [1] h;  FromDevice(eth2) -> [2] h;
    h[0] -> Queue -> ToDevice(eth0);  h[1] -> Queue -> ToDevice(eth1);  h[2] -> Queue -> ToDevice(eth2);
    """
    port_count = "-/="
    processing = "h"
    flow_code = "#/[^#]"

    cdef void push(self, int port, Packet *p) noexcept:
        cdef int i, sent = 0
        cdef int nout = self.noutputs
        cdef Packet *q
        for i in range(nout):
            if i == port:
                continue
            sent += 1
            if sent == nout - 1:
                q = p
            else:
                q = packet_clone(p)
            if q != NULL:
                self.output_push(i, q)
        if sent == 0:
            packet_kill(p)
