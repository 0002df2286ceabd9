# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""StripIPHeader: removes the outermost IP header."""
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, pkt_pull


cdef class StripIPHeader(SimpleElement):
    """=c
    StripIPHeader()

    =s ip
    strips outermost IP header

    =d
    Removes everything up to the transport header annotation, that is the
    IP header marked by CheckIPHeader or MarkIPHeader (and anything before
    it). The annotations stay as they were, so the IP header annotation
    still points at the removed header; use UnstripIPHeader to put it back,
    or CheckIPHeader to mark an inner header. Packets without a header
    annotation are dropped; a packet already stripped passes unchanged.

    =a CheckIPHeader, MarkIPHeader, UnstripIPHeader, Strip
    """
    port_count = "1/1"
    processing = "a"
    arguments = ()

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef int offset
        if p.transport < 0:
            self.drop(p)
            return NULL
        offset = p.transport - <int> p.data
        if offset > 0:
            pkt_pull(p, offset)
        return p
