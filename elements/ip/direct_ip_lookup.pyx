# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DirectIPLookup: IP route lookup in a DIR-24-8 table (one or two memory reads).

The table (``DirTable``)
------------------------
Gupta, Lin and McKeown's DIR-24-8-BASIC scheme. A first-level array has an
entry for every /24 (2^24 entries): a *virtual port* number, or, when
routes longer than /24 split that /24, the number of a 256-entry block in a
second-level array with one virtual port per address. A virtual port is a
(gateway, output) pair shared by every route that leads there; vport 0
belongs to the default route and says "discard" while there is none.
Beside every entry the table keeps the prefix length of the route that
wrote it, so adding a route overwrites exactly the entries no longer route
owns, and removing one hands its entries to the longest route that covers
it. A block whose 256 entries come back to one route of /24 or shorter is
freed.

The routes themselves (prefix, length) -> vport live in a dict; ``table``
lists them in the order of Click's hash table, so the output is Click's.

The first level takes 48 MB of address space, allocated zeroed; pages are
touched only where routes are.
"""
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memset

from clickpy.elements.ip.ip_route_table cimport NO_ROUTE_PORT, IPRouteTable
from clickpy.runtime.packet cimport Packet

from clickpy.elements.ip.ip_route_table import (
    EEXIST, ENOENT, ENOMEM, LOOKUP_HANDLER, TABLE_HANDLER, UPDATE_HANDLERS, IPRoute)
from clickpy.runtime.args import mask_prefix_len, prefix_mask
from clickpy.runtime.handlers import Write

cdef enum:
    FIRST_LEVEL = 1 << 24


def prefix_hash(uint32_t prefix, uint32_t plen):
    """Click's DirectIPLookup prefix hash (it fixes the order of the table handler).

    Shifts by 32 behave as on x86, where Click runs: the count is taken mod 32.
    """
    cdef uint32_t h = prefix ^ (plen << 5) ^ ((prefix >> (plen >> 2)) - plen)
    h ^= (h >> 23) ^ ((h >> 15) * plen) ^ ((prefix >> 17) * 53)
    h -= (prefix >> 3) ^ ((h >> (plen & 31)) * 7) ^ ((h >> 11) * 103)
    return (h ^ (h >> 17)) & 0xFFFF


cdef class DirTable:
    """A DIR-24-8 routing table; routes are (host-order prefix, length, gw, port)."""

    def __cinit__(self, int vport_limit=DIR_MAX_VPORTS):
        self.tbl0 = NULL
        self.plen0 = NULL
        self.tbl1 = NULL
        self.plen1 = NULL
        self.nblocks = 0
        self.used_blocks = 0
        self.nfree = 0
        self.vport_limit = min(vport_limit, DIR_MAX_VPORTS)
        self.free_stack = <int32_t *> malloc(DIR_MAX_BLOCKS * sizeof(int32_t))
        self.vp_cap = 1024
        self.vp = <VPort *> malloc(self.vp_cap * sizeof(VPort))
        if self.free_stack == NULL or self.vp == NULL:
            raise MemoryError("DirTable: no memory")
        self.flush()

    def __dealloc__(self):
        free(self.tbl0)
        free(self.plen0)
        free(self.tbl1)
        free(self.plen1)
        free(self.free_stack)
        free(self.vp)

    def flush(self):
        """Remove every route."""
        free(self.tbl0)
        free(self.plen0)
        # Fresh zeroed memory: untouched pages cost nothing.
        self.tbl0 = <uint16_t *> calloc(FIRST_LEVEL, sizeof(uint16_t))
        self.plen0 = <uint8_t *> calloc(FIRST_LEVEL, sizeof(uint8_t))
        if self.tbl0 == NULL or self.plen0 == NULL:
            raise MemoryError("DirTable: no memory for the first-level table")
        self.used_blocks = 0
        self.nfree = 0
        self.vp[0].gw = 0
        self.vp[0].port = DIR_DISCARD_PORT
        self.vp[0].refcount = 1
        self.vp_n = 1
        self.vp_index = {}
        self.vp_free = []
        self.routes = {}
        self.seq = 0

    # --- virtual ports and blocks ----------------------------------------------------

    cdef int _vport_get(self, uint32_t gw, int32_t port) except -2:
        """The vport for (gw, port), made if needed (refcount 0); -1 when full."""
        cdef VPort *grown
        cdef int v
        found = self.vp_index.get((gw, port))
        if found is not None:
            return found
        if self.vp_free:
            v = self.vp_free.pop()
        else:
            if self.vp_n >= self.vport_limit:
                return -1
            if self.vp_n == self.vp_cap:
                grown = <VPort *> realloc(self.vp, 2 * self.vp_cap * sizeof(VPort))
                if grown == NULL:
                    return -1
                self.vp = grown
                self.vp_cap *= 2
            v = self.vp_n
            self.vp_n += 1
        self.vp[v].gw = gw
        self.vp[v].port = port
        self.vp[v].refcount = 0
        self.vp_index[(gw, port)] = v
        return v

    cdef void _vport_unref(self, int v) except *:
        if self.vp[v].refcount > 0:
            self.vp[v].refcount -= 1
        if self.vp[v].refcount == 0 and v != 0:
            del self.vp_index[(self.vp[v].gw, self.vp[v].port)]
            self.vp_free.append(v)

    cdef int _block_alloc(self) noexcept nogil:
        """A free second-level block, or -1."""
        cdef int n
        cdef uint16_t *t
        cdef uint8_t *pl
        if self.nfree:
            self.nfree -= 1
            return self.free_stack[self.nfree]
        if self.used_blocks == self.nblocks:
            if self.nblocks >= DIR_MAX_BLOCKS:
                return -1
            n = self.nblocks * 2 if self.nblocks else 16
            if n > DIR_MAX_BLOCKS:
                n = DIR_MAX_BLOCKS
            t = <uint16_t *> realloc(self.tbl1, <size_t> n * 256 * sizeof(uint16_t))
            if t == NULL:
                return -1
            self.tbl1 = t
            pl = <uint8_t *> realloc(self.plen1, <size_t> n * 256)
            if pl == NULL:
                return -1
            self.plen1 = pl
            self.nblocks = n
        self.used_blocks += 1
        return self.used_blocks - 1

    cdef bint _prunable(self, int block) noexcept nogil:
        """The block's entries all come from one route of /24 or shorter."""
        cdef uint32_t b = <uint32_t> block << 8
        cdef uint8_t pl = self.plen1[b]
        cdef int j
        if pl > 24:
            return False
        for j in range(1, 256):
            if self.plen1[b + j] != pl:
                return False
        return True

    # --- writing routes into the tables ------------------------------------------------

    cdef void _fill(self, uint32_t prefix, int plen, uint16_t v) noexcept nogil:
        """Point every entry of prefix/plen not owned by a longer route at v."""
        cdef uint32_t i, j, b, start, end, lo, n
        if plen <= 24:
            start = prefix >> 8
            end = start + (1U << (24 - plen))
            for i in range(start, end):
                if self.tbl0[i] & DIR_BLOCK_FLAG:
                    b = <uint32_t> (self.tbl0[i] & 0x7FFF) << 8
                    for j in range(b, b + 256):
                        if self.plen1[j] <= plen:
                            self.tbl1[j] = v
                            self.plen1[j] = plen
                elif self.plen0[i] <= plen:
                    self.tbl0[i] = v
                    self.plen0[i] = plen
        else:
            b = <uint32_t> (self.tbl0[prefix >> 8] & 0x7FFF) << 8
            lo = prefix & 0xFF
            n = 1U << (32 - plen)
            for j in range(b + lo, b + lo + n):
                if self.plen1[j] <= plen:
                    self.tbl1[j] = v
                    self.plen1[j] = plen

    cdef void _unfill(self, uint32_t prefix, int plen, uint16_t v, int newplen) noexcept nogil:
        """Hand the entries prefix/plen owns to vport v of length newplen; free blocks
        that became uniform."""
        cdef uint32_t i, j, b, start, end, lo, n
        cdef int block
        if plen <= 24:
            start = prefix >> 8
            end = start + (1U << (24 - plen))
        else:
            start = prefix >> 8
            end = start + 1
        for i in range(start, end):
            if self.tbl0[i] & DIR_BLOCK_FLAG:
                block = self.tbl0[i] & 0x7FFF
                b = <uint32_t> block << 8
                if plen > 24:
                    lo = prefix & 0xFF
                    n = 1U << (32 - plen)
                else:
                    lo = 0
                    n = 256
                for j in range(b + lo, b + lo + n):
                    if self.plen1[j] == plen:
                        self.tbl1[j] = v
                        self.plen1[j] = newplen
                if self._prunable(block):
                    self.tbl0[i] = self.tbl1[b]
                    self.plen0[i] = self.plen1[b]
                    self.free_stack[self.nfree] = block
                    self.nfree += 1
            elif self.plen0[i] == plen:
                self.tbl0[i] = v
                self.plen0[i] = newplen

    # --- the slow path ------------------------------------------------------------------

    def find(self, uint32_t prefix, int plen):
        """(gw, port) of the route prefix/plen, or None."""
        if plen == 0:
            if self.vp[0].port == DIR_DISCARD_PORT:
                return None
            return self.vp[0].gw, self.vp[0].port
        ent = self.routes.get((prefix, plen))
        if ent is None:
            return None
        return self.vp[<int> ent[0]].gw, self.vp[<int> ent[0]].port

    def add(self, uint32_t prefix, int plen, uint32_t gw, int32_t port, bint allow_replace):
        """Add prefix/plen (prefix already masked). Returns (status, old (gw, port) or None)."""
        cdef int v, blk
        cdef uint32_t i, b, j
        cdef uint16_t pv
        cdef uint8_t pp
        old = self.find(prefix, plen)
        if old is not None and not allow_replace:
            return EEXIST, old
        if plen == 0:
            self.vp[0].gw = gw
            self.vp[0].port = port
            return 0, old
        v = self._vport_get(gw, port)
        if v < 0:
            return ENOMEM, None
        i = prefix >> 8
        if plen > 24 and not (self.tbl0[i] & DIR_BLOCK_FLAG):
            blk = self._block_alloc()
            if blk < 0:
                self.vp[v].refcount += 1
                self._vport_unref(v)        # give back a vport made for nothing
                return ENOMEM, None
            b = <uint32_t> blk << 8
            pv = self.tbl0[i]
            pp = self.plen0[i]
            for j in range(b, b + 256):
                self.tbl1[j] = pv
                self.plen1[j] = pp
            self.tbl0[i] = DIR_BLOCK_FLAG | blk
        self.vp[v].refcount += 1
        ent = self.routes.get((prefix, plen))
        if ent is not None:
            self._vport_unref(ent[0])
            ent[0] = v
        else:
            self.seq += 1
            self.routes[(prefix, plen)] = [v, self.seq]
        with nogil:
            self._fill(prefix, plen, v)
        return 0, old

    def remove(self, uint32_t prefix, int plen):
        """Remove prefix/plen, which must exist (see find)."""
        cdef int v, newv = 0, newplen = 0, m
        cdef uint32_t mask
        if plen == 0:
            self.vp[0].port = DIR_DISCARD_PORT
            return
        v = self.routes.pop((prefix, plen))[0]
        for m in range(plen - 1, 0, -1):
            mask = prefix_mask(m)
            ent = self.routes.get((prefix & mask, m))
            if ent is not None:
                newv = ent[0]
                newplen = m
                break
        with nogil:
            self._unfill(prefix, plen, newv, newplen)
        self._vport_unref(v)

    def dump(self):
        """The routes as (prefix, plen, gw, port), in Click's table order."""
        items = []
        if self.vp[0].port != DIR_DISCARD_PORT:
            items.append((prefix_hash(0, 0), 0, 0, 0, self.vp[0].gw, self.vp[0].port))
        for (prefix, plen), (v, seq) in self.routes.items():
            if self.vp[<int> v].port != DIR_DISCARD_PORT:
                items.append((prefix_hash(prefix, plen), -seq, prefix, plen,
                              self.vp[<int> v].gw, self.vp[<int> v].port))
        items.sort()
        return [x[2:] for x in items]

    def nroutes(self):
        return len(self.routes) + (self.vp[0].port != DIR_DISCARD_PORT)

    def vports_in_use(self):
        return self.vp_n - len(self.vp_free)

    def blocks_in_use(self):
        return self.used_blocks - self.nfree


def dir_add_route(table, name, route, set, errh):
    """IPRouteTable.add_route on a DirTable: (status, old IPRoute or None)."""
    plen = mask_prefix_len(route.mask)
    if plen < 0:
        return errh.error(f"route '{route}': {name} needs a prefix mask (ADDR/LEN)"), None
    r, old = table.add(route.addr, plen, route.gw, route.port, set)
    if old is not None:
        old = IPRoute(route.addr, route.mask, old[0], old[1])
    return r, old


def dir_remove_route(table, route, errh):
    plen = mask_prefix_len(route.mask)
    if plen < 0:
        return ENOENT, None
    found = table.find(route.addr, plen)
    if found is None:
        return ENOENT, None
    old = IPRoute(route.addr, route.mask, found[0], found[1])
    if not route.match(old):
        return ENOENT, old
    table.remove(route.addr, plen)
    return 0, old


def dir_dump(table):
    return "".join(IPRoute(prefix, prefix_mask(plen), gw, port).unparse(True) + "\n"
                   for prefix, plen, gw, port in table.dump())


def _flush(e, value):
    e.flush()


cdef class DirectIPLookup(IPRouteTable):
    """=c
    DirectIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)

    =s iproute
    IP routing lookup using direct-indexed tables

    =d
    Looks up each packet's destination IP annotation by longest prefix
    match, sets the annotation to the route's gateway GW when it has one,
    and pushes the packet to the route's OUTput; packets without a route
    are dropped. Each argument is a route: a destination and mask (a
    prefix), an optional gateway, and an output port.

    DirectIPLookup implements the DIR-24-8-BASIC scheme of Gupta, Lin and
    McKeown: a lookup reads one entry of a table indexed by the top 24
    address bits, and a second only in /24s split by longer routes. It
    trades memory (48 MB of address space) for speed; routes are added and
    removed quickly. At most 32767 distinct (gateway, output) pairs and
    32768 /24s holding longer routes are possible.

    =h table read-only: the routes, one a line
    =h lookup read with parameter ADDR: 'OUT GW' (or 'OUT') for ADDR; -1 if none
    =h add write-only: 'ADDR/MASK [GW] OUT'; fails if a route for ADDR/MASK exists
    =h set write-only: 'ADDR/MASK [GW] OUT', replacing any route for ADDR/MASK
    =h remove write-only: 'ADDR/MASK [GW OUT]'
    =h ctrl write-only: lines 'add ...', 'set ...', 'remove ...', applied all or nothing
    =h flush write-only: remove every route

    =a IPRouteTable, RangeIPLookup, RadixIPLookup, LinearIPLookup

    Pankaj Gupta, Steven Lin, and Nick McKeown. "Routing Lookups in Hardware
    at Memory Access Speeds". In Proc. IEEE Infocom 1998, Vol. 3, pp.
    1240-1247.
    """
    port_count = "1/-"
    processing = "h"
    handlers = UPDATE_HANDLERS + (TABLE_HANDLER, LOOKUP_HANDLER, Write("flush", _flush, button=True))
    no_route_label = "DirectIPLookup"

    def __cinit__(self, *args, **kwargs):
        self._t = DirTable(DIR_MAX_VPORTS)

    def configure(self, conf, errh):
        self._t.flush()
        return IPRouteTable.configure(self, conf, errh)

    def add_route(self, route, bint set, errh):
        return dir_add_route(self._t, "DirectIPLookup", route, set, errh)

    def remove_route(self, route, errh):
        return dir_remove_route(self._t, route, errh)

    def dump_routes(self):
        return dir_dump(self._t)

    def flush(self):
        self._t.flush()

    @property
    def dir_table(self):
        return self._t

    cdef int lookup_route(self, uint32_t addr, uint32_t *gw) noexcept:
        return self._t.lookup(addr, gw)

    cdef void drop_unrouted(self, Packet *p, uint32_t addr) noexcept:
        # Click's DirectIPLookup drops packets without a route silently.
        self.no_route += 1
        self.drop(p)
