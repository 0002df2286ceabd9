# cython: language_level=3
"""MarkIPHeader: sets the IP header annotation without checking anything."""
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, pkt_data, pkt_set_network_header

from clickpy.runtime.args import Arg, Unsigned


cdef class MarkIPHeader(SimpleElement):
    """=c
    MarkIPHeader([OFFSET])

    =s ip
    sets IP header annotation

    =d
    Marks packets as IP packets by setting the IP header annotation: the
    header starts OFFSET bytes in (default 0) and is as long as its header
    length field says. Checks nothing, does not shorten packets and does not
    set the destination address annotation (CheckIPHeader does). A packet too
    short to hold the header length byte is dropped.

    =a CheckIPHeader, CheckIPHeader2, StripIPHeader
    """
    arguments = (Arg("OFFSET", Unsigned, 0, positional=True),)

    cdef public unsigned offset

    cdef Packet *simple_action(self, Packet *p) noexcept:
        if self.offset >= p.length:
            self.drop(p)
            return NULL
        pkt_set_network_header(p, self.offset, (pkt_data(p)[self.offset] & 0x0F) << 2)
        return p
