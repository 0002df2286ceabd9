# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""UnstripIPHeader: puts the outermost IP header back."""
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, pkt_push


cdef class UnstripIPHeader(SimpleElement):
    """=c
    UnstripIPHeader()

    =s ip
    restores outermost IP header

    =d
    Moves the packet's data start back to its IP header annotation, undoing
    StripIPHeader. Packets whose data already starts at or before the IP
    header pass unchanged; packets without an IP header annotation are
    dropped.

    =a CheckIPHeader, MarkIPHeader, StripIPHeader
    """
    port_count = "1/1"
    processing = "a"
    arguments = ()

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef int offset
        if p.network < 0:
            self.drop(p)
            return NULL
        offset = p.network - <int> p.data
        if offset < 0:
            p = pkt_push(p, <unsigned> -offset)
            if p == NULL:
                self.dropped += 1
        return p
