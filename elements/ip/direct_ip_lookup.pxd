# cython: language_level=3
"""DirectIPLookup's DIR-24-8 table, also the helper table of RangeIPLookup (see direct_ip_lookup.pyx)."""
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t

from clickpy.elements.ip.ip_route_table cimport IPRouteTable

cdef enum:
    DIR_BLOCK_FLAG = 0x8000     # a first-level entry that names a second-level block
    DIR_MAX_VPORTS = 0x8000     # virtual ports fit in 15 bits
    DIR_MAX_BLOCKS = 0x8000
    DIR_DISCARD_PORT = -1


cdef struct VPort:
    uint32_t gw             # host order; 0: none
    int32_t port            # DIR_DISCARD_PORT: drop
    int32_t refcount        # routes using it


cdef class DirTable:
    cdef uint16_t *tbl0     # per /24: a vport, or DIR_BLOCK_FLAG | block number
    cdef uint8_t *plen0     # per /24: prefix length of the route that set it
    cdef uint16_t *tbl1     # blocks of 256 vports, one per address of a /24
    cdef uint8_t *plen1
    cdef int nblocks        # blocks allocated in tbl1
    cdef int used_blocks    # blocks ever handed out
    cdef int32_t *free_stack  # blocks given back, reused first
    cdef int nfree
    cdef VPort *vp
    cdef int vp_cap
    cdef int vp_n           # vports ever handed out
    cdef public int vport_limit
    cdef dict vp_index      # (gw, port) -> vport, for every vport but 0 (the default route's)
    cdef list vp_free
    cdef dict routes        # (prefix, plen) -> [vport, insertion number], default route excluded
    cdef uint64_t seq

    cdef inline int lookup(self, uint32_t addr, uint32_t *gw) noexcept nogil:
        cdef uint16_t v = self.tbl0[addr >> 8]
        if v & DIR_BLOCK_FLAG:
            v = self.tbl1[(<uint32_t> (v & 0x7FFF) << 8) | (addr & 0xFF)]
        gw[0] = self.vp[v].gw
        return self.vp[v].port

    cdef int _vport_get(self, uint32_t gw, int32_t port) except -2
    cdef void _vport_unref(self, int v) except *
    cdef int _block_alloc(self) noexcept nogil
    cdef void _fill(self, uint32_t prefix, int plen, uint16_t v) noexcept nogil
    cdef void _unfill(self, uint32_t prefix, int plen, uint16_t v, int newplen) noexcept nogil
    cdef bint _prunable(self, int block) noexcept nogil


cdef class DirectIPLookup(IPRouteTable):
    cdef DirTable _t
