# cython: language_level=3
"""StripToNetworkHeader: moves the data start to the network header."""
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, pkt_network_offset, pkt_pull, pkt_push


cdef class StripToNetworkHeader(SimpleElement):
    """=c
    StripToNetworkHeader()

    =s basicmod
    strips everything preceding network header

    =d
    Removes everything before the network header annotation from each packet.
    If the network header lies before the data start (it was stripped), moves
    the data start back to it. Packets without a network header annotation
    are dropped.

    =a Strip, MarkIPHeader
    """
    arguments = ()

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef int off
        if p.network < 0:
            self.drop(p)
            return NULL
        off = pkt_network_offset(p)
        if off >= 0:
            pkt_pull(p, off)
            return p
        return pkt_push(p, -off)
