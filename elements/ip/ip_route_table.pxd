# cython: language_level=3
"""IPRouteTable: the base of the IP route lookup elements (see ip_route_table.pyx).

A subclass keeps its routes in whatever structure suits it and answers
``lookup_route``: the output port for a destination address (or -1), and the
gateway to put in the destination annotation (0 for none). Addresses are
host-order integers everywhere in these modules; the annotation holds them
in network order, as Click's does.
"""
from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet


cdef enum:
    NO_ROUTE_PORT = -1
    # A free slot in a route vector has this port (Click's IPRoute::kill).
    DEAD_PORT = -0x7FFFFFFF - 1


cdef struct RouteEntry:
    uint32_t addr       # host order, already masked
    uint32_t mask
    uint32_t gw         # 0: no gateway
    int32_t port        # DEAD_PORT: unused slot
    int32_t extra       # per-table use (next pointer, free-list link)


cdef inline uint32_t anno_dst_ip(Packet *p) noexcept nogil:
    """The destination IP annotation as a host-order integer."""
    cdef const uint8_t *a = &p.anno[DST_IP_ANNO_OFFSET]
    return (<uint32_t> a[0] << 24) | (<uint32_t> a[1] << 16) | (<uint32_t> a[2] << 8) | a[3]


cdef inline void set_anno_dst_ip(Packet *p, uint32_t v) noexcept nogil:
    cdef uint8_t *a = &p.anno[DST_IP_ANNO_OFFSET]
    a[0] = <uint8_t> (v >> 24)
    a[1] = <uint8_t> (v >> 16)
    a[2] = <uint8_t> (v >> 8)
    a[3] = <uint8_t> v


cdef inline bint mask_as_specific(uint32_t mask, uint32_t than) noexcept nogil:
    """mask has every bit of than (Click's IPAddress::mask_as_specific)."""
    return (mask & than) == than


cdef class IPRouteTable(Element):
    cdef public uint64_t no_route      # packets dropped because no route matched

    cdef int lookup_route(self, uint32_t addr, uint32_t *gw) noexcept
    cdef void forward(self, Packet *p) noexcept
    cdef void drop_unrouted(self, Packet *p, uint32_t addr) noexcept
