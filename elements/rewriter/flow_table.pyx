# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The rewriters' mapping store (see flow_table.pxd for the data structures)."""
import os

from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy, memset

from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet, pkt_data

from clickpy.elements.ip.ip_header cimport (IP_OFFMASK, TH_FIN, TH_RST, TH_SYN, htonl, htons, ip_hl, ip_len,
                                            ip_off, load_u16_raw, load_u32_raw, ntohl, ntohs, store_u16_raw,
                                            store_u32_raw)


cdef enum:
    MAP_MIN_SLOTS = 16
    SET_MIN_SLOTS = 16          # a ValueSet's first node table
    DENSE_SLOTS = 512           # a port set grows no table past this (8 KB): it turns dense
    DENSE_WORDS = 1041          # a dense port set: 1024 + 16 + 1 nodes, level after level
    COUNT_STICKY = 0xFF         # a bucket counter this high stays until the next recount
    BUCKET_LOAD_MAX = 8         # entries per bucket of groups before they are counted again
    RECOUNT_AHEAD = 16          # recounting prefetches the flow this many slots ahead
    TCPOPT_EOL = 0
    TCPOPT_NOP = 1
    TCPOPT_SACK = 5


# --- the flow slab -------------------------------------------------------------------

cdef int store_init(FlowStore *s) noexcept nogil:
    memset(s, 0, sizeof(FlowStore))
    s.free_head = NOREF
    s.capacity = 0x7FFFFFFF
    return 0


cdef void _free_deltas(RWFlow *f) noexcept nogil:
    cdef DeltaTransition *x
    while f.dt != NULL:
        x = f.dt
        f.dt = x.next
        free(x)


cdef void store_free(FlowStore *s) noexcept nogil:
    cdef uint32_t i
    cdef RWFlow *f
    for i in range(s.ncarved):
        f = flow_at(s, i)
        if f.live:
            _free_deltas(f)
    for i in range(s.nchunks):
        free(s.chunks[i])
    free(s.chunks)
    free(s.heap[0])
    free(s.heap[1])
    free(s.owners)
    store_init(s)


cdef int store_add_owner(FlowStore *s, RWOwner *o) noexcept nogil:
    cdef int i
    cdef void **grown
    for i in range(s.nowners):
        if s.owners[i] == NULL:
            s.owners[i] = o
            o.id = i
            return i
    if s.nowners >= 0xFFFF:
        return -1
    grown = <void **> realloc(s.owners, (s.nowners + 1) * sizeof(void *))
    if grown == NULL:
        return -1
    s.owners = grown
    s.owners[s.nowners] = o
    o.id = s.nowners
    s.nowners += 1
    return o.id


cdef void store_remove_owner(FlowStore *s, RWOwner *o) noexcept nogil:
    if 0 <= o.id < s.nowners and s.owners[o.id] == <void *> o:
        s.owners[o.id] = NULL
    o.id = -1


cdef bint _reserve_heap(FlowStore *s, int which, uint32_t n) noexcept nogil:
    cdef uint32_t cap
    cdef HeapEntry *h
    if n <= s.heap_cap[which]:
        return True
    cap = s.heap_cap[which] * 2 if s.heap_cap[which] else 64
    while cap < n:
        cap *= 2
    h = <HeapEntry *> realloc(s.heap[which], cap * sizeof(HeapEntry))
    if h == NULL:
        return False
    s.heap[which] = h
    s.heap_cap[which] = cap
    return True


cdef uint32_t _alloc_flow(FlowStore *s) noexcept nogil:
    cdef uint32_t idx
    cdef RWFlow **chunks
    cdef RWFlow *chunk
    # Both heaps can always take every live flow: moving a flow between
    # them never needs memory.
    if not _reserve_heap(s, 0, s.nlive + 1) or not _reserve_heap(s, 1, s.nlive + 1):
        return NOREF
    if s.free_head != NOREF:
        idx = s.free_head
        s.free_head = flow_at(s, idx).place
        return idx
    if s.ncarved >= 0x7FFFFFFF:
        return NOREF
    if (s.ncarved >> CHUNK_SHIFT) >= s.nchunks:
        if s.nchunks == s.chunks_cap:
            chunks = <RWFlow **> realloc(s.chunks, (s.chunks_cap * 2 + 4) * sizeof(RWFlow *))
            if chunks == NULL:
                return NOREF
            s.chunks = chunks
            s.chunks_cap = s.chunks_cap * 2 + 4
        chunk = <RWFlow *> calloc(CHUNK_SIZE, sizeof(RWFlow))
        if chunk == NULL:
            return NOREF
        s.chunks[s.nchunks] = chunk
        s.nchunks += 1
    idx = s.ncarved
    s.ncarved += 1
    return idx


cdef void _release_flow(FlowStore *s, uint32_t idx) noexcept nogil:
    cdef RWFlow *f = flow_at(s, idx)
    _free_deltas(f)
    f.live = 0
    f.place = s.free_head
    s.free_head = idx
    s.nlive -= 1
    s.destroyed += 1


# --- the expiry heaps (min-heaps by key; a flow knows its place) -----------------------------

cdef inline void _heap_set(FlowStore *s, int which, uint32_t i, HeapEntry e) noexcept nogil:
    s.heap[which][i] = e
    flow_at(s, e.idx).place = i


cdef void _sift_up(FlowStore *s, int which, uint32_t i) noexcept nogil:
    cdef HeapEntry *h = s.heap[which]
    cdef HeapEntry e = h[i]
    cdef uint32_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if not (e.key < h[parent].key):
            break
        _heap_set(s, which, i, h[parent])
        i = parent
    _heap_set(s, which, i, e)


cdef void _sift_down(FlowStore *s, int which, uint32_t i) noexcept nogil:
    cdef HeapEntry *h = s.heap[which]
    cdef uint32_t n = s.heap_n[which]
    cdef HeapEntry e = h[i]
    cdef uint32_t c
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and h[c + 1].key < h[c].key:
            c += 1
        if not (h[c].key < e.key):
            break
        _heap_set(s, which, i, h[c])
        i = c
    _heap_set(s, which, i, e)


cdef void _heap_push(FlowStore *s, int which, uint32_t idx) noexcept nogil:
    cdef RWFlow *f = flow_at(s, idx)
    cdef HeapEntry e
    e.key = f.expiry
    e.idx = idx
    f.heap_key = f.expiry
    f.guaranteed = which
    s.heap[which][s.heap_n[which]] = e
    s.heap_n[which] += 1
    _sift_up(s, which, s.heap_n[which] - 1)


cdef void _heap_remove(FlowStore *s, int which, uint32_t place) noexcept nogil:
    cdef HeapEntry *h = s.heap[which]
    cdef uint32_t last
    s.heap_n[which] -= 1
    last = s.heap_n[which]
    if place == last:
        return
    _heap_set(s, which, place, h[last])
    if place > 0 and h[place].key < h[(place - 1) >> 1].key:
        _sift_up(s, which, place)
    else:
        _sift_down(s, which, place)


cdef uint32_t store_top(FlowStore *s, int which) noexcept nogil:
    """The flow that expires first in heap which, or NOREF.

    Flows whose expiry moved later since the heap placed them are put in
    their real place first.
    """
    cdef HeapEntry *h = s.heap[which]
    cdef RWFlow *f
    while s.heap_n[which]:
        f = flow_at(s, h[0].idx)
        if f.expiry == h[0].key:
            return h[0].idx
        h[0].key = f.expiry
        f.heap_key = f.expiry
        _sift_down(s, which, 0)
    return NOREF


cdef void flow_change_expiry_slow(FlowStore *s, RWFlow *f, uint8_t guaranteed, int64_t expiry) noexcept nogil:
    cdef uint32_t idx = s.heap[f.guaranteed][f.place].idx
    f.expiry = expiry
    if f.guaranteed != guaranteed:
        _heap_remove(s, f.guaranteed, f.place)
        _heap_push(s, guaranteed, idx)
    elif expiry < f.heap_key:
        f.heap_key = expiry
        s.heap[guaranteed][f.place].key = expiry
        _sift_up(s, guaranteed, f.place)
    # (a later expiry stays lazy)


# --- flows ---------------------------------------------------------------------------

cdef inline void _update_delta(uint16_t *delta, const uint16_t *old_hw, const uint16_t *new_hw, int n) noexcept nogil:
    cdef int i
    for i in range(n):
        delta[0] = cksum_update(delta[0], old_hw[i], new_hw[i])


cdef inline int16_t _output16(int port) noexcept nogil:
    # RWFlow keeps outputs in 16 bits; one that does not fit is no output
    return <int16_t> port if -1 <= port <= 0x7FFF else -1


cdef uint32_t flow_new(FlowStore *s, RWOwner *o, int input, const FlowKey *flowid,
                       const FlowKey *rewritten, uint8_t ip_p, int64_t now) noexcept nogil:
    """A new flow of owner o made by its input spec input (Click's flow constructor).

    It is in no table or heap yet: flow_store puts it there. NOREF if out of memory.
    """
    cdef uint32_t idx = _alloc_flow(s)
    cdef RWFlow *f
    cdef uint16_t sw[6]
    cdef uint16_t dw[6]
    cdef uint16_t delta = 0
    if idx == NOREF:
        s.alloc_failures += 1
        return NOREF
    f = flow_at(s, idx)
    memset(f, 0, sizeof(RWFlow))
    f.key[0] = flowid[0]
    key_reverse(&f.key[1], rewritten)
    f.output[0] = _output16(o.specs[input].foutput)
    f.output[1] = _output16(o.specs[input].routput)
    memcpy(sw, flowid, 12)
    memcpy(dw, rewritten, 12)
    _update_delta(&delta, sw, dw, 4)
    f.ip_csum_delta = delta
    _update_delta(&delta, sw + 4, dw + 4, 2)
    f.udp_csum_delta = delta
    f.owner = <uint16_t> o.id
    f.input = <uint16_t> input
    f.ip_p = ip_p
    if o.guarantee:
        f.guaranteed = 1
        f.expiry = now + o.guarantee
    else:
        f.expiry = now + o.timeout
    f.heap_key = f.expiry
    f.place = NOREF
    f.live = 1
    s.nlive += 1
    return idx


cdef bint _shrink_for_new_flow(FlowStore *s, uint32_t idx, int64_t now) noexcept nogil:
    # All guaranteed flows expire in the future once expired guarantees have
    # moved to the best-effort heap. Then the next best-effort flow to expire
    # goes; if there is none, the new flow itself does (admission control).
    cdef uint32_t dead
    store_shift_best_effort(s, now)
    dead = store_top(s, 0)
    if dead == NOREF:
        dead = idx
    flow_destroy(s, dead)
    return dead == idx


cdef uint32_t flow_store(FlowStore *s, uint32_t idx, int64_t now) noexcept nogil:
    """Put a new flow in its owner's table and the heap (Click's store_flow).

    Returns the ref of its forward entry, or NOREF if it could not stay
    (bad output ports, no memory, or the table is full of guaranteed flows).
    """
    cdef RWFlow *f = flow_at(s, idx)
    cdef RWOwner *o = store_owner(s, f.owner)
    cdef InputSpec *spec = &o.specs[f.input]
    cdef uint32_t old
    if <uint32_t> f.output[0] >= <uint32_t> o.noutputs or <uint32_t> f.output[1] >= <uint32_t> o.noutputs:
        _release_flow(s, idx)
        return NOREF
    old = map_set(&o.map, idx * 2)
    if old == MAP_FULL:
        _release_flow(s, idx)
        spec.failures += 1
        return NOREF
    if old != NOREF and (old >> 1) != idx:
        flow_destroy(s, old >> 1)
    old = map_set(&o.map, idx * 2 + 1)
    if old == MAP_FULL:
        map_erase_ref(&o.map, idx * 2)
        _release_flow(s, idx)
        spec.failures += 1
        return NOREF
    if old != NOREF and (old >> 1) != idx:
        flow_destroy(s, old >> 1)
    _heap_push(s, f.guaranteed, idx)
    spec.count += 1
    if <int64_t> store_size(s) > <int64_t> s.capacity:
        if _shrink_for_new_flow(s, idx, now):
            spec.failures += 1
            return NOREF
    return idx * 2


cdef void flow_destroy(FlowStore *s, uint32_t idx) noexcept nogil:
    """Take a stored flow out of its heap and table and free it (Click's destroy)."""
    cdef RWFlow *f = flow_at(s, idx)
    cdef RWOwner *o
    if not f.live:
        return
    if f.place != NOREF:
        _heap_remove(s, f.guaranteed, f.place)
        f.place = NOREF
    o = store_owner(s, f.owner) if f.owner < s.nowners else NULL
    if o != NULL:
        if f.input < o.nspecs and o.specs[f.input].count:
            o.specs[f.input].count -= 1
        map_erase_ref(&o.map, idx * 2)
        map_erase_ref(&o.map, idx * 2 + 1)
    _release_flow(s, idx)


cdef int64_t flow_best_effort_expiry(FlowStore *s, RWFlow *f) noexcept nogil:
    """When a guaranteed flow will expire once its guarantee is over."""
    cdef RWOwner *o = store_owner(s, f.owner) if f.owner < s.nowners else NULL
    if o == NULL:
        return f.expiry
    return f.expiry + owner_flow_timeout(o, f) - o.guarantee


cdef void store_shift_best_effort(FlowStore *s, int64_t now) noexcept nogil:
    """Move flows whose guarantee has run out to the best-effort heap."""
    cdef uint32_t t
    cdef RWFlow *f
    while True:
        t = store_top(s, 1)
        if t == NOREF:
            return
        f = flow_at(s, t)
        if now < f.expiry:
            return
        flow_change_expiry_slow(s, f, 0, flow_best_effort_expiry(s, f))


cdef void store_shrink(FlowStore *s, bint clear_all, int64_t now) noexcept nogil:
    """Remove expired flows, then flows over capacity (all of them if clear_all)."""
    cdef uint32_t t
    cdef int which
    cdef int64_t capacity = 0 if clear_all else s.capacity
    cdef uint32_t k
    cdef RWOwner *o
    if clear_all:
        # Every flow of the store goes, so nothing needs removing one by one:
        # the owners' tables are emptied at once, their inputs' counts zeroed,
        # and each flow freed (Click destroys them in expiry order; the result
        # is the same, and a million flows go in a fraction of the time).
        for which in range(s.nowners):
            o = store_owner(s, which)
            if o == NULL:
                continue
            if o.map.slots != NULL:
                memset(o.map.slots, 0, (<size_t> o.map.mask + 1) * sizeof(uint64_t))
            o.map.count = 0
            _index_clear(&o.map)
            if o.specs != NULL:
                for k in range(<uint32_t> o.nspecs):
                    o.specs[k].count = 0
        for which in range(2):
            for k in range(s.heap_n[which]):
                t = s.heap[which][k].idx
                flow_at(s, t).place = NOREF
                _release_flow(s, t)
            s.heap_n[which] = 0
        return
    store_shift_best_effort(s, now)
    while True:
        t = store_top(s, 0)
        if t == NOREF or now < flow_at(s, t).expiry:
            break
        flow_destroy(s, t)
    while <int64_t> store_size(s) > capacity:
        t = store_top(s, 0 if s.heap_n[0] else 1)
        if t == NOREF:
            break
        flow_destroy(s, t)


# --- hash tables ----------------------------------------------------------------------

cdef int map_init(FlowMap *m, FlowStore *s) noexcept nogil:
    m.slots = <uint64_t *> calloc(MAP_MIN_SLOTS, sizeof(uint64_t))
    m.mask = MAP_MIN_SLOTS - 1 if m.slots != NULL else 0
    m.count = 0
    m.store = s
    m.index[0] = NULL
    m.index[1] = NULL
    _draw_table_key(m.hash_key)
    return 0 if m.slots != NULL else -1


cdef void map_free(FlowMap *m) noexcept nogil:
    cdef int kind
    for kind in range(2):
        _index_free(m.index[kind])
        m.index[kind] = NULL
    free(m.slots)
    m.slots = NULL
    m.mask = 0
    m.count = 0


cdef bint _map_grow(FlowMap *m) noexcept nogil:
    cdef uint32_t ncap = (m.mask + 1) * 2
    cdef uint64_t *slots
    cdef uint32_t i, j, nmask
    if m.mask >= 0x3FFFFFFF:
        return False
    slots = <uint64_t *> calloc(ncap, sizeof(uint64_t))
    if slots == NULL:
        return False
    nmask = ncap - 1
    for i in range(m.mask + 1):
        if m.slots[i]:
            j = <uint32_t> (m.slots[i] >> 32) & nmask
            while slots[j]:
                j = (j + 1) & nmask
            slots[j] = m.slots[i]
    free(m.slots)
    m.slots = slots
    m.mask = nmask
    return True


cdef uint32_t map_set(FlowMap *m, uint32_t ref) noexcept nogil:
    """Make the key of entry ref map to ref; the ref it replaced, NOREF, or MAP_FULL."""
    cdef const FlowKey *k = &flow_at(m.store, ref >> 1).key[ref & 1]
    cdef uint32_t h = key_hash(m, k)
    cdef uint32_t i, old
    cdef uint64_t s
    cdef int kind
    cdef uint32_t gh[2]
    if m.slots == NULL:
        return MAP_FULL
    if m.index[0] != NULL or m.index[1] != NULL:
        _index_prefetch(m, k, gh)
    i = h & m.mask
    while True:
        s = m.slots[i]
        if s == 0:
            break
        if <uint32_t> (s >> 32) == h:
            old = <uint32_t> s - 1
            if key_eq(&flow_at(m.store, old >> 1).key[old & 1], k):
                m.slots[i] = (<uint64_t> h << 32) | (ref + 1)
                return old
        i = (i + 1) & m.mask
    for kind in range(2):
        # more buckets of groups once they hold BUCKET_LOAD_MAX entries on average
        # (kept as they are if there is no memory)
        if m.index[kind] != NULL and m.count >= (<uint64_t> m.index[kind].cmask + 1) * BUCKET_LOAD_MAX:
            _index_recount(m, m.index[kind])
    if (m.count + 1) * 2 > m.mask + 1 and _map_grow(m):
        i = h & m.mask
        while m.slots[i]:
            i = (i + 1) & m.mask
    elif m.count + 1 >= m.mask + 1:
        return MAP_FULL
    m.slots[i] = (<uint64_t> h << 32) | (ref + 1)
    m.count += 1
    if m.index[0] != NULL or m.index[1] != NULL:
        _index_add(m, k, gh)
    return NOREF


cdef void map_erase_ref(FlowMap *m, uint32_t ref) noexcept nogil:
    """Remove entry ref's key if it maps to ref (and leave it alone otherwise)."""
    cdef const FlowKey *k = &flow_at(m.store, ref >> 1).key[ref & 1]
    cdef uint32_t h = key_hash(m, k)
    cdef uint32_t i, j, home, other
    cdef uint64_t s
    cdef uint32_t gh[2]
    if m.slots == NULL:
        return
    if m.index[0] != NULL or m.index[1] != NULL:
        _index_prefetch(m, k, gh)
    i = h & m.mask
    while True:
        s = m.slots[i]
        if s == 0:
            return
        if <uint32_t> (s >> 32) == h:
            other = <uint32_t> s - 1
            if key_eq(&flow_at(m.store, other >> 1).key[other & 1], k):
                if other != ref:
                    return
                break
        i = (i + 1) & m.mask
    # Backward-shift deletion: pull later entries of the run into the gap.
    j = i
    while True:
        j = (j + 1) & m.mask
        s = m.slots[j]
        if s == 0:
            break
        home = <uint32_t> (s >> 32) & m.mask
        # the entry at j may move to i unless its home lies cyclically in (i, j]
        if (i <= j and i < home <= j) or (i > j and (home > i or home <= j)):
            continue
        m.slots[i] = s
        i = j
    m.slots[i] = 0
    m.count -= 1
    if m.index[0] != NULL or m.index[1] != NULL:
        _index_remove(m, k, gh)


# --- group indexes ------------------------------------------------------------------------
#
# A pattern with a range gives a new flow a value no entry of the owner's
# table uses: the key (D, DP, S, v) must be absent, v being the reply's
# destination port (NAPT) or address (address ranges). Click tries values
# one by one from a start (the packet's own port, the next in sequence, or
# a random one): once a range is nearly used up toward one destination each
# new flow costs thousands of lookups, and once it is used up, all of them
# (64,512 for 1024-65535) before the flow is dropped.
#
# Keys that differ only in that field form a *group*. What bounds the work
# must cost next to nothing for the usual table, where almost every group
# has one entry: a count per group would cost as much memory as the flows'
# own hash slots, a list of each group's entries more. So a group index (one
# per table and varying field, made when a pattern first varies that field
# in that table) keeps
#
# * a ValueSet for each group that gained an entry while its bucket (below)
#   counted GROUP_SMALL entries or more: the values the group uses, kept up
#   to date from then on. It goes when the group is down to GROUP_SMALL / 2.
# * a byte per *bucket* of groups (groups hash to buckets with a key drawn
#   at start-up), counting the bucket's entries that are in no set: one
#   increment per insertion, one decrement per removal. When buckets hold
#   BUCKET_LOAD_MAX entries on average they are made anew, one per 2
#   entries, and counted from the flow slab (in order: fast), which also
#   tells each set what it misses: 0.25-2 bytes per flow. (255 sticks until
#   then.)
#
# A group without a set has at most GROUP_SMALL entries (its bucket counts
# them all, and its last one came while the bucket counted fewer), so
# Click's search from the start finds a free value within GROUP_SMALL + 1
# lookups. A group with a set yields "the first value >= v not in use" in
# at most 2 * levels node lookups, so a used-up range is known at once. The
# entries a set misses (its group's before it was made: at most
# GROUP_SMALL) are met at most once: while it misses some, each value it
# offers is looked up in the table, and one in use joins it; once it misses
# none (a recount completes every set), it answers alone. Every new flow
# thus costs at most about 2 * GROUP_SMALL lookups, free values or not; the
# value chosen is the one Click's search chooses, random draws included;
# and a flow is dropped only when every value of the range is in use,
# whoever made the entries (keep specs, fixed patterns, other inputs of the
# table): Click's semantics, unchanged. If memory runs out, a set goes and
# its group is searched as Click does; the answer stays right, only the
# bound is lost. The price: the counters, a set per large group (a port set
# is at most 8 KB, plain bitmaps once it has many values; an address set
# about 32 bytes per 64 values in use, more if they are scattered), and a
# look at them on each insertion and removal in a table with an index.

# For tests (allocation_stats): the work pattern_rewrite does, and the sets made and dropped.
cdef uint64_t _probes = 0       # values looked at: table lookups and set searches
cdef uint64_t _set_answers = 0  # values a complete set found free without a table lookup
cdef uint64_t _sets_made = 0
cdef uint64_t _sets_dropped = 0


cdef extern from *:
    """
    #define clickpy_ctz64(x) ((unsigned) __builtin_ctzll(x))
    #define clickpy_ft_prefetch(p) __builtin_prefetch((const void *) (p))
    """
    unsigned ctz64 "clickpy_ctz64"(uint64_t x) noexcept nogil      # x != 0
    void prefetch "clickpy_ft_prefetch"(const void *p) noexcept nogil


# Groups hash with a key drawn when the module loads: one cannot pick flows
# whose groups share a bucket (which would give small groups sets) without it.
cdef uint64_t _group_key[3]


cdef inline uint32_t _group_hash(const FlowKey *g) noexcept nogil:
    cdef uint64_t a = (<uint64_t> g.saddr << 32) | g.daddr
    cdef uint64_t b = (<uint64_t> g.sport << 16) | g.dport
    cdef uint64_t h = a * _group_key[0] + b * _group_key[1] + _group_key[2]
    h ^= h >> 31
    h *= 0x94D049BB133111EBULL
    h ^= h >> 29
    return <uint32_t> (h >> 32)


def _draw_group_key():
    cdef int i
    words = os.urandom(24)
    for i in range(3):
        _group_key[i] = int.from_bytes(words[8 * i:8 * i + 8], "little") | (1 if i < 2 else 0)


_draw_group_key()


# Each table's hash key: a splitmix64 sequence from a random start, so
# tables never share a key and drawing one costs no system call.
cdef uint64_t _table_key_state = int.from_bytes(os.urandom(8), "little")


cdef void _draw_table_key(uint64_t *key) noexcept nogil:
    global _table_key_state
    cdef uint64_t z
    cdef int i
    for i in range(3):
        _table_key_state += 0x9E3779B97F4A7C15ULL
        z = _table_key_state
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
        key[i] = (z ^ (z >> 31)) | (1 if i < 2 else 0)


cdef inline uint32_t _group_of(int kind, const FlowKey *k, FlowKey *g) noexcept nogil:
    """k's group in an index of kind (k with the varying field 0), and the value k uses."""
    g[0] = k[0]
    if kind == INDEX_PORT:
        g.dport = 0
        return ntohs(k.dport)
    g.daddr = 0
    return ntohl(k.daddr)


# ValueSet nodes: level l node n is stored under id ((l << 32) | n) + 1.

cdef inline uint32_t _node_home(uint64_t id, uint32_t mask) noexcept nogil:
    return <uint32_t> ((id * 0x9E3779B97F4A7C15ULL) >> 40) & mask


cdef inline uint64_t *_dense_node(ValueSet *s, int level, uint64_t n) noexcept nogil:
    # a dense set holds levels 0, 1 and 2 (1024, 16 and 1 nodes) one after another;
    # nodes past them (values past 65535) are empty
    if level == 0:
        return &s.dense[n] if n < 1024 else NULL
    if level == 1:
        return &s.dense[1024 + n] if n < 16 else NULL
    return &s.dense[1040] if n == 0 else NULL


cdef uint64_t _node_get(ValueSet *s, int level, uint64_t n) noexcept nogil:
    cdef uint64_t id = ((<uint64_t> level << 32) | n) + 1
    cdef uint32_t i
    cdef uint64_t *d
    if s.dense != NULL:
        d = _dense_node(s, level, n)
        return d[0] if d != NULL else 0
    i = _node_home(id, s.nmask)
    while True:
        if s.nodes[2 * i] == id:
            return s.nodes[2 * i + 1]
        if s.nodes[2 * i] == 0:
            return 0
        i = (i + 1) & s.nmask


cdef bint _nodes_grow(ValueSet *s) noexcept nogil:
    cdef uint32_t ncap = (s.nmask + 1) * 2
    cdef uint64_t *nodes
    cdef uint32_t i, j, nmask = ncap - 1
    if s.nmask >= 0x3FFFFFFF:
        return False
    nodes = <uint64_t *> calloc(<size_t> ncap * 2, sizeof(uint64_t))
    if nodes == NULL:
        return False
    for i in range(s.nmask + 1):
        if s.nodes[2 * i]:
            j = _node_home(s.nodes[2 * i], nmask)
            while nodes[2 * j]:
                j = (j + 1) & nmask
            nodes[2 * j] = s.nodes[2 * i]
            nodes[2 * j + 1] = s.nodes[2 * i + 1]
    free(s.nodes)
    s.nodes = nodes
    s.nmask = nmask
    return True


cdef bint _nodes_densify(ValueSet *s) noexcept nogil:
    """Turn a port set's node table into the dense form (no larger by then)."""
    cdef uint64_t *dense = <uint64_t *> calloc(DENSE_WORDS, sizeof(uint64_t))
    cdef uint64_t *d
    cdef uint32_t i
    if dense == NULL:
        return False
    s.dense = dense
    for i in range(s.nmask + 1):
        if s.nodes[2 * i]:
            d = _dense_node(s, <int> ((s.nodes[2 * i] - 1) >> 32), <uint32_t> (s.nodes[2 * i] - 1))
            if d != NULL:
                d[0] = s.nodes[2 * i + 1]
    free(s.nodes)
    s.nodes = NULL
    s.nmask = 0
    s.ncount = 0
    return True


cdef bint _node_put(ValueSet *s, int level, uint64_t n, uint64_t bits) noexcept nogil:
    """Set node (level, n) to bits (0 removes it); False if out of memory.
    Changing a node that exists never needs memory."""
    cdef uint64_t id = ((<uint64_t> level << 32) | n) + 1
    cdef uint32_t i, j, home
    cdef uint64_t *d
    if s.dense != NULL:
        d = _dense_node(s, level, n)
        if d == NULL:
            return bits == 0
        d[0] = bits
        return True
    i = _node_home(id, s.nmask)
    while s.nodes[2 * i] != 0 and s.nodes[2 * i] != id:
        i = (i + 1) & s.nmask
    if s.nodes[2 * i] == id:
        if bits:
            s.nodes[2 * i + 1] = bits
            return True
        # backward-shift deletion, as map_erase_ref
        j = i
        while True:
            j = (j + 1) & s.nmask
            if s.nodes[2 * j] == 0:
                break
            home = _node_home(s.nodes[2 * j], s.nmask)
            if (i <= j and i < home <= j) or (i > j and (home > i or home <= j)):
                continue
            s.nodes[2 * i] = s.nodes[2 * j]
            s.nodes[2 * i + 1] = s.nodes[2 * j + 1]
            i = j
        s.nodes[2 * i] = 0
        s.nodes[2 * i + 1] = 0
        s.ncount -= 1
        return True
    if not bits:
        return True
    if (s.ncount + 1) * 2 > s.nmask + 1:
        if s.levels == 3 and s.nmask + 1 >= DENSE_SLOTS:
            # a port set this large is smaller, and faster, as plain bitmaps
            return _nodes_densify(s) and _node_put(s, level, n, bits)
        if not _nodes_grow(s):
            return False
        i = _node_home(id, s.nmask)
        while s.nodes[2 * i]:
            i = (i + 1) & s.nmask
    s.nodes[2 * i] = id
    s.nodes[2 * i + 1] = bits
    s.ncount += 1
    return True


cdef inline bint _set_has(ValueSet *s, uint32_t v) noexcept nogil:
    return (_node_get(s, 0, v >> 6) >> (v & 63)) & 1


cdef int _set_add(ValueSet *s, int levels, uint32_t v) noexcept nogil:
    """Put v in s: 1 if it was not there, 0 if it was, -1 if out of memory (s is then unusable)."""
    cdef uint64_t n = v >> 6, b, nb
    cdef unsigned bit = v & 63
    cdef int level = 0
    b = _node_get(s, 0, n)
    if (b >> bit) & 1:
        return 0
    while True:
        nb = b | (<uint64_t> 1 << bit)
        if not _node_put(s, level, n, nb):
            return -1
        if nb != ~(<uint64_t> 0) or level == levels - 1:
            return 1
        # the node is full: so is its bit one level up
        bit = n & 63
        n >>= 6
        level += 1
        b = _node_get(s, level, n)


cdef bint _set_discard(ValueSet *s, int levels, uint32_t v) noexcept nogil:
    """Take v out of s; False if it was not there."""
    cdef uint64_t n = v >> 6, b
    cdef unsigned bit = v & 63
    cdef int level = 0
    b = _node_get(s, 0, n)
    if not (b >> bit) & 1:
        return False
    while True:
        _node_put(s, level, n, b & ~(<uint64_t> 1 << bit))
        if b != ~(<uint64_t> 0) or level == levels - 1:
            return True
        # the node was full: its bit one level up goes too
        bit = n & 63
        n >>= 6
        level += 1
        b = _node_get(s, level, n)


cdef int64_t _set_next_free(ValueSet *s, int levels, uint32_t lo, uint32_t hi) noexcept nogil:
    """The smallest value in lo..hi that is not in s, or -1."""
    cdef uint64_t n = lo >> 6, child, free_bits
    cdef uint64_t w
    cdef unsigned pos
    cdef int level, m
    if lo > hi:
        return -1
    free_bits = ~_node_get(s, 0, n) & (~(<uint64_t> 0) << (lo & 63))
    if free_bits:
        w = (n << 6) | ctz64(free_bits)
        return <int64_t> w if w <= hi else -1
    # up: the first node after n, one level at a time, that is not full
    for level in range(1, levels):
        pos = n & 63
        n >>= 6
        free_bits = 0
        if pos != 63:
            free_bits = ~_node_get(s, level, n) & (~(<uint64_t> 0) << (pos + 1))
        if free_bits:
            # down: the first value not in use below that node
            child = (n << 6) | ctz64(free_bits)
            for m in range(level - 1, 0, -1):
                free_bits = ~_node_get(s, m, child)
                if not free_bits:
                    return -1           # (cannot happen: child is not full)
                child = (child << 6) | ctz64(free_bits)
            free_bits = ~_node_get(s, 0, child)
            if not free_bits:
                return -1
            w = (child << 6) | ctz64(free_bits)
            return <int64_t> w if w <= hi else -1
        if ((n + 1) << (6 * (level + 1))) > hi:
            return -1                   # the next node starts past hi
    return -1


cdef inline uint32_t _set_home(uint32_t h, uint32_t mask) noexcept nogil:
    # The sets of one bucket share their hashes' low bits: the table of sets
    # is indexed by all of them, mixed.
    return <uint32_t> ((<uint64_t> h * 0x9E3779B97F4A7C15ULL) >> 40) & mask


cdef inline ValueSet *_set_find(GroupIndex *x, const FlowKey *g, uint32_t h) noexcept nogil:
    cdef uint32_t i
    cdef ValueSet *s
    if x.nsets == 0:
        return NULL
    i = _set_home(h, x.smask)
    while True:
        s = x.sets[i]
        if s == NULL:
            return NULL
        if s.hash == h and key_eq(&s.group, g):
            return s
        i = (i + 1) & x.smask


cdef bint _sets_grow(GroupIndex *x) noexcept nogil:
    cdef uint32_t ncap = (x.smask + 1) * 2 if x.sets != NULL else 8
    cdef ValueSet **sets = <ValueSet **> calloc(ncap, sizeof(ValueSet *))
    cdef uint32_t i, j
    if sets == NULL:
        return False
    if x.sets != NULL:
        for i in range(x.smask + 1):
            if x.sets[i] != NULL:
                j = _set_home(x.sets[i].hash, ncap - 1)
                while sets[j] != NULL:
                    j = (j + 1) & (ncap - 1)
                sets[j] = x.sets[i]
        free(x.sets)
    x.sets = sets
    x.smask = ncap - 1
    return True


cdef ValueSet *_set_new(GroupIndex *x, const FlowKey *g, uint32_t h) noexcept nogil:
    """An empty set for group g (h = _group_hash(g)) in x, or NULL if out of memory."""
    global _sets_made
    cdef ValueSet *s
    cdef uint32_t i
    cdef uint8_t degraded = x.degraded
    x.degraded = 1                  # (until the set is made)
    if (x.sets == NULL or (x.nsets + 1) * 2 > x.smask + 1) and not _sets_grow(x):
        return NULL
    s = <ValueSet *> calloc(1, sizeof(ValueSet))
    if s == NULL:
        return NULL
    s.nodes = <uint64_t *> calloc(SET_MIN_SLOTS * 2, sizeof(uint64_t))
    if s.nodes == NULL:
        free(s)
        return NULL
    x.degraded = degraded
    s.nmask = SET_MIN_SLOTS - 1
    s.levels = x.levels
    s.group = g[0]
    s.hash = h
    i = _set_home(h, x.smask)
    while x.sets[i] != NULL:
        i = (i + 1) & x.smask
    x.sets[i] = s
    x.nsets += 1
    _sets_made += 1
    return s


cdef inline void _bucket_add(GroupIndex *x, uint32_t h, uint32_t n) noexcept nogil:
    cdef uint8_t *c = &x.counts[h & x.cmask]
    if c[0] != COUNT_STICKY:
        c[0] = <uint8_t> (c[0] + n if c[0] + n < COUNT_STICKY else COUNT_STICKY)


cdef inline void _bucket_sub(GroupIndex *x, uint32_t h) noexcept nogil:
    cdef uint8_t *c = &x.counts[h & x.cmask]
    if c[0] != COUNT_STICKY and c[0]:
        c[0] -= 1


cdef void _set_drop(GroupIndex *x, ValueSet *s) noexcept nogil:
    """Take s out of x and free it; its values are entries its bucket counts again."""
    global _sets_dropped
    cdef uint32_t i = _set_home(s.hash, x.smask), j, home
    _bucket_add(x, s.hash, s.known)
    while x.sets[i] != s:
        i = (i + 1) & x.smask
    j = i
    while True:
        j = (j + 1) & x.smask
        if x.sets[j] == NULL:
            break
        home = _set_home(x.sets[j].hash, x.smask)
        if (i <= j and i < home <= j) or (i > j and (home > i or home <= j)):
            continue
        x.sets[i] = x.sets[j]
        i = j
    x.sets[i] = NULL
    x.nsets -= 1
    free(s.nodes)
    free(s.dense)
    free(s)
    _sets_dropped += 1


cdef void _index_drop_sets(GroupIndex *x) noexcept nogil:
    """Free every set of x (its counters are reset or recounted by the caller)."""
    global _sets_dropped
    cdef uint32_t i
    if x.sets == NULL:
        return
    for i in range(x.smask + 1):
        if x.sets[i] != NULL:
            free(x.sets[i].nodes)
            free(x.sets[i].dense)
            free(x.sets[i])
            x.sets[i] = NULL
    _sets_dropped += x.nsets
    x.nsets = 0


cdef void _index_free(GroupIndex *x) noexcept nogil:
    if x == NULL:
        return
    _index_drop_sets(x)
    free(x.sets)
    free(x.counts)
    free(x)


cdef void _index_clear(FlowMap *m) noexcept nogil:
    """The table was emptied at once: so are its indexes."""
    cdef int kind
    cdef GroupIndex *x
    for kind in range(2):
        x = m.index[kind]
        if x != NULL:
            memset(x.counts, 0, (<size_t> x.cmask + 1) * sizeof(uint8_t))
            _index_drop_sets(x)
            x.degraded = 0          # (nothing left that a set could miss)


cdef void _count_entry(GroupIndex *x, const FlowKey *k) noexcept nogil:
    """Recounting: entry key k is in the table. Its group's set, if any, learns
    it; otherwise its bucket counts it."""
    cdef FlowKey g
    cdef uint32_t v = _group_of(x.kind, k, &g), h = _group_hash(&g)
    cdef ValueSet *s = _set_find(x, &g, h)
    cdef int r
    if s != NULL:
        r = _set_add(s, x.levels, v)
        if r >= 0:
            s.known += r
            return
        _set_drop(x, s)             # (out of memory)
        x.degraded = 1
    _bucket_add(x, h, 1)


cdef bint _index_recount(FlowMap *m, GroupIndex *x) noexcept nogil:
    """Give x a bucket of groups per 2 entries of the table (at least 16) and count
    the entries anew. Sets learn the entries they missed; those of groups that
    are small go."""
    cdef uint32_t nb = 16, i, ref, ahead
    cdef int owner = -1, d
    cdef uint8_t *counts
    cdef FlowStore *st = m.store
    cdef RWFlow *f
    cdef ValueSet *s
    while nb < m.count // 2 and nb < 0x40000000:
        nb *= 2
    counts = <uint8_t *> calloc(nb, sizeof(uint8_t))
    if counts == NULL:
        return False
    free(x.counts)
    x.counts = counts
    x.cmask = nb - 1
    if x.sets != NULL:
        for i in range(x.smask + 1):
            if x.sets[i] != NULL:
                x.sets[i].unknown = 0
    if m.count:
        for i in range(st.nowners):
            if st.owners[i] != NULL and &store_owner(st, i).map == m:
                owner = i
    if m.count and owner >= 0:
        # The table's entries are the two of every stored flow of its owner
        # (one if their keys are equal), and the slab reads in order, fast.
        # A flow being stored (in no heap yet) has those that are there.
        for i in range(st.ncarved):
            f = flow_at(st, i)
            if not f.live or f.owner != owner:
                continue
            for d in range(2):
                if f.place != NOREF:
                    if d == 0 and key_eq(&f.key[0], &f.key[1]):
                        continue
                elif map_find(m, &f.key[d]) != i * 2 + d:
                    continue
                _count_entry(x, &f.key[d])
    elif m.count:
        # The slots in order, the flows they name at random: each flow is
        # prefetched RECOUNT_AHEAD slots early so the misses overlap.
        for i in range(m.mask + 1):
            ahead = (i + RECOUNT_AHEAD) & m.mask
            if m.slots[ahead]:
                prefetch(flow_at(st, (<uint32_t> m.slots[ahead] - 1) >> 1))
            if m.slots[i]:
                ref = <uint32_t> m.slots[i] - 1
                _count_entry(x, &flow_at(st, ref >> 1).key[ref & 1])
    # sets of groups that became small go (their values are counted again)
    i = 0
    while x.sets != NULL and i <= x.smask:
        s = x.sets[i]
        if s != NULL and s.known <= GROUP_SMALL // 2:
            _set_drop(x, s)         # (the slot gets another set, or stays empty)
        else:
            i += 1
    return True


cdef GroupIndex *_index_make(FlowMap *m, int kind) noexcept nogil:
    """Make m's index of kind (counting the entries it has), or NULL if out of memory."""
    cdef GroupIndex *x = <GroupIndex *> calloc(1, sizeof(GroupIndex))
    cdef uint32_t i, ref, v, h
    cdef FlowKey g
    cdef ValueSet *s
    cdef int r
    if x == NULL:
        return NULL
    x.kind = kind
    x.levels = 3 if kind == INDEX_PORT else 6
    if not _index_recount(m, x):
        free(x)
        return NULL
    # Groups in buckets past GROUP_SMALL get sets, complete: each entry put
    # in one leaves its bucket's count. (A group first met once its bucket
    # is that small again has no more entries than the bucket counts.)
    if m.count:
        for i in range(m.mask + 1):
            if not m.slots[i]:
                continue
            ref = <uint32_t> m.slots[i] - 1
            v = _group_of(kind, &flow_at(m.store, ref >> 1).key[ref & 1], &g)
            h = _group_hash(&g)
            s = _set_find(x, &g, h)
            if s == NULL:
                if x.counts[h & x.cmask] <= GROUP_SMALL:
                    continue
                s = _set_new(x, &g, h)
            r = _set_add(s, x.levels, v) if s != NULL else -1
            if r < 0:
                _index_free(x)
                return NULL
            s.known += r
            _bucket_sub(x, h)
    m.index[kind] = x
    return x


cdef void _index_prefetch(FlowMap *m, const FlowKey *k, uint32_t *gh) noexcept nogil:
    """Hash k's groups into gh (by kind) and start loading their counters (they
    miss the cache in a big table), so the miss overlaps the table's own."""
    cdef int kind
    cdef FlowKey g
    for kind in range(2):
        if m.index[kind] != NULL:
            _group_of(kind, k, &g)
            gh[kind] = _group_hash(&g)
            prefetch(&m.index[kind].counts[gh[kind] & m.index[kind].cmask])


cdef void _index_add(FlowMap *m, const FlowKey *k, const uint32_t *gh) noexcept nogil:
    """Entry key k was added to m (gh: its groups' hashes, from _index_prefetch)."""
    cdef int kind, r
    cdef GroupIndex *x
    cdef FlowKey g
    cdef uint32_t v, h
    cdef ValueSet *s
    for kind in range(2):
        x = m.index[kind]
        if x == NULL:
            continue
        v = _group_of(kind, k, &g)
        h = gh[kind]
        s = _set_find(x, &g, h)
        if s == NULL:
            if x.counts[h & x.cmask] < GROUP_SMALL:
                _bucket_add(x, h, 1)
                continue
            # The bucket is past GROUP_SMALL: the group gets a set now. Its
            # other entries (at most GROUP_SMALL: it had no set, so its last
            # one came while the bucket was that small) are not in it yet.
            s = _set_new(x, &g, h)
            if s == NULL:
                _bucket_add(x, h, 1)
                continue
            s.unknown = GROUP_SMALL
        r = _set_add(s, x.levels, v)
        if r > 0:
            s.known += 1
        elif r < 0:
            _set_drop(x, s)
            x.degraded = 1
            _bucket_add(x, h, 1)


cdef void _index_remove(FlowMap *m, const FlowKey *k, const uint32_t *gh) noexcept nogil:
    """Entry key k was taken out of m (gh: its groups' hashes, from _index_prefetch)."""
    cdef int kind
    cdef GroupIndex *x
    cdef FlowKey g
    cdef uint32_t v, h
    cdef ValueSet *s
    for kind in range(2):
        x = m.index[kind]
        if x == NULL:
            continue
        v = _group_of(kind, k, &g)
        h = gh[kind]
        s = _set_find(x, &g, h)
        if s != NULL and _set_discard(s, x.levels, v):
            s.known -= 1
        else:
            _bucket_sub(x, h)
            if s != NULL and s.unknown:
                s.unknown -= 1
        if s != NULL and s.known + s.unknown <= GROUP_SMALL // 2:
            _set_drop(x, s)             # the group is small again


# --- patterns ------------------------------------------------------------------------

cdef inline bint _value_free(FlowMap *m, GroupIndex *x, ValueSet **sp, FlowKey *lookup, int kind,
                             uint32_t v) noexcept nogil:
    """True if no entry of m has key lookup with its varying field set to v
    (which lookup keeps). Teaches the group's set, if any, what it missed."""
    global _probes, _set_answers
    cdef ValueSet *s = sp[0]
    cdef int r
    _probes += 1
    if s != NULL and _set_has(s, v):
        return False
    if kind == INDEX_PORT:
        lookup.dport = htons(<uint16_t> v)
    else:
        lookup.daddr = htonl(v)
    if s != NULL and s.unknown == 0 and not x.degraded:
        _set_answers += 1
        return True                 # the set has every entry of the group
    if map_find(m, lookup) == NOREF:
        return True
    if s != NULL:
        # an entry the group had before its set was made: the set has it now,
        # so its bucket no longer counts it
        r = _set_add(s, x.levels, v)
        if r < 0:
            _set_drop(x, s)
            x.degraded = 1
            sp[0] = NULL
        elif r:
            s.known += 1
            if s.unknown:
                s.unknown -= 1
            _bucket_sub(x, s.hash)
    return False


cdef int pattern_rewrite(PatternC *pat, const FlowKey *flowid, FlowKey *out, FlowMap *reply_map) noexcept nogil:
    """Rewrite flowid by pat into out (Click's IPRewriterPattern::rewrite_flowid).

    With a range, the value chosen is one no entry of reply_map uses yet;
    RW_DROP if there is none. The search is Click's (the first free value
    from the start, cyclically), with the work bounded by reply_map's group
    index (see "group indexes" above).
    """
    global _probes
    cdef FlowKey lookup, group
    cdef uint32_t base, val = 0, top = pat.variation_top
    cdef uint64_t count
    cdef int64_t w
    cdef bint found = False
    cdef int kind
    cdef GroupIndex *x
    cdef ValueSet *s = NULL
    out[0] = flowid[0]
    if pat.saddr:
        out.saddr = pat.saddr
    if pat.sport:
        out.sport = pat.sport
    if pat.daddr:
        out.daddr = pat.daddr
    if pat.dport:
        out.dport = pat.dport
    if not top:
        return RW_ADDMAP
    key_reverse(&lookup, out)
    kind = INDEX_PORT if pat.is_napt else INDEX_ADDR
    base = ntohs(pat.sport) if pat.is_napt else ntohl(pat.saddr)
    x = reply_map.index[kind]
    if x == NULL:
        x = _index_make(reply_map, kind)    # (NULL if out of memory: Click's search, unbounded)
    # (a port range past 65535, which only an address range given with ports
    # '-' makes, is searched as Click searches it: ports wrap)
    if x != NULL and x.nsets and (kind == INDEX_ADDR or base + top <= 0xFFFF):
        _group_of(kind, &lookup, &group)
        s = _set_find(x, &group, _group_hash(&group))
    if pat.same_first:
        val = <uint32_t> ntohs(flowid.sport) - base
        if val <= top:
            found = _value_free(reply_map, x, &s, &lookup, kind, base + val)
    if not found:
        if pat.sequential:
            val = 0 if pat.next_variation > top else pat.next_variation
        else:
            val = click_random_range(0, top)
        # A large group: its set offers the first value from val that may be
        # free, wrapping around; each one offered is checked in the table.
        while s != NULL:
            _probes += 1
            w = _set_next_free(s, x.levels, base + val, base + top)
            if w < 0 and val:
                w = _set_next_free(s, x.levels, base, base + val - 1)
            if w < 0:
                return RW_DROP          # every value of the range is in use
            if _value_free(reply_map, x, &s, &lookup, kind, <uint32_t> w):
                val = <uint32_t> w - base
                found = True
                break
        # A small group (at most GROUP_SMALL entries): Click's search.
        count = 0
        while not found and count <= top:
            if _value_free(reply_map, x, &s, &lookup, kind, base + val):
                found = True
                break
            val = 0 if val == top else val + 1
            count += 1
        if not found:
            return RW_DROP
    if pat.is_napt:
        out.sport = lookup.dport
    else:
        out.saddr = lookup.daddr
    pat.next_variation = val + 1
    return RW_ADDMAP


def allocation_stats():
    """Counts since the module loaded, for tests: 'probes', the values pattern_rewrite
    looked at (table lookups and set searches); 'set_answers', the free values a
    complete set found alone; 'sets_made' and 'sets_dropped', the group indexes' sets."""
    return {"probes": _probes, "set_answers": _set_answers, "sets_made": _sets_made,
            "sets_dropped": _sets_dropped}


def bucket_in_new_table(keys, int nbits=16):
    """For tests: the bucket (hash's low nbits) each (saddr, sport, daddr, dport)
    falls in, in a table made now with its own key."""
    cdef FlowMap m
    cdef FlowKey k
    _draw_table_key(m.hash_key)
    out = []
    for saddr, sport, daddr, dport in keys:
        k.saddr, k.sport, k.daddr, k.dport = saddr, sport, daddr, dport
        out.append(key_hash(&m, &k) & ((1 << nbits) - 1))
    return out


cdef class Pattern:
    def __cinit__(self, spec):
        self.c = <PatternC *> calloc(1, sizeof(PatternC))
        if self.c == NULL:
            raise MemoryError()
        self.spec = spec
        self.c.saddr = htonl(spec.saddr & 0xFFFFFFFF)
        self.c.daddr = htonl(spec.daddr & 0xFFFFFFFF)
        self.c.sport = htons(spec.sport & 0xFFFF)
        self.c.dport = htons(spec.dport & 0xFFFF)
        self.c.variation_top = spec.variation_top
        self.c.next_variation = 0
        self.c.is_napt = spec.is_napt
        self.c.sequential = spec.sequential
        self.c.same_first = spec.same_first

    def __dealloc__(self):
        free(self.c)

    def unparse(self):
        return self.spec.unparse()


# --- Click's random numbers -------------------------------------------------------------
# Click draws from the C library's random(): the additive feedback generator
# of glibc (TYPE_3: 31 words, separation 3), seeded by srandom(). It lives
# here so that a seed gives Click's sequence on any platform.

cdef int32_t _rstate[31]
cdef int _rf = 3
cdef int _rr = 0


cdef uint32_t _glibc_random() noexcept nogil:
    global _rf, _rr
    cdef uint32_t val = <uint32_t> _rstate[_rf] + <uint32_t> _rstate[_rr]
    _rstate[_rf] = <int32_t> val
    _rf += 1
    _rr += 1
    if _rf >= 31:
        _rf = 0
    elif _rr >= 31:
        _rr = 0
    return val >> 1


cdef void click_srandom(uint32_t seed) noexcept nogil:
    global _rf, _rr
    cdef int64_t word, hi, lo
    cdef int i
    if seed == 0:
        seed = 1
    _rstate[0] = <int32_t> seed
    word = <int32_t> seed
    for i in range(1, 31):
        hi = word // 127773
        lo = word % 127773
        word = 16807 * lo - 2836 * hi
        if word < 0:
            word += 2147483647
        _rstate[i] = <int32_t> word
    _rf = 3
    _rr = 0
    for i in range(310):
        _glibc_random()


cdef uint32_t click_random_range(uint32_t low, uint32_t high) noexcept nogil:
    cdef uint32_t r, count, limit
    if low > high:
        return low
    if high - low > 0x7FFFFFFF:
        while True:
            r = (_glibc_random() << 17) ^ (_glibc_random() >> 14)
            if r <= high - low:
                return r + low
    if high == low + 1:
        return low + ((_glibc_random() >> 14) & 1)
    count = <uint32_t> ((<uint64_t> 0x80000000) // (high - low + 1))
    limit = count * (high - low + 1)
    while True:
        r = _glibc_random()
        if r < limit:
            return r // count + low


def srandom(seed):
    """Seed the rewriters' random choices (Click's click_srandom)."""
    click_srandom(<uint32_t> (int(seed) & 0xFFFFFFFF))


def random_range(low, high):
    return click_random_range(low, high)


srandom(int.from_bytes(os.urandom(4), "little"))


# --- TCP sequence number changes (TCPRewriter, FTPPortMapper) -------------------------------

cdef inline bint seq_geq(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t> (a - b) >= 0


cdef inline bint dt_has(DeltaTransition *dt, int d) noexcept nogil:
    return (dt.triggers >> d) & 1


cdef void _drop_following(DeltaTransition *dt) noexcept nogil:
    cdef DeltaTransition *x
    while dt.next != NULL:
        x = dt.next
        dt.next = x.next
        free(x)


cdef int tcp_update_seqno_delta(RWFlow *f, int d, uint32_t trigger, int32_t delta) noexcept nogil:
    """From sequence number trigger on, direction d's numbers move by delta more."""
    cdef int nd = 1 - d
    cdef DeltaTransition *dt = f.dt
    cdef DeltaTransition *ndt
    cdef DeltaTransition *x
    # transitions come in increasing sequence order
    if dt != NULL and dt_has(dt, d) and not seq_geq(trigger, dt.trigger[d]):
        return -1
    if dt == NULL or (trigger != dt.trigger[d] if dt_has(dt, d) else dt.delta[d] != 0):
        ndt = <DeltaTransition *> calloc(1, sizeof(DeltaTransition))
        if ndt == NULL:
            return -1
        ndt.next = dt
        f.dt = ndt
        # the other direction's transitions shift up one node
        while ndt.next != NULL:
            x = ndt.next
            ndt.delta[nd] = x.delta[nd]
            ndt.trigger[nd] = x.trigger[nd]
            if dt_has(x, nd):
                ndt.triggers |= 1 << nd
                ndt = x
            else:
                ndt.triggers &= ~(1 << nd)
                break
    dt = f.dt
    dt.trigger[d] = trigger
    ndt = dt.next
    dt.delta[d] = (ndt.delta[d] if ndt != NULL else 0) + delta
    dt.triggers |= 1 << d
    # forget transitions 1G behind this one
    while ndt != NULL and dt_has(ndt, d) and not seq_geq(trigger, ndt.trigger[d] + (1U << 30)):
        ndt = ndt.next
    if ndt != NULL and dt_has(ndt, d):
        ndt.triggers &= ~(1 << d)
        if not ndt.triggers:
            _drop_following(ndt)
    return 0


cdef uint32_t tcp_new_seq(RWFlow *f, int d, uint32_t seqno) noexcept nogil:
    cdef DeltaTransition *dt = f.dt
    while dt != NULL and dt_has(dt, d) and not seq_geq(seqno, dt.trigger[d]):
        dt = dt.next
    return seqno + <uint32_t> dt.delta[d] if dt != NULL else seqno


cdef uint32_t tcp_new_ack(RWFlow *f, int d, uint32_t ackno) noexcept nogil:
    cdef int nd = 1 - d
    cdef DeltaTransition *dt = f.dt
    while dt != NULL and dt_has(dt, nd) and not seq_geq(ackno - <uint32_t> dt.delta[nd], dt.trigger[nd]):
        dt = dt.next
    return ackno - <uint32_t> dt.delta[nd] if dt != NULL else ackno


cdef void _apply_sack(RWFlow *f, int d, unsigned char *tcph, int length) noexcept nogil:
    cdef int off = (tcph[12] >> 4) << 2
    cdef unsigned char *begin_opt = tcph + 20
    cdef unsigned char *end_opt
    cdef unsigned char *opt
    cdef unsigned char *end_sack
    cdef unsigned char *csum_begin
    cdef unsigned char *c
    cdef uint32_t csum_delta = 0, sum
    cdef uint16_t th_sum
    if off < length:
        length = off
    end_opt = tcph + length
    opt = begin_opt
    while opt < end_opt:
        if opt[0] == TCPOPT_EOL:
            break
        if opt[0] == TCPOPT_NOP:
            opt += 1
            continue
        if opt + 1 >= end_opt:
            break
        if opt[0] == TCPOPT_SACK:
            if opt + opt[1] > end_opt or (opt[1] % 8) != 2:
                break
            end_sack = opt + opt[1]
            csum_begin = begin_opt + ((opt + 2 - begin_opt) & ~1)
            c = csum_begin
            while c < end_sack:
                csum_delta += ~load_u16_raw(c) & 0xFFFF
                c += 2
            opt += 2
            while opt < end_sack:
                store_u32_raw(opt, htonl(tcp_new_ack(f, d, ntohl(load_u32_raw(opt)))))
                store_u32_raw(opt + 4, htonl(tcp_new_ack(f, d, ntohl(load_u32_raw(opt + 4)))))
                opt += 8
            c = csum_begin
            while c < end_sack:
                csum_delta += load_u16_raw(c)
                c += 2
            continue
        if opt[1] < 2:
            break
        opt += opt[1]
    if csum_delta:
        th_sum = load_u16_raw(tcph + 16)
        sum = (~th_sum & 0xFFFF) + csum_delta
        sum = (sum & 0xFFFF) + (sum >> 16)
        store_u16_raw(tcph + 16, <uint16_t> ~(sum + (sum >> 16)))


cdef inline void _rewrite_u32_field(unsigned char *field, unsigned char *csum, uint32_t newval_host) noexcept nogil:
    cdef uint32_t newraw = htonl(newval_host)
    cdef uint16_t c = load_u16_raw(csum)
    # as Click: the halfword at +2 first, then the one at +0 (little-endian order)
    c = cksum_update(c, load_u16_raw(field + 2), <uint16_t> (newraw >> 16))
    c = cksum_update(c, load_u16_raw(field), <uint16_t> newraw)
    store_u16_raw(csum, c)
    store_u32_raw(field, newraw)


cdef void tcp_flow_apply(RWFlow *f, Packet *p, int d, uint32_t annos) noexcept nogil:
    """Rewrite a TCP packet of flow f going direction d (Click's TCPFlow::apply)."""
    cdef unsigned char *iph = p.buffer + p.network
    cdef unsigned char *tcph
    cdef FlowKey *rev = &f.key[1 - d]
    cdef int tlen, th_off
    cdef uint8_t flags
    cdef bint have_payload
    cdef DeltaTransition *dt
    flow_apply_ip(f, p, d, annos)
    tlen = <int> (p.data + p.length) - p.transport
    if (ip_off(iph) & IP_OFFMASK) != 0 or tlen < 18:
        return
    tcph = p.buffer + p.transport
    store_u16_raw(tcph, rev.dport)
    store_u16_raw(tcph + 2, rev.sport)
    csum_apply(tcph + 16, d, f.udp_csum_delta)
    # connection state
    th_off = tcph[12] >> 4
    flags = tcph[13]
    have_payload = ((<int> (iph[0] & 0x0F) + th_off) << 2) < <int> ip_len(iph)
    if flags & TH_RST:
        f.tflags |= TCP_BOTH_DONE
    elif flags & TH_FIN:
        f.tflags |= TCP_FORWARD_DONE << d
    elif (flags & TH_SYN) or have_payload:
        f.tflags &= ~(TCP_FORWARD_DONE << d)
    if have_payload:
        f.tflags |= TCP_FORWARD_DATA << d
    if tlen < (th_off << 2) or f.dt == NULL:
        return
    dt = f.dt
    # a trigger is dropped once the sequence number is 1G beyond it
    if dt_has(dt, d) and seq_geq(ntohl(load_u32_raw(tcph + 4)), dt.trigger[d] + (1U << 30)):
        dt.triggers &= ~(1 << d)
        if not dt.triggers:
            _drop_following(dt)
    if dt.delta[d] or dt_has(dt, d):
        _rewrite_u32_field(tcph + 4, tcph + 16, tcp_new_seq(f, d, ntohl(load_u32_raw(tcph + 4))))
    if dt.delta[1 - d] or dt_has(dt, 1 - d):
        _rewrite_u32_field(tcph + 8, tcph + 16, tcp_new_ack(f, d, ntohl(load_u32_raw(tcph + 8))))
        if th_off > 8 or (th_off == 8 and load_u32_raw(tcph + 20) != htonl(0x0101080A)):
            _apply_sack(f, d, tcph, tlen)


# --- Python handle -------------------------------------------------------------------

cdef class FlowSet:
    def __cinit__(self):
        store_init(&self.s)
        self.users = []

    def __dealloc__(self):
        store_free(&self.s)

    @property
    def size(self):
        return store_size(&self.s)

    @property
    def capacity(self):
        return self.s.capacity

    @property
    def live_flows(self):
        return self.s.nlive
