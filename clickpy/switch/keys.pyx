# cython: language_level=3
"""The switch's packet classifier: frame -> (tenant, guest key), in C.

A ``KeyClassifier`` is built once from a Policy (policy.py). Its table holds
every tenant's matches as ``Rule`` structs, in the order the policy tries
them: higher priority first, then as written; the first rule that holds
decides. Unmatched traffic goes to the policy's default tenant or gets
``KEY_NO_TENANT``. (The policy forbids two equal-priority tenants claiming
the same end of a packet, so the first rule that holds is the only
candidate at its priority, except for a packet whose two ends belong to two
tenants.)

Rules are not scanned one by one. Each is filed under one anchor, a term it
cannot hold without: its VLAN, else its MAC, else its IP prefix (length
and masked address); rules with none of these (``proto``/``port`` only, or
``ip 0.0.0.0/0``) are unanchored. A frame looks up its VLAN, its two MACs
and its two addresses at each prefix length the policy uses, in one open
addressing hash table, and checks only the rules found there and the
unanchored ones; each list is in rule order, so the least index that holds
is the first rule of the whole scan. The cost follows the number of
distinct prefix lengths and the rules sharing an anchor, not the number of
tenants: about 20 ns per frame with 300 tenants (bench/test_switch_keys.py).

It returns the tenant index (or a negative KEY_* code) and fills a
``FlowKey``, with no Python object and no allocation:

* a per-tenant tenant: ``tenant`` set, everything else zero: one guest.
* a per-flow tenant: the flow's two ends ordered, lower (address, port)
  first, so both directions of a flow give the same key. TCP and UDP use
  their ports; an ICMP echo or echo reply uses its identifier as the port of
  both ends; an ICMP error (unreachable, source quench, redirect, time
  exceeded, parameter problem) is read as the packet it quotes (addresses,
  protocol and ports, for the tenant's matches too; VLAN and MACs stay the
  frame's), so it reaches the guest of the flow it is about whoever sent
  it (one quoting a later fragment has ports 0); other IPv4 traffic has
  ports 0.
  A non-IPv4 frame a per-flow tenant matches (by VLAN or MAC) has protocol 0
  and zero ends: one guest per tenant for its ARP and the like.
* ``hash``: a 64-bit mix of the key's fields and a per-classifier random
  seed (so flow table chains cannot be aimed at from outside). Look a guest
  up by hash, confirm with ``flow_key_equal``.

Codes: ``KEY_MALFORMED`` for a frame shorter than its Ethernet (and tag)
header, an IPv4 header with a bad version, header length or total length
(beyond the frame; Ethernet padding after it is fine), a TCP, UDP or ICMP
header cut short in a first fragment, or an ICMP error whose quoted header is
cut short; the same frame is malformed whatever the policy. ``KEY_FRAGMENT``
for an IPv4 fragment (first or not) where ports would decide: a per-flow
tenant's key, or a rule with a ``port`` term reached before any other holds.
Fragments of per-tenant traffic matched without ports classify as usual; put
IPReassembler before the classifier to send fragments to per-flow guests.
Checksums are not checked: that is the guest's job.

The host port a frame arrived on is not an input. Every match term reads
both ends of a packet, so a flow's two directions, which arrive on different
host ports of a bump in the wire, get one tenant and one key; a term on the
arrival port would split them. The switch keeps the port itself (to send a
guest's output back out the other side).
"""
import os

from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp, memcpy, memset

from clickpy.runtime.packet cimport Packet, PacketObject
from clickpy.elements.ethernet.ether_header cimport (ETHER_HEADER_LEN, ETHER_VLAN_HEADER_LEN,
                                                     ETHERTYPE_8021Q)
from clickpy.elements.ip.ip_header cimport (ICMP_HEADER_LEN, IP_HEADER_LEN, IP_MF, IP_OFFMASK,
                                            IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP,
                                            TCP_HEADER_LEN, UDP_HEADER_LEN, ip_hl, ip_len, ip_off,
                                            ip_p, ip_v, rd16, rd32)

from clickpy.runtime.args import prefix_mask

cdef enum:
    ETHERTYPE_IPV4 = 0x0800
    ICMP_ECHO_REPLY = 0
    ICMP_UNREACH = 3
    ICMP_SOURCE_QUENCH = 4
    ICMP_REDIRECT = 5
    ICMP_ECHO = 8
    ICMP_TIME_EXCEEDED = 11
    ICMP_PARAMETER_PROBLEM = 12

NO_TENANT = KEY_NO_TENANT
MALFORMED = KEY_MALFORMED
FRAGMENT = KEY_FRAGMENT


cdef struct Headers:            # what the rules and the key read from one frame
    const unsigned char *eth
    uint16_t vlan               # 0: untagged
    bint ip                     # an IPv4 header was found (src, dst, proto valid)
    bint fragment               # ... and it is a fragment
    bint ports                  # sport and dport hold TCP/UDP ports or an ICMP echo id
    uint8_t proto
    uint32_t src, dst
    uint16_t sport, dport


cdef int read_transport(Headers *h, const unsigned char *th, uint32_t tlen, bint quoted) noexcept nogil:
    """Ports (or echo id) of a TCP, UDP or ICMP header; an ICMP error's
    quoted packet replaces the addresses. quoted: th is inside an ICMP error,
    which carries only the first 8 bytes of its packet's transport header."""
    cdef uint8_t kind
    if h.proto == IP_PROTO_TCP or h.proto == IP_PROTO_UDP:
        if tlen < (UDP_HEADER_LEN if quoted or h.proto == IP_PROTO_UDP else TCP_HEADER_LEN):
            return KEY_MALFORMED
        if not quoted and h.proto == IP_PROTO_TCP and (th[12] >> 4) * 4 < TCP_HEADER_LEN:
            return KEY_MALFORMED
        h.sport = rd16(th)
        h.dport = rd16(th + 2)
        h.ports = True
    elif h.proto == IP_PROTO_ICMP:
        if tlen < ICMP_HEADER_LEN:
            return KEY_MALFORMED
        kind = th[0]
        if kind == ICMP_ECHO or kind == ICMP_ECHO_REPLY:
            h.sport = h.dport = rd16(th + 4)
            h.ports = True
        elif not quoted and (kind == ICMP_UNREACH or kind == ICMP_SOURCE_QUENCH or kind == ICMP_REDIRECT
                             or kind == ICMP_TIME_EXCEEDED or kind == ICMP_PARAMETER_PROBLEM):
            return read_quoted(h, th + ICMP_HEADER_LEN, tlen - ICMP_HEADER_LEN)
    return 0


cdef int read_quoted(Headers *h, const unsigned char *ip, uint32_t n) noexcept nogil:
    """The packet an ICMP error quotes: its IP header and 8 bytes after it.
    Its total length may exceed what is quoted, so it is not checked."""
    cdef unsigned hl
    if n < IP_HEADER_LEN or ip_v(ip) != 4:
        return KEY_MALFORMED
    hl = ip_hl(ip)
    if hl < IP_HEADER_LEN or hl + 8 > n:
        return KEY_MALFORMED
    h.src = rd32(ip + 12)
    h.dst = rd32(ip + 16)
    h.proto = ip_p(ip)
    if ip_off(ip) & IP_OFFMASK:     # quotes a later fragment: no ports to read
        return 0
    return read_transport(h, ip + hl, n - hl, True)


cdef int read_headers(Headers *h, const unsigned char *d, uint32_t n) noexcept nogil:
    cdef uint16_t ethertype
    cdef uint32_t off = ETHER_HEADER_LEN, hl, total
    cdef const unsigned char *ip
    memset(h, 0, sizeof(Headers))
    if n < ETHER_HEADER_LEN:
        return KEY_MALFORMED
    h.eth = d
    ethertype = rd16(d + 12)
    if ethertype == ETHERTYPE_8021Q:
        if n < ETHER_VLAN_HEADER_LEN:
            return KEY_MALFORMED
        h.vlan = rd16(d + 14) & 0x0FFF
        ethertype = rd16(d + 16)
        off = ETHER_VLAN_HEADER_LEN
    if ethertype != ETHERTYPE_IPV4:
        return 0
    ip = d + off
    n -= off
    if n < IP_HEADER_LEN or ip_v(ip) != 4:
        return KEY_MALFORMED
    hl = ip_hl(ip)
    total = ip_len(ip)
    if hl < IP_HEADER_LEN or total < hl or total > n:
        return KEY_MALFORMED
    h.ip = True
    h.src = rd32(ip + 12)
    h.dst = rd32(ip + 16)
    h.proto = ip_p(ip)
    h.fragment = (ip_off(ip) & (IP_MF | IP_OFFMASK)) != 0
    if ip_off(ip) & IP_OFFMASK:     # a later fragment: no transport header here
        return 0
    return read_transport(h, ip + hl, total - hl, False)


cdef inline uint64_t mix64(uint64_t x) noexcept nogil:
    """A 64-bit finalizer (every input bit moves every output bit)."""
    x ^= x >> 33
    x *= <uint64_t> 0xFF51AFD7ED558CCD
    x ^= x >> 33
    x *= <uint64_t> 0xC4CEB9FE1A85EC53
    x ^= x >> 33
    return x


cdef inline void hash_key(FlowKey *key, uint64_t seed) noexcept nogil:
    cdef uint64_t h = mix64(seed ^ ((<uint64_t> key.addr_lo << 32) | key.addr_hi))
    key.hash = mix64(h ^ ((<uint64_t> key.port_lo << 48) | (<uint64_t> key.port_hi << 32)
                          | (<uint64_t> key.proto << 24) | (<uint32_t> key.tenant & 0xFFFFFF)))


cdef inline void flow_key(FlowKey *key, const Headers *h) noexcept nogil:
    cdef uint64_t a = (<uint64_t> h.src << 16) | h.sport, b = (<uint64_t> h.dst << 16) | h.dport
    if not h.ip:
        return                  # non-IPv4: the tenant's one protocol-0 key
    if b < a:
        a, b = b, a
    key.addr_lo = <uint32_t> (a >> 16)
    key.port_lo = <uint16_t> a
    key.addr_hi = <uint32_t> (b >> 16)
    key.port_hi = <uint16_t> b
    key.proto = h.proto


cdef inline bint rule_holds(const Rule *r, const Headers *h) noexcept nogil:
    """Every term but 'port' (which classify_frame handles, for fragments)."""
    if r.terms & TERM_VLAN and h.vlan != r.vlan:
        return False
    if r.terms & TERM_MAC and memcmp(h.eth, r.mac, 6) != 0 and memcmp(h.eth + 6, r.mac, 6) != 0:
        return False
    if r.terms & (TERM_IP | TERM_PROTO | TERM_PORT):
        if not h.ip:
            return False
        if r.terms & TERM_IP and (h.src & r.mask) != r.addr and (h.dst & r.mask) != r.addr:
            return False
        if r.terms & TERM_PROTO and h.proto != r.proto:
            return False
        if r.terms & TERM_PORT and h.proto != IP_PROTO_TCP and h.proto != IP_PROTO_UDP:
            return False
    return True


cdef enum:
    NO_DECISION = 0x7FFFFFFF


cdef inline int first_decision(const KeyTable *t, const int32_t *members, uint32_t count,
                               const Headers *h, int best) noexcept nogil:
    """The first rule of an ascending list, before rule best, that decides
    the packet: it holds, or a fragment meets its port term. best if none."""
    cdef uint32_t j
    cdef int i
    cdef const Rule *r
    for j in range(count):
        i = members[j]
        if i >= best:
            break
        r = &t.rules[i]
        if not rule_holds(r, h):
            continue
        if r.terms & TERM_PORT and not h.fragment and h.sport != r.port and h.dport != r.port:
            continue
        return i
    return best


cdef inline int anchored(const KeyTable *t, uint64_t anchor, const Headers *h, int best) noexcept nogil:
    """first_decision over the rules anchored on anchor."""
    cdef uint32_t slot = <uint32_t> mix64(anchor) & t.bucket_mask
    while t.buckets[slot].anchor != 0:
        if t.buckets[slot].anchor == anchor:
            return first_decision(t, t.members + t.buckets[slot].start, t.buckets[slot].count, h, best)
        slot = (slot + 1) & t.bucket_mask
    return best


cdef inline uint64_t mac_anchor(const unsigned char *mac) noexcept nogil:
    return (<uint64_t> ANCHOR_MAC << 56) | (<uint64_t> rd16(mac) << 32) | rd32(mac + 2)


cdef inline uint64_t ip_anchor(uint32_t addr, uint8_t length) noexcept nogil:
    cdef uint32_t mask = (<uint32_t> 0xFFFFFFFF) << (32 - length)     # length 1 to 32
    return (<uint64_t> ANCHOR_IP << 56) | (<uint64_t> length << 32) | (addr & mask)


cdef int classify_frame(const KeyTable *t, const unsigned char *data, uint32_t length,
                        FlowKey *key) noexcept nogil:
    cdef Headers h
    cdef int k, best, tenant = t.default_tenant
    cdef int status = read_headers(&h, data, length)
    cdef const Rule *r
    memset(key, 0, sizeof(FlowKey))
    if status < 0:
        return status
    # The first rule that decides, in the policy's order: the least index
    # among the unanchored rules and those anchored on this frame's VLAN,
    # MACs and addresses (each list ascending, so each scan stops early).
    best = first_decision(t, t.unanchored, t.nunanchored, &h, NO_DECISION)
    if h.vlan and t.anchors & (1 << ANCHOR_VLAN):
        best = anchored(t, (<uint64_t> ANCHOR_VLAN << 56) | h.vlan, &h, best)
    if t.anchors & (1 << ANCHOR_MAC):
        best = anchored(t, mac_anchor(h.eth), &h, best)
        best = anchored(t, mac_anchor(h.eth + 6), &h, best)
    if h.ip and t.anchors & (1 << ANCHOR_IP):
        for k in range(t.nlengths):
            best = anchored(t, ip_anchor(h.src, t.lengths[k]), &h, best)
            if ip_anchor(h.dst, t.lengths[k]) != ip_anchor(h.src, t.lengths[k]):
                best = anchored(t, ip_anchor(h.dst, t.lengths[k]), &h, best)
    if best != NO_DECISION:
        r = &t.rules[best]
        if r.terms & TERM_PORT and h.fragment:
            return KEY_FRAGMENT
        tenant = r.tenant
    if tenant < 0:
        return KEY_NO_TENANT
    key.tenant = tenant
    if t.per_flow[tenant]:
        if h.fragment:
            return KEY_FRAGMENT
        flow_key(key, &h)
    hash_key(key, t.seed)
    return tenant


cdef void free_table(KeyTable *t) noexcept:
    free(t.rules)
    free(t.buckets)
    free(t.members)
    free(t.unanchored)
    free(t.per_flow)
    memset(t, 0, sizeof(KeyTable))


cdef void *array(size_t n, size_t size) except NULL:
    cdef void *p = calloc(max(n, 1), size)
    if p == NULL:
        raise MemoryError()
    return p


cdef build_table(KeyTable *t, list order, list per_flow):
    """Fill t from order, the (tenant index, Match) pairs in the order they are tried."""
    cdef Rule *r
    cdef int i
    cdef uint32_t slot
    cdef uint64_t anchor
    lists, unanchored, lengths = {}, [], set()
    free_table(t)
    t.rules = <Rule *> array(len(order), sizeof(Rule))
    for i, (tenant, m) in enumerate(order):
        r = &t.rules[i]
        r.tenant = tenant
        if m.vlan is not None:
            r.terms |= TERM_VLAN
            r.vlan = m.vlan
        if m.mac is not None:
            r.terms |= TERM_MAC
            memcpy(r.mac, <const unsigned char *> m.mac, 6)
        if m.addr is not None:
            r.terms |= TERM_IP
            r.mask = prefix_mask(m.prefix_len)
            r.addr = m.addr & r.mask
        if m.proto is not None:
            r.terms |= TERM_PROTO
            r.proto = m.proto
        if m.port is not None:
            r.terms |= TERM_PORT
            r.port = m.port
        # One anchor per rule: a term the rule cannot hold without, looked up by value.
        if r.terms & TERM_VLAN:
            anchor = (<uint64_t> ANCHOR_VLAN << 56) | r.vlan
        elif r.terms & TERM_MAC:
            anchor = mac_anchor(r.mac)
        elif r.terms & TERM_IP and m.prefix_len > 0:
            anchor = ip_anchor(r.addr, m.prefix_len)
            lengths.add(m.prefix_len)
        else:
            unanchored.append(i)
            continue
        lists.setdefault(anchor, []).append(i)
        t.anchors |= 1 << (anchor >> 56)
    t.nrules = len(order)
    t.unanchored = <int32_t *> array(len(unanchored), sizeof(int32_t))
    for i, rule in enumerate(unanchored):
        t.unanchored[i] = rule
    t.nunanchored = len(unanchored)
    for i, length in enumerate(sorted(lengths, reverse=True)):
        t.lengths[i] = length
    t.nlengths = len(lengths)
    capacity = 8
    while capacity < 2 * len(lists):
        capacity *= 2
    t.buckets = <Bucket *> array(capacity, sizeof(Bucket))
    t.bucket_mask = capacity - 1
    t.members = <int32_t *> array(len(order), sizeof(int32_t))
    start = 0
    for anchor, rules in lists.items():
        slot = <uint32_t> mix64(anchor) & t.bucket_mask
        while t.buckets[slot].anchor != 0:
            slot = (slot + 1) & t.bucket_mask
        t.buckets[slot].anchor = anchor
        t.buckets[slot].start = start
        t.buckets[slot].count = len(rules)
        for rule in rules:
            t.members[start] = rule
            start += 1
    t.per_flow = <uint8_t *> array(len(per_flow), 1)
    for i, flag in enumerate(per_flow):
        t.per_flow[i] = flag
    t.ntenants = len(per_flow)


cdef uint64_t bench_sink = 0      # where classify_repeat leaves its keys' hashes


cdef tuple python_result(const KeyTable *t, int tenant, const FlowKey *key):
    if tenant < 0:
        return tenant, None
    if not t.per_flow[tenant]:
        return tenant, tenant
    return tenant, (key.proto, (key.addr_lo, key.port_lo), (key.addr_hi, key.port_hi))


cdef class KeyClassifier:
    """The compiled classifier of one Policy.

    ``table`` is what the data path passes to ``classify_frame`` /
    ``classify_packet``; the methods below are the Python view, for tests,
    tools and benchmarks. ``seed`` fixes the key hash (random by default).
    """

    def __cinit__(self):
        memset(&self.table, 0, sizeof(KeyTable))

    def __dealloc__(self):
        free_table(&self.table)

    def __init__(self, policy, seed=None):
        build_table(&self.table, [(i, m) for i in policy.match_order() for m in policy.tenants[i].matches],
                    [t.per_flow for t in policy.tenants])
        self.table.default_tenant = policy.default_index if policy.default_index >= 0 else KEY_NO_TENANT
        self.table.seed = int.from_bytes(os.urandom(8), "little") if seed is None else seed & 0xFFFFFFFFFFFFFFFF
        self.policy = policy

    def classify(self, const unsigned char[:] frame):
        """(tenant, key): key is the tenant index for a per-tenant tenant, and
        (proto, (addr, port), (addr, port)) for a per-flow one, ends ordered;
        (KEY code, None) when the frame has no tenant, is malformed or is a fragment."""
        cdef FlowKey key
        cdef int tenant = classify_frame(&self.table, &frame[0] if frame.shape[0] else NULL,
                                         frame.shape[0], &key)
        return python_result(&self.table, tenant, &key)

    def classify_packet(self, PacketObject packet):
        """classify() through the Packet path the switch's data path uses."""
        cdef FlowKey key
        cdef int tenant = classify_packet(&self.table, packet._live(), &key)
        return python_result(&self.table, tenant, &key)

    def key_hash(self, const unsigned char[:] frame):
        """The 64-bit hash of the frame's key (None when classify gives no key)."""
        cdef FlowKey key
        cdef int tenant = classify_frame(&self.table, &frame[0] if frame.shape[0] else NULL,
                                         frame.shape[0], &key)
        return key.hash if tenant >= 0 else None

    def classify_repeat(self, PacketObject packet, long n):
        """Classify packet n times in C (the classifier alone, for benchmarks);
        returns the last result code."""
        global bench_sink
        cdef Packet *p = packet._live()
        cdef FlowKey key
        cdef int tenant = KEY_NO_TENANT
        cdef long i
        with nogil:
            for i in range(n):
                tenant = classify_packet(&self.table, p, &key)
                bench_sink ^= key.hash      # used, so the compiler keeps every call
        return tenant
