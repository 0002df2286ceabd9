# cython: language_level=3
"""LinearIPLookup: a route vector searched front to back (see linear_ip_lookup.pyx)."""
from libc.stdint cimport uint32_t

from clickpy.elements.ip.ip_route_table cimport IPRouteTable, RouteEntry


cdef class LinearIPLookup(IPRouteTable):
    cdef RouteEntry *_t         # route slots; dead slots have port DEAD_PORT
    cdef int _n                 # slots in use, dead ones included
    cdef int _cap
    cdef int _zero_route        # slot of the 0.0.0.0/32 route, or -1
    cdef uint32_t _last_addr    # one-entry cache of the last lookup (0: empty)
    cdef int _last_entry

    cdef int lookup_entry(self, uint32_t a) noexcept nogil
    cdef bint _reserve(self, int n) noexcept
    cdef object _route(self, int i)
    cdef void _kill(self, int i) noexcept
