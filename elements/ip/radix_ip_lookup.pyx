# cython: language_level=3
"""RadixIPLookup: IP route lookup in a multibit trie (16 bits, then 4 at a time).

The trie
--------
A node of level 0 splits on the top 16 address bits (65536 slots); nodes of
levels 1 to 4 split on the next 4 bits each (16 slots). A lookup walks at
most five nodes, remembering the last nonzero route key it passed, so the
cost does not depend on the number of routes.

Each node also holds the prefixes that end inside it. For a node splitting
on B bits, the prefixes 1..B bits longer than the node's start form a
complete binary tree numbered like a heap: position 1 is the node itself,
positions 2 and 3 the two one-bit-longer prefixes, ..., positions 2^B to
2^(B+1)-1 are the slots. Every position stores the key of the longest route
ending at it or above it inside this node (0 for none); slots store it in
their ``key`` field, inner positions in an array after the slots. So a slot
always holds the answer for this node's level, and changing a route only
touches the positions under it whose key was the one it replaces: those not
already claimed by a longer route.

Keys are route slot numbers plus one, in a route vector with a free list
(reused last-freed first, as Click's), which also gives ``table`` its order.
The default route (/0) is kept apart, as the key a lookup starts with.
"""
from libc.stdint cimport int32_t, uint32_t
from libc.stdlib cimport calloc, free, realloc

from clickpy.elements.ip.ip_route_table cimport (
    DEAD_PORT, NO_ROUTE_PORT, IPRouteTable, RouteEntry, anno_dst_ip, set_anno_dst_ip)
from clickpy.runtime.packet cimport Packet

from clickpy.elements.ip.ip_route_table import (
    ENOENT, EEXIST, ENOMEM, LOOKUP_HANDLER, TABLE_HANDLER, UPDATE_HANDLERS, IPRoute)
from clickpy.runtime.args import mask_prefix_len
from clickpy.runtime.handlers import Write


cdef struct RadixSlot:
    int32_t key         # longest route ending at or above this slot in its node; 0: none
    void *child         # the next level's node (an array of RadixSlot), or NULL

cdef enum:
    ROOT_BITS = 16
    INNER_BITS = 4
    MAX_LEVEL = 4

    MODE_ADD = 0        # add unless the prefix has a route
    MODE_SET = 1        # add or replace
    MODE_REMOVE = 2     # remove the prefix's route
    MODE_FIND = 3       # only report the prefix's route


cdef inline int level_bits(int level) noexcept nogil:
    return ROOT_BITS if level == 0 else INNER_BITS


cdef inline int level_shift(int level) noexcept nogil:
    # Level 0 uses bits 31..16, level 1 bits 15..12, ..., level 4 bits 3..0.
    return 16 - 4 * level


cdef inline int level_start(int level) noexcept nogil:
    """Prefix length a node of this level starts from."""
    return 0 if level == 0 else 12 + 4 * level


cdef inline int prefix_level(int plen) noexcept nogil:
    """The level whose nodes hold prefixes of plen bits (1..32)."""
    return 0 if plen <= ROOT_BITS else (plen - ROOT_BITS - 1) // INNER_BITS + 1


cdef RadixSlot *make_node(int level) noexcept nogil:
    cdef size_t n = 1 << level_bits(level)
    # n slots, then n int32 keys for the inner positions (index 0 and 1 unused).
    return <RadixSlot *> calloc(1, n * sizeof(RadixSlot) + n * sizeof(int32_t))


cdef void free_node(RadixSlot *node, int level) noexcept nogil:
    cdef int i
    cdef int n = 1 << level_bits(level)
    if node == NULL:
        return
    if level < MAX_LEVEL:
        for i in range(n):
            if node[i].child != NULL:
                free_node(<RadixSlot *> node[i].child, level + 1)
    free(node)


cdef inline int32_t *position(RadixSlot *node, int n, int p) noexcept nogil:
    if p >= n:
        return &node[p - n].key
    return &(<int32_t *> (node + n))[p]


cdef void replace_under(RadixSlot *node, int n, int p, int32_t old, int32_t new) noexcept nogil:
    """Every position at or under p that holds old gets new."""
    cdef int lo = p, count = 1, x
    cdef int32_t *v
    while lo < 2 * n:
        for x in range(lo, lo + count):
            v = position(node, n, x)
            if v[0] == old:
                v[0] = new
        lo *= 2
        count *= 2


cdef int32_t radix_change(RadixSlot *root, uint32_t addr, int plen, int32_t key, int mode,
                          bint *nomem) noexcept nogil:
    """Apply mode for the prefix addr/plen (1 <= plen <= 32).

    Returns the key of the route that prefix had before (0: none). MODE_ADD
    changes nothing when there was one.
    """
    cdef int level = prefix_level(plen)
    cdef int lv, n, bits, p, idx
    cdef RadixSlot *node = root
    cdef RadixSlot *s
    for lv in range(level):
        s = &node[(addr >> level_shift(lv)) & ((1 << level_bits(lv)) - 1)]
        if s.child == NULL:
            if mode == MODE_REMOVE or mode == MODE_FIND:
                return 0
            s.child = make_node(lv + 1)
            if s.child == NULL:
                nomem[0] = True
                return 0
        node = <RadixSlot *> s.child
    bits = level_bits(level)
    n = 1 << bits
    idx = (addr >> level_shift(level)) & (n - 1)
    p = (n + idx) >> (bits - (plen - level_start(level)))
    cdef int32_t cur = position(node, n, p)[0]
    # Positions 2 and 3 inherit nothing inside the node; others their parent's key.
    cdef int32_t inherited = position(node, n, p >> 1)[0] if p > 3 else 0
    cdef int32_t exact = cur if cur != inherited else 0
    if mode == MODE_ADD:
        if exact == 0:
            replace_under(node, n, p, cur, key)
    elif mode == MODE_SET:
        replace_under(node, n, p, cur, key)
    elif mode == MODE_REMOVE:
        if exact != 0:
            replace_under(node, n, p, cur, inherited)
    return exact


cdef inline int32_t radix_lookup(RadixSlot *node, int32_t key, uint32_t addr) noexcept nogil:
    cdef RadixSlot *s = &node[addr >> 16]
    cdef int shift = 12
    if s.key:
        key = s.key
    node = <RadixSlot *> s.child
    while node != NULL:
        s = &node[(addr >> shift) & 15]
        if s.key:
            key = s.key
        node = <RadixSlot *> s.child
        shift -= 4
    return key


def _flush(e, value):
    e.flush()


cdef class RadixIPLookup(IPRouteTable):
    """=c
    RadixIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)

    =s iproute
    IP lookup using a radix trie

    =d
    Looks up each packet's destination IP annotation by longest prefix
    match, sets the annotation to the route's gateway GW when it has one,
    and pushes the packet to the route's OUTput. Packets with no route are
    dropped. Each argument is a route: a destination and mask, an optional
    gateway, and an output port.

    The routes live in a multibit trie whose first level splits on 16 bits
    and the next ones on 4, so a lookup visits at most 5 nodes whatever the
    table size, and adding or removing a route costs little. Masks must be
    prefixes (ADDR/LEN or a contiguous dotted mask).

    =h table read-only: the routes, one a line
    =h lookup read with parameter ADDR: 'OUT GW' (or 'OUT') for ADDR; -1 if none
    =h add write-only: 'ADDR/MASK [GW] OUT'; fails if a route for ADDR/MASK exists
    =h set write-only: 'ADDR/MASK [GW] OUT', replacing any route for ADDR/MASK
    =h remove write-only: 'ADDR/MASK [GW OUT]'
    =h ctrl write-only: lines 'add ...', 'set ...', 'remove ...', applied all or nothing
    =h flush write-only: remove every route

    =e
      rt :: RadixIPLookup(18.26.4.24/32 0, 18.26.4/24 1, 0/0 18.26.4.1 1);
    """
    port_count = "1/-"
    processing = "h"
    handlers = UPDATE_HANDLERS + (TABLE_HANDLER, LOOKUP_HANDLER,
                                  Write("flush", _flush, button=True))

    cdef RadixSlot *_root
    cdef RouteEntry *_v         # route slots; a key is a slot number plus one
    cdef int _nv
    cdef int _cap
    cdef int _vfree             # first free slot (linked through .extra), or -1
    cdef int32_t _default_key   # the /0 route's key, or 0

    def __cinit__(self, *args, **kwargs):
        self._root = make_node(0)
        if self._root == NULL:
            raise MemoryError("RadixIPLookup: no memory for the route trie")
        self._v = NULL
        self._nv = 0
        self._cap = 0
        self._vfree = -1
        self._default_key = 0

    def __dealloc__(self):
        free_node(self._root, 0)
        self._root = NULL
        free(self._v)
        self._v = NULL

    cdef bint _reserve(self, int n) noexcept:
        cdef int cap
        cdef RouteEntry *v
        if n <= self._cap:
            return True
        cap = max(64, self._cap * 2, n)
        v = <RouteEntry *> realloc(self._v, cap * sizeof(RouteEntry))
        if v == NULL:
            return False
        self._v = v
        self._cap = cap
        return True

    cdef object _route(self, int32_t key):
        cdef RouteEntry *e = &self._v[key - 1]
        return IPRoute(e.addr, e.mask, e.gw, e.port)

    cdef void _free_slot(self, int i) noexcept:
        self._v[i].port = DEAD_PORT
        self._v[i].extra = self._vfree
        self._vfree = i

    # --- the slow path: changing the table ---------------------------------------

    def add_route(self, route, bint set, errh):
        cdef int plen = mask_prefix_len(route.mask)
        cdef int found
        cdef int32_t last
        cdef bint nomem = False
        cdef RouteEntry *e
        if plen < 0:
            r = errh.error(f"route '{route}': RadixIPLookup needs a prefix mask (ADDR/LEN)")
            return r, None
        # Room first: once the trie has changed there is no going back.
        if self._vfree < 0 and not self._reserve(self._nv + 1):
            return ENOMEM, None
        found = self._vfree if self._vfree >= 0 else self._nv
        if plen > 0:
            last = radix_change(self._root, route.addr, plen, found + 1,
                                MODE_SET if set else MODE_ADD, &nomem)
            if nomem:
                return ENOMEM, None
        else:
            last = self._default_key
            if last == 0 or set:
                self._default_key = found + 1
        old = self._route(last) if last else None
        if last and not set:
            return EEXIST, old
        if found == self._nv:
            self._nv += 1
        else:
            self._vfree = self._v[found].extra
        e = &self._v[found]
        e.addr = route.addr
        e.mask = route.mask
        e.gw = route.gw
        e.port = route.port
        e.extra = -1
        if last:
            self._free_slot(last - 1)
        return 0, old

    def remove_route(self, route, errh):
        cdef int plen = mask_prefix_len(route.mask)
        cdef int32_t last
        cdef bint nomem = False
        if plen < 0:
            return ENOENT, None
        if plen > 0:
            last = radix_change(self._root, route.addr, plen, 0, MODE_FIND, &nomem)
        else:
            last = self._default_key
        old = self._route(last) if last else None
        if not last or not route.match(old):
            return ENOENT, old
        self._free_slot(last - 1)
        if plen > 0:
            radix_change(self._root, route.addr, plen, 0, MODE_REMOVE, &nomem)
        else:
            self._default_key = 0
        return 0, old

    def flush(self):
        """Remove every route at once."""
        cdef RadixSlot *root = make_node(0)
        if root == NULL:
            raise MemoryError("RadixIPLookup: no memory for the route trie")
        free_node(self._root, 0)
        self._root = root
        self._nv = 0
        self._vfree = -1
        self._default_key = 0

    def dump_routes(self):
        cdef int i
        out = []
        for i in range(self._nv):
            if self._v[i].port != DEAD_PORT:
                out.append(self._route(i + 1).unparse(True) + "\n")
        return "".join(out)

    def routes(self):
        """The live routes in table order (for tests and tools)."""
        cdef int i
        return [self._route(i + 1) for i in range(self._nv) if self._v[i].port != DEAD_PORT]

    # --- the data path --------------------------------------------------------------

    cdef int lookup_route(self, uint32_t addr, uint32_t *gw) noexcept:
        cdef int32_t key = radix_lookup(self._root, self._default_key, addr)
        if key == 0:
            return NO_ROUTE_PORT
        gw[0] = self._v[key - 1].gw
        return self._v[key - 1].port

    cdef void push(self, int port, Packet *p) noexcept:
        cdef uint32_t a = anno_dst_ip(p)
        cdef int32_t key = radix_lookup(self._root, self._default_key, a)
        cdef RouteEntry *e
        if key == 0:
            self.drop_unrouted(p, a)
            return
        e = &self._v[key - 1]
        if e.gw:
            set_anno_dst_ip(p, e.gw)
        self.checked_output_push(e.port, p)
