# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The rewriters' mapping store (see flow_table.pxd for the data structures)."""
import os

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy, memset

from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet, pkt_data

from clickpy.elements.ip.ip_header cimport (IP_OFFMASK, TH_FIN, TH_RST, TH_SYN, htonl, htons, ip_hl, ip_len,
                                            ip_off, load_u16_raw, load_u32_raw, ntohl, ntohs, store_u16_raw,
                                            store_u32_raw)


cdef enum:
    MAP_MIN_SLOTS = 16
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
    f.output[0] = o.specs[input].foutput
    f.output[1] = o.specs[input].routput
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
    return 0 if m.slots != NULL else -1


cdef void map_free(FlowMap *m) noexcept nogil:
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
    cdef uint32_t h = key_hash(k)
    cdef uint32_t i, old
    cdef uint64_t s
    if m.slots == NULL:
        return MAP_FULL
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
    if (m.count + 1) * 2 > m.mask + 1 and _map_grow(m):
        i = h & m.mask
        while m.slots[i]:
            i = (i + 1) & m.mask
    elif m.count + 1 >= m.mask + 1:
        return MAP_FULL
    m.slots[i] = (<uint64_t> h << 32) | (ref + 1)
    m.count += 1
    return NOREF


cdef void map_erase_ref(FlowMap *m, uint32_t ref) noexcept nogil:
    """Remove entry ref's key if it maps to ref (and leave it alone otherwise)."""
    cdef const FlowKey *k = &flow_at(m.store, ref >> 1).key[ref & 1]
    cdef uint32_t h = key_hash(k)
    cdef uint32_t i, j, home, other
    cdef uint64_t s
    if m.slots == NULL:
        return
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


# --- patterns ------------------------------------------------------------------------

cdef int pattern_rewrite(PatternC *pat, const FlowKey *flowid, FlowKey *out, FlowMap *reply_map) noexcept nogil:
    """Rewrite flowid by pat into out (Click's IPRewriterPattern::rewrite_flowid).

    With a range, the value chosen is one no entry of reply_map uses yet;
    RW_DROP if there is none.
    """
    cdef FlowKey lookup
    cdef uint32_t base, val = 0, top = pat.variation_top
    cdef uint64_t count
    cdef bint found = False
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
    base = ntohs(pat.sport) if pat.is_napt else ntohl(pat.saddr)
    if pat.same_first:
        val = <uint32_t> ntohs(flowid.sport) - base
        if val <= top:
            lookup.dport = flowid.sport
            found = map_find(reply_map, &lookup) == NOREF
    if not found:
        if pat.sequential:
            val = 0 if pat.next_variation > top else pat.next_variation
        else:
            val = click_random_range(0, top)
        count = 0
        while count <= top:
            if pat.is_napt:
                lookup.dport = htons(<uint16_t> (base + val))
            else:
                lookup.daddr = htonl(base + val)
            if map_find(reply_map, &lookup) == NOREF:
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
