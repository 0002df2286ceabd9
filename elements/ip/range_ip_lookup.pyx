# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""RangeIPLookup: IP route lookup by binary search in a compact table of address ranges.

The routing table is kept, for updates, in a DIR-24-8 helper table (the one
DirectIPLookup uses). After every change the helper is flattened into a
sorted list of the address ranges over which the answer is constant. Each
range is one 32-bit word: its virtual port in the top 12 bits, the low 20
bits of its first address below. A "kickstart" table indexed by the top 12
address bits says where the ranges of that part of the address space start
and how many there are, so a lookup binary-searches only a few words. This
is Click's design: tiny and cache-friendly for lookups, while each update
re-reads the helper table.

Since a range names its virtual port in 12 bits, at most 4096 distinct
(gateway, output) pairs fit.
"""
from libc.stdint cimport uint16_t, uint32_t
from libc.stdlib cimport calloc, free, realloc

from clickpy.elements.ip.direct_ip_lookup cimport DIR_BLOCK_FLAG, DirTable
from clickpy.elements.ip.ip_route_table cimport IPRouteTable
from clickpy.runtime.packet cimport Packet

from clickpy.elements.ip.direct_ip_lookup import dir_add_route, dir_dump, dir_remove_route
from clickpy.elements.ip.ip_route_table import LOOKUP_HANDLER, TABLE_HANDLER, UPDATE_HANDLERS
from clickpy.runtime.handlers import Write

cdef enum:
    KICKSTART_BITS = 12
    KICKSTART_SIZE = 1 << 12
    RANGE_SHIFT = 32 - 12
    RANGE_MASK = 0xFFFFF
    RANGE_VPORTS = 1 << 12


def _flush(e, value):
    e.flush()


cdef class RangeIPLookup(IPRouteTable):
    """=c
    RangeIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)

    =s iproute
    IP routing lookup through binary search in a very compact table

    =d
    Looks up each packet's destination IP annotation by longest prefix
    match, sets the annotation to the route's gateway GW when it has one,
    and pushes the packet to the route's OUTput; packets without a route
    are dropped. Each argument is a route: a destination and mask (a
    prefix), an optional gateway, and an output port.

    The routes are expanded into the list of address ranges with one answer
    each, typically under 4 bytes per route, searched by binary search from
    a small table indexed by the top 12 address bits: lookups stay in the
    CPU cache. A DirectIPLookup-style table kept beside it serves updates,
    each of which rebuilds the range list. At most 4096 distinct (gateway,
    output) pairs are possible.

    =h table read-only: the routes, one a line
    =h lookup read with parameter ADDR: 'OUT GW' (or 'OUT') for ADDR; -1 if none
    =h add write-only: 'ADDR/MASK [GW] OUT'; fails if a route for ADDR/MASK exists
    =h set write-only: 'ADDR/MASK [GW] OUT', replacing any route for ADDR/MASK
    =h remove write-only: 'ADDR/MASK [GW OUT]'
    =h ctrl write-only: lines 'add ...', 'set ...', 'remove ...', applied all or nothing
    =h flush write-only: remove every route

    =a IPRouteTable, DirectIPLookup, RadixIPLookup, LinearIPLookup
    """
    port_count = "1/-"
    processing = "h"
    handlers = UPDATE_HANDLERS + (TABLE_HANDLER, LOOKUP_HANDLER, Write("flush", _flush, button=True))
    no_route_label = "RangeIPLookup"

    cdef DirTable _helper
    cdef uint32_t *_base         # per kickstart slot: index of its first range
    cdef uint32_t *_len          # per kickstart slot: its number of ranges, minus one
    cdef uint32_t *_ranges       # vport << 20 | low 20 bits of the range's first address
    cdef uint32_t _nranges
    cdef uint32_t _cap
    cdef bint _active            # ranges follow the helper (after initialize)

    def __cinit__(self, *args, **kwargs):
        self._helper = DirTable(RANGE_VPORTS)
        self._base = <uint32_t *> calloc(KICKSTART_SIZE, sizeof(uint32_t))
        self._len = <uint32_t *> calloc(KICKSTART_SIZE, sizeof(uint32_t))
        self._cap = KICKSTART_SIZE * 2
        self._ranges = <uint32_t *> calloc(self._cap, sizeof(uint32_t))
        if self._base == NULL or self._len == NULL or self._ranges == NULL:
            raise MemoryError("RangeIPLookup: no memory")
        self._nranges = 1
        self._active = False

    def __dealloc__(self):
        free(self._base)
        free(self._len)
        free(self._ranges)

    def configure(self, conf, errh):
        self._active = False
        self._helper.flush()
        return IPRouteTable.configure(self, conf, errh)

    def initialize(self, errh):
        if not self.expand():
            errh.error("no memory for the range table")
            return
        self._active = True

    def add_route(self, route, bint set, errh):
        r, old = dir_add_route(self._helper, "RangeIPLookup", route, set, errh)
        if r == 0 and self._active and not self.expand():
            return -12, old
        return r, old

    def remove_route(self, route, errh):
        r, old = dir_remove_route(self._helper, route, errh)
        if r == 0 and self._active and not self.expand():
            return -12, old
        return r, old

    def dump_routes(self):
        return dir_dump(self._helper)

    def flush(self):
        self._helper.flush()
        self.expand()

    @property
    def dir_table(self):
        return self._helper

    @property
    def nranges(self):
        return self._nranges

    def expand(self):
        """Rebuild the ranges from the helper table; False if out of memory."""
        cdef bint ok
        cdef const uint16_t *tbl0 = self._helper.tbl0
        cdef const uint16_t *tbl1 = self._helper.tbl1
        with nogil:
            ok = self._expand(tbl0, tbl1)
        return ok

    cdef bint _push_range(self, uint32_t word) noexcept nogil:
        cdef uint32_t *grown
        if self._nranges == self._cap:
            grown = <uint32_t *> realloc(self._ranges, 2 * self._cap * sizeof(uint32_t))
            if grown == NULL:
                return False
            self._ranges = grown
            self._cap *= 2
        self._ranges[self._nranges] = word
        self._nranges += 1
        return True

    cdef bint _expand(self, const uint16_t *tbl0, const uint16_t *tbl1) noexcept nogil:
        cdef uint32_t slot, i = 0, j, b, n
        cdef uint32_t first
        cdef uint16_t v, cur
        self._nranges = 0
        for slot in range(KICKSTART_SIZE):
            cur = 0xFFFF
            first = self._nranges
            self._base[slot] = first
            while i < ((slot + 1) << (24 - KICKSTART_BITS)):
                if tbl0[i] & DIR_BLOCK_FLAG:
                    b = <uint32_t> (tbl0[i] & 0x7FFF) << 8
                    for j in range(256):
                        v = tbl1[b + j]
                        if v != cur:
                            cur = v
                            if not self._push_range((<uint32_t> v << RANGE_SHIFT) | (((i << 8) + j) & RANGE_MASK)):
                                return False
                else:
                    v = tbl0[i]
                    if v != cur:
                        cur = v
                        if not self._push_range((<uint32_t> v << RANGE_SHIFT) | ((i << 8) & RANGE_MASK)):
                            return False
                i += 1
            self._len[slot] = self._nranges - first - 1
        return True

    cdef int lookup_route(self, uint32_t addr, uint32_t *gw) noexcept:
        cdef uint32_t slot = addr >> RANGE_SHIFT
        cdef uint32_t lo = self._base[slot]
        cdef uint32_t hi = lo + self._len[slot]
        cdef uint32_t key = addr & RANGE_MASK
        cdef uint32_t mid
        cdef uint16_t v
        # The last range of the slot that starts at or before key.
        while hi > lo:
            mid = (hi + lo) >> 1
            if key < (self._ranges[mid] & RANGE_MASK):
                hi = mid
            elif key < (self._ranges[mid + 1] & RANGE_MASK):
                lo = mid
                break
            else:
                lo = mid + 1
        v = self._ranges[lo] >> RANGE_SHIFT
        gw[0] = self._helper.vp[v].gw
        return self._helper.vp[v].port

    cdef void drop_unrouted(self, Packet *p, uint32_t addr) noexcept:
        # Click's RangeIPLookup drops packets without a route silently.
        self.no_route += 1
        self.drop(p)
