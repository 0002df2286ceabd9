# cython: language_level=3
"""The rewriters' mapping store, in C: flows, their hash tables, their expiry heaps.

A *flow* (Click's IPRewriterFlow) is one rewritten connection. It has two
*entries*, one per direction: entry 0 is keyed by the flow ID as it arrived
(``key[0]``), entry 1 by the flow ID its replies will carry (``key[1]``, the
rewritten flow ID reversed). An entry is named by a 32-bit *ref*:
``flow index * 2 + direction``. A packet whose flow ID matches ``key[d]`` is
rewritten to the reverse of ``key[1 - d]`` and leaves on ``output[d]``.

Flows live in a ``FlowStore`` (Click's IPRewriterHeap): a slab of flows in
chunks of 4096 (so a flow never moves while it lives), a free list, two
binary heaps by expiry time (best-effort flows and guaranteed flows) and the
capacity. Rewriters that share a MAPPING_CAPACITY share one store.

Each rewriter owns one ``RWOwner`` per flow table (IPRewriter has two: TCP
and UDP) holding an open-addressing hash table from flow IDs to refs
(linear probing, 8-byte slots of 32-bit hash and ref + 1, at most half
full) and the timeouts that decide when its flows expire. A flow records
which owner made it, so a store shared by several rewriters can expire any
of its flows.

Expiry heaps are lazy on the fast path: a packet moving a flow's expiry
later only stores the new time in the flow; the heap notices when that flow
reaches its top (``heap_key`` is the time the heap is ordered by, never
later than ``expiry``). Moving an expiry earlier, or between the two heaps,
updates the heap at once. So the earliest-expiring flow is always found
exactly, and established flows cost no heap work per packet.

A table in which a pattern picks values from a range also has a
``GroupIndex`` per varying field (ports for NAPT, addresses for address
ranges), so that finding a free value, or knowing there is none, takes
bounded work however much of the range is used (flow_table.pyx, "group
indexes").

Addresses and ports are stored as they lie in packet memory (network
order), as Click's IPFlowID holds them.
"""
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from libc.string cimport memcpy

from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet

from clickpy.elements.ip.ip_header cimport (IP_OFFMASK, IP_PROTO_TCP, IP_PROTO_UDP, load_u16_raw, rd16,
                                            store_u16_raw, store_u32_raw)


cdef enum:
    NOREF = 0xFFFFFFFF          # no entry, no flow
    MAP_FULL = 0xFFFFFFFE       # map_set: no room (out of memory)
    CHUNK_SHIFT = 12            # flows per slab chunk: 4096
    CHUNK_SIZE = 4096
    CHUNK_MASK = 4095

    # How an owner picks a flow's timeout once its guarantee has run out.
    OWNER_PLAIN = 0             # always TIMEOUT
    OWNER_TCP = 1               # done / data / no-data timeouts by TCP state
    OWNER_UDP = 2               # streaming or not

    # RWFlow.tflags for TCP flows (Click's TCPFlow states)
    TCP_FORWARD_DONE = 1
    TCP_REPLY_DONE = 2
    TCP_BOTH_DONE = 3
    TCP_FORWARD_DATA = 4
    TCP_REPLY_DATA = 8
    TCP_BOTH_DATA = 12

    # Input spec kinds (Click's IPRewriterInput)
    SPEC_DROP = 0
    SPEC_NOCHANGE = 1
    SPEC_KEEP = 2
    SPEC_PATTERN = 3
    SPEC_MAPPER = 4

    # Results of rewriting a flow ID; a result >= 0 is an output port ('pass').
    RW_DROP = -1
    RW_ADDMAP = -2

    # Annotation flags (Click's _annos): bit 0 sets DST_IP, bit 1 REPLY_ANNO
    # (whose offset is annos >> 2).
    ANNO_DST = 1
    ANNO_REPLY = 2

    # Group indexes (see GroupIndex): which field of an entry key a pattern varies
    INDEX_PORT = 0              # the destination port (NAPT: the reply's port)
    INDEX_ADDR = 1              # the destination address (address ranges)
    GROUP_SMALL = 32            # a group gaining an entry while its bucket counts this many gets a ValueSet


cdef struct FlowKey:
    uint32_t saddr              # field order as Click's IPFlowID: the
    uint32_t daddr              # checksum deltas read it as six halfwords
    uint16_t sport
    uint16_t dport


cdef struct DeltaTransition:
    # TCPRewriter: from sequence number trigger[d] on, direction d's numbers
    # move by delta[d] (Click's delta_transition).
    int32_t delta[2]
    uint32_t trigger[2]
    DeltaTransition *next
    uint8_t triggers            # bit d: trigger[d] is in force


cdef struct RWFlow:
    # 72 bytes (3 of them padding): the slab is most of a big table's memory.
    FlowKey key[2]              # entry keys: [0] as arrived, [1] the replies'
    int16_t output[2]           # output port per direction (-1: none; flow_store refuses it)
    uint32_t place              # index in its heap; next free flow while free
    int64_t expiry              # ns, router time
    int64_t heap_key            # the expiry its heap is ordered by (<= expiry)
    uint16_t ip_csum_delta      # checksum change from key[0] to rewritten
    uint16_t udp_csum_delta     # the same with the ports
    uint16_t owner              # index in the store's owner table
    uint16_t input              # which input spec of the owner made it
    uint8_t ip_p                # protocol (0: any, as IPAddrRewriter's)
    uint8_t tflags              # TCP/UDP connection state
    uint8_t guaranteed          # which heap: 1 guaranteed, 0 best effort
    uint8_t reply_anno          # REPLY_ANNO value to give replies
    uint8_t live
    DeltaTransition *dt         # TCP sequence number changes, or NULL


cdef struct HeapEntry:
    int64_t key
    uint32_t idx


cdef struct PatternC:
    # A rewriting pattern (Click's IPRewriterPattern); zero fields are '-'.
    uint32_t saddr
    uint32_t daddr
    uint16_t sport
    uint16_t dport
    uint32_t variation_top      # how many more ports (NAPT) or addresses there are
    uint32_t next_variation     # where a sequential search starts
    uint8_t is_napt
    uint8_t sequential
    uint8_t same_first


cdef struct InputSpec:
    int kind                    # SPEC_*
    int foutput                 # output for new flows' packets ('pass': the output)
    int routput                 # output for their replies
    uint32_t count              # live flows made through this input
    uint32_t failures           # flows this input could not make
    PatternC *pattern           # SPEC_PATTERN (kept alive by a Pattern object)
    void *mapper                # SPEC_MAPPER: a borrowed IPMapper element


cdef struct FlowStore:
    RWFlow **chunks
    uint32_t nchunks
    uint32_t chunks_cap
    uint32_t ncarved            # flows handed out from the chunks so far
    uint32_t free_head          # first free flow, NOREF if none
    uint32_t nlive
    HeapEntry *heap[2]          # [0] best effort, [1] guaranteed
    uint32_t heap_n[2]
    uint32_t heap_cap[2]
    int32_t capacity
    void **owners               # RWOwner pointers by owner id (NULL: gone)
    int nowners
    uint64_t alloc_failures
    uint64_t destroyed          # flows freed so far: a batch's earlier lookups are stale when it moves


cdef struct ValueSet:
    # The values one group of a FlowMap uses, as a hierarchical bitmap (a
    # GroupIndex's tracker). Level 0 node n holds values n*64 .. n*64+63, a bit
    # per value in use; a level l > 0 node n has a bit per level l-1 node
    # n*64 + i that is full. Nodes live in a small hash table; an absent node
    # is all zero, so a set costs memory in proportion to its values (a port
    # set with many values keeps them in plain arrays instead, 8 KB), and
    # "the first value >= v not in the set" takes one walk up and down.
    FlowKey group               # the group: entry keys with the varying field 0
    uint32_t hash               # its hash (flow_table.pyx: _group_hash)
    uint32_t known              # values in the set (entries of the group)
    uint32_t unknown            # at most this many entries of the group are not in the set
                                # (0: the set has them all, and answers alone)
    uint64_t *nodes             # pairs (node id + 1, bits); a zero id is an empty slot
    uint32_t nmask
    uint32_t ncount
    uint64_t *dense             # a large port set: its nodes as plain arrays (nodes is then NULL)
    uint8_t levels              # as its GroupIndex's


cdef struct GroupIndex:
    # Which values of one field the entries of a FlowMap use, per group (see
    # flow_table.pyx, "group indexes"): a ValueSet for each group that may be
    # large, and for each bucket of groups a count of its entries in no set.
    uint8_t *counts             # per bucket of groups (255 sticks until a recount)
    uint32_t cmask
    ValueSet **sets             # open addressing by ValueSet.hash (mixed); NULL is empty
    uint32_t smask
    uint32_t nsets
    uint8_t kind                # INDEX_PORT or INDEX_ADDR
    uint8_t levels              # bitmap levels: 3 cover 16-bit ports, 6 32-bit addresses
    uint8_t degraded            # memory ran out once: a set's unknown may be too low


cdef struct FlowMap:
    uint64_t *slots             # (hash << 32) | (ref + 1); 0 is empty
    uint32_t mask
    uint32_t count
    FlowStore *store
    GroupIndex *index[2]        # by INDEX_*: made when a pattern first varies that field
    uint64_t hash_key[3]        # drawn for each table: flow IDs picked to collide in one
                                # table's probe sequence do not collide in another's


cdef struct RWOwner:
    FlowMap map
    int kind                    # OWNER_*
    int id                      # index in the store's owner table, -1 if none
    int64_t timeout             # ns: TIMEOUT (TCP: no-data timeout)
    int64_t guarantee           # ns: 0 means flows are best effort at once
    int64_t tcp_data_timeout
    int64_t tcp_done_timeout
    int64_t udp_streaming_timeout
    InputSpec *specs            # the owning element's input specs
    int nspecs
    int noutputs


# --- the store (flow_table.pyx) ----------------------------------------------------------

cdef int store_init(FlowStore *s) noexcept nogil
cdef void store_free(FlowStore *s) noexcept nogil
cdef int store_add_owner(FlowStore *s, RWOwner *o) noexcept nogil
cdef void store_remove_owner(FlowStore *s, RWOwner *o) noexcept nogil
cdef void flow_change_expiry_slow(FlowStore *s, RWFlow *f, uint8_t guaranteed, int64_t expiry) noexcept nogil
cdef uint32_t flow_new(FlowStore *s, RWOwner *o, int input, const FlowKey *flowid,
                       const FlowKey *rewritten, uint8_t ip_p, int64_t now) noexcept nogil
cdef uint32_t flow_store(FlowStore *s, uint32_t idx, int64_t now) noexcept nogil
cdef void flow_destroy(FlowStore *s, uint32_t idx) noexcept nogil
cdef int64_t flow_best_effort_expiry(FlowStore *s, RWFlow *f) noexcept nogil
cdef void store_shift_best_effort(FlowStore *s, int64_t now) noexcept nogil
cdef void store_shrink(FlowStore *s, bint clear_all, int64_t now) noexcept nogil
cdef uint32_t store_top(FlowStore *s, int which) noexcept nogil

cdef int map_init(FlowMap *m, FlowStore *s) noexcept nogil
cdef void map_free(FlowMap *m) noexcept nogil
cdef uint32_t map_set(FlowMap *m, uint32_t ref) noexcept nogil
cdef void map_erase_ref(FlowMap *m, uint32_t ref) noexcept nogil

cdef int pattern_rewrite(PatternC *pat, const FlowKey *flowid, FlowKey *out, FlowMap *reply_map) noexcept nogil

# Click's click_random(low, high) over the C library's random() sequence
# (reproduced here, so runs with a RandomSeed repeat Click's choices).
cdef uint32_t click_random_range(uint32_t low, uint32_t high) noexcept nogil
cdef void click_srandom(uint32_t seed) noexcept nogil

# TCPRewriter's sequence number changes (Click's TCPFlow).
cdef int tcp_update_seqno_delta(RWFlow *f, int direction, uint32_t trigger, int32_t delta) noexcept nogil
cdef uint32_t tcp_new_seq(RWFlow *f, int direction, uint32_t seqno) noexcept nogil
cdef uint32_t tcp_new_ack(RWFlow *f, int direction, uint32_t ackno) noexcept nogil
cdef void tcp_flow_apply(RWFlow *f, Packet *p, int direction, uint32_t annos) noexcept nogil


# --- inline helpers (hot path) --------------------------------------------------------

cdef inline RWFlow *flow_at(FlowStore *s, uint32_t idx) noexcept nogil:
    return s.chunks[idx >> CHUNK_SHIFT] + (idx & CHUNK_MASK)


cdef inline RWOwner *store_owner(FlowStore *s, int i) noexcept nogil:
    return <RWOwner *> s.owners[i]


cdef inline bint key_eq(const FlowKey *a, const FlowKey *b) noexcept nogil:
    return (a.saddr == b.saddr and a.daddr == b.daddr
            and a.sport == b.sport and a.dport == b.dport)


cdef inline void key_set(FlowKey *k, uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport) noexcept nogil:
    k.saddr = saddr
    k.sport = sport
    k.daddr = daddr
    k.dport = dport


cdef inline void key_reverse(FlowKey *out, const FlowKey *k) noexcept nogil:
    cdef uint32_t a = k.saddr
    cdef uint16_t p = k.sport
    out.saddr = k.daddr
    out.sport = k.dport
    out.daddr = a
    out.dport = p


cdef inline uint32_t key_hash(const FlowMap *m, const FlowKey *k) noexcept nogil:
    """Flow ID k's hash in table m, keyed by m's secret: whoever sends packets
    picks their flow IDs, and must not be able to pick them to collide."""
    cdef uint64_t a = (<uint64_t> k.saddr << 32) | k.daddr
    cdef uint64_t b = (<uint64_t> k.sport << 16) | k.dport
    cdef uint64_t h = a * m.hash_key[0] + b * m.hash_key[1] + m.hash_key[2]
    h ^= h >> 31
    h *= 0x94D049BB133111EBULL
    h ^= h >> 29
    return <uint32_t> (h >> 32)


cdef inline uint32_t map_find_h(FlowMap *m, const FlowKey *k, uint32_t h) noexcept nogil:
    """The ref whose key is k (h = key_hash(m, k)), or NOREF."""
    cdef uint32_t i = h & m.mask
    cdef uint64_t s
    cdef uint32_t ref
    while True:
        s = m.slots[i]
        if s == 0:
            return NOREF
        if <uint32_t> (s >> 32) == h:
            ref = <uint32_t> s - 1
            if key_eq(&flow_at(m.store, ref >> 1).key[ref & 1], k):
                return ref
        i = (i + 1) & m.mask


cdef inline uint32_t map_find(FlowMap *m, const FlowKey *k) noexcept nogil:
    return map_find_h(m, k, key_hash(m, k))


cdef inline void entry_rewritten(FlowStore *s, uint32_t ref, FlowKey *out) noexcept nogil:
    """The flow ID a packet matching entry ref is rewritten to."""
    key_reverse(out, &flow_at(s, ref >> 1).key[(ref & 1) ^ 1])


cdef inline uint16_t cksum_update(uint16_t c, uint16_t old_hw, uint16_t new_hw) noexcept nogil:
    """RFC 1624 incremental update of checksum value c (memory-order halfwords)."""
    cdef uint32_t sum = (~c & 0xFFFF) + (~old_hw & 0xFFFF) + new_hw
    sum = (sum & 0xFFFF) + (sum >> 16)
    return <uint16_t> ~(sum + (sum >> 16))


cdef inline int64_t owner_flow_timeout(RWOwner *o, RWFlow *f) noexcept nogil:
    """How long a flow lives past its last packet once it is best effort."""
    if o.kind == OWNER_TCP:
        if (f.tflags & TCP_BOTH_DONE) == TCP_BOTH_DONE:
            return o.tcp_done_timeout
        if (f.tflags & TCP_BOTH_DATA) == TCP_BOTH_DATA:
            return o.tcp_data_timeout
        return o.timeout
    if o.kind == OWNER_UDP and f.tflags > 6:
        return o.udp_streaming_timeout
    return o.timeout


cdef inline void flow_change_expiry(FlowStore *s, RWFlow *f, uint8_t guaranteed, int64_t expiry) noexcept nogil:
    if f.guaranteed == guaranteed and expiry >= f.heap_key:
        f.expiry = expiry           # later: the heap catches up when it looks
    else:
        flow_change_expiry_slow(s, f, guaranteed, expiry)


cdef inline void flow_refresh(FlowStore *s, RWOwner *o, RWFlow *f, int64_t now) noexcept nogil:
    """A packet went through f: guarantee it again, or push its timeout back."""
    if o.guarantee:
        flow_change_expiry(s, f, 1, now + o.guarantee)
    else:
        flow_change_expiry(s, f, 0, now + owner_flow_timeout(o, f))


cdef inline uint32_t store_size(FlowStore *s) noexcept nogil:
    return s.heap_n[0] + s.heap_n[1]


cdef inline int transport_length(Packet *p) noexcept nogil:
    """Bytes from the transport header to the end of the data; -1 if it is not set."""
    if p.transport <= p.network:
        return -1
    return <int> (p.data + p.length) - p.transport


cdef inline void csum_apply(unsigned char *field, int d, uint16_t delta) noexcept nogil:
    """Apply a flow's checksum delta (Click's IPRewriterFlow::update_csum): the
    delta maps direction 0; its complement maps direction 1."""
    if delta:
        store_u16_raw(field, cksum_update(load_u16_raw(field), 0, delta if d else <uint16_t> ~delta))


cdef inline void flow_apply_ip(RWFlow *f, Packet *p, int d, uint32_t annos) noexcept nogil:
    """Rewrite both IP addresses and the IP checksum; set the annotations."""
    cdef unsigned char *iph = p.buffer + p.network
    cdef FlowKey *rev = &f.key[1 - d]
    store_u32_raw(iph + 12, rev.daddr)
    store_u32_raw(iph + 16, rev.saddr)
    if annos & ANNO_DST:
        memcpy(&p.anno[DST_IP_ANNO_OFFSET], &rev.saddr, 4)
    if d and (annos & ANNO_REPLY):
        p.anno[annos >> 2] = f.reply_anno
    csum_apply(iph + 10, d, f.ip_csum_delta)


cdef inline void udp_flow_apply(RWFlow *f, Packet *p, int d, uint32_t annos) noexcept nogil:
    """Rewrite a TCP/UDP/DCCP packet of f going direction d (Click's UDPFlow::apply).

    The caller made sure the transport header has at least 8 bytes.
    """
    cdef unsigned char *iph = p.buffer + p.network
    cdef unsigned char *th
    cdef FlowKey *rev = &f.key[1 - d]
    cdef int tlen
    flow_apply_ip(f, p, d, annos)
    if rd16(iph + 6) & IP_OFFMASK:
        return
    th = p.buffer + p.transport
    store_u16_raw(th, rev.dport)            # TCP ports are where UDP's are
    store_u16_raw(th + 2, rev.sport)
    tlen = <int> (p.data + p.length) - p.transport
    if iph[9] == IP_PROTO_TCP:
        if tlen >= 18:
            csum_apply(th + 16, d, f.udp_csum_delta)
    elif iph[9] == IP_PROTO_UDP:
        if tlen >= 8 and load_u16_raw(th + 6):     # a zero UDP checksum means none
            csum_apply(th + 6, d, f.udp_csum_delta)
    # connection state: > 6 means streaming (3 packets, both directions)
    if d:
        f.tflags |= 1
    if f.tflags < 6:
        f.tflags += 2


cdef class FlowSet:
    """A Python handle on a FlowStore, shared by rewriters that share a capacity."""
    cdef FlowStore s
    cdef list users             # rewriters using it (for cleanup order)


cdef class Pattern:
    """A Python handle on one PatternC: rewriters and IPRewriterPatterns share them."""
    cdef PatternC *c
    cdef readonly object spec           # the PatternSpec it was made from (rewriter_pattern.py)
