# cython: language_level=3
"""LinearIPLookup: a small IP routing table searched linearly."""
from libc.stdint cimport int32_t, uint32_t
from libc.stdlib cimport free, realloc

from clickpy.elements.ip.ip_route_table cimport (
    DEAD_PORT, NO_ROUTE_PORT, IPRouteTable, RouteEntry, anno_dst_ip, mask_as_specific,
    set_anno_dst_ip)
from clickpy.runtime.packet cimport Packet

from clickpy.elements.ip.ip_route_table import EEXIST, ENOENT, ENOMEM, IPRoute

cdef int32_t NO_NEXT = 0x7FFFFFFF


cdef inline bint entry_contains_addr(const RouteEntry *e, uint32_t a) noexcept nogil:
    return (a & e.mask) == e.addr


cdef class LinearIPLookup(IPRouteTable):
    """=c
    LinearIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)

    =s iproute
    simple IP routing table

    =d
    Looks up each packet's destination IP annotation by longest prefix
    match, sets the annotation to the route's gateway GW when it has one,
    and pushes the packet to the route's OUTput. Packets with no route are
    dropped. Each argument is a route: a destination and mask, an optional
    gateway, and an output port.

    The search may look at every route for each packet (a one-entry cache
    helps repeated destinations), so this suits small tables; RadixIPLookup
    is much faster for large ones.

    =h table read-only: the routes, one a line
    =h lookup read with parameter ADDR: 'OUT GW' (or 'OUT') for ADDR; -1 if none
    =h add write-only: 'ADDR/MASK [GW] OUT'; fails if a route for ADDR/MASK exists
    =h set write-only: 'ADDR/MASK [GW] OUT', replacing any route for ADDR/MASK
    =h remove write-only: 'ADDR/MASK [GW OUT]'
    =h ctrl write-only: lines 'add ...', 'set ...', 'remove ...', applied all or nothing

    =e
      rt :: LinearIPLookup(18.26.4.24/32 0,
                           18.26.4.255/32 0,
                           18.26.4/24 1,
                           0/0 18.26.4.1 1);
      rt[0] -> ToHost;
      rt[1] -> ... -> ToDevice(eth0);
    """
    port_count = "1/-"
    processing = "h"
    no_route_label = "LinearIPLookup"

    def __cinit__(self, *args, **kwargs):
        self._t = NULL
        self._n = 0
        self._cap = 0
        self._zero_route = -1
        self._last_addr = 0
        self._last_entry = -1

    def __dealloc__(self):
        free(self._t)
        self._t = NULL

    def initialize(self, errh):
        self._last_addr = 0

    cdef bint _reserve(self, int n) noexcept:
        cdef int cap
        cdef RouteEntry *t
        if n <= self._cap:
            return True
        cap = max(16, self._cap * 2, n)
        t = <RouteEntry *> realloc(self._t, cap * sizeof(RouteEntry))
        if t == NULL:
            return False
        self._t = t
        self._cap = cap
        return True

    cdef object _route(self, int i):
        cdef RouteEntry *e = &self._t[i]
        return IPRoute(e.addr, e.mask, e.gw, e.port)

    # --- the slow path: changing the table ---------------------------------------

    def add_route(self, route, bint set, errh):
        cdef int i
        cdef int found = self._n
        cdef RouteEntry *e
        cdef uint32_t addr = route.addr, mask = route.mask
        for i in range(self._n):
            e = &self._t[i]
            if e.port == DEAD_PORT:
                if found == self._n:
                    found = i
            elif e.addr == addr and e.mask == mask:
                old = self._route(i)
                if not set:
                    return EEXIST, old
                e.gw = route.gw
                e.port = route.port
                return 0, old
        if found == self._n:
            if not self._reserve(self._n + 1):
                return ENOMEM, None
            self._n += 1
        e = &self._t[found]
        e.addr = addr
        e.mask = mask
        e.gw = route.gw
        e.port = route.port
        # Every route knows the first later slot holding a route inside it:
        # lookups look for more specific matches only from there on.
        e.extra = NO_NEXT
        for i in range(found - 1, -1, -1):
            if ((addr & self._t[i].mask) == self._t[i].addr
                    and mask_as_specific(mask, self._t[i].mask) and self._t[i].extra > found):
                self._t[i].extra = found
        for i in range(found + 1, self._n):
            if (self._t[i].port != DEAD_PORT and (self._t[i].addr & mask) == addr
                    and mask_as_specific(self._t[i].mask, mask)):
                self._t[found].extra = i
                break
        if addr == 0 and mask == 0xFFFFFFFF:
            self._zero_route = found
        self._last_addr = 0
        return 0, None

    cdef void _kill(self, int i) noexcept:
        self._t[i].addr = 0
        self._t[i].mask = 0xFFFFFFFF
        self._t[i].port = DEAD_PORT

    def remove_route(self, route, errh):
        cdef int i
        for i in range(self._n):
            if self._t[i].port != DEAD_PORT and route.match(self._route(i)):
                old = self._route(i)
                self._kill(i)
                # A later 0.0.0.0/32 route moves to the first free slot, as in Click.
                if i == self._zero_route:
                    self._zero_route = -1
                elif i < self._zero_route:
                    zero = self._route(self._zero_route)
                    self._kill(self._zero_route)
                    LinearIPLookup.add_route(self, zero, False, errh)
                self._last_addr = 0
                return 0, old
        return ENOENT, None

    def dump_routes(self):
        cdef int i
        out = []
        for i in range(self._n):
            if self._t[i].port != DEAD_PORT:
                out.append(self._route(i).unparse(True) + "\n")
        return "".join(out)

    def routes(self):
        """The live routes in table order (for tests and tools)."""
        cdef int i
        return [self._route(i) for i in range(self._n) if self._t[i].port != DEAD_PORT]

    # --- the data path --------------------------------------------------------------

    cdef int lookup_entry(self, uint32_t a) noexcept nogil:
        cdef int i, j, found
        cdef const RouteEntry *t = self._t
        for i in range(self._n):
            if t[i].port != DEAD_PORT and entry_contains_addr(&t[i], a):
                found = i
                j = t[i].extra
                while j < self._n:
                    if (t[j].port != DEAD_PORT and entry_contains_addr(&t[j], a)
                            and mask_as_specific(t[j].mask, t[found].mask)):
                        found = j
                    j += 1
                return found
        return -1

    cdef int lookup_route(self, uint32_t addr, uint32_t *gw) noexcept:
        cdef int i = self.lookup_entry(addr)
        if i < 0:
            return NO_ROUTE_PORT
        gw[0] = self._t[i].gw
        return self._t[i].port

    cdef void push(self, int port, Packet *p) noexcept:
        cdef uint32_t a = anno_dst_ip(p)
        cdef int i
        if a != 0 and a == self._last_addr:
            i = self._last_entry
        else:
            i = self.lookup_entry(a)
            if i < 0:
                self.drop_unrouted(p, a)
                return
            self._last_addr = a
            self._last_entry = i
        cdef RouteEntry *e = &self._t[i]
        if e.gw:
            set_anno_dst_ip(p, e.gw)
        self.checked_output_push(e.port, p)
