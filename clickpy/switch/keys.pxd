# cython: language_level=3
"""Packet keys for the switch: which tenant a frame belongs to and which guest
key (tenant, or tenant and flow) it carries. See keys.pyx for the rules.

From Cython::

    from clickpy.switch.keys cimport FlowKey, KeyClassifier, classify_packet, flow_key_equal
    cdef FlowKey key
    cdef int tenant = classify_packet(&classifier.table, p, &key)
    # tenant >= 0: key is filled (key.hash to find its guest, flow_key_equal to confirm)
    # KEY_NO_TENANT, KEY_MALFORMED, KEY_FRAGMENT: count and drop (or reassemble)
"""
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t

from clickpy.runtime.packet cimport Packet, pkt_data

cdef enum:
    KEY_NO_TENANT = -1      # no tenant matches and the policy's default is drop
    KEY_MALFORMED = -2      # a header the frame claims is cut short or bad
    KEY_FRAGMENT = -3       # an IPv4 fragment where ports decide: reassemble it first

# Match terms a rule holds (Rule.terms bits).
cdef enum:
    TERM_VLAN = 1
    TERM_MAC = 2
    TERM_IP = 4
    TERM_PROTO = 8
    TERM_PORT = 16

cdef struct FlowKey:
    uint64_t hash           # of the fields below, seeded per classifier
    int32_t tenant
    uint32_t addr_lo        # the lower (address, port) end of the flow; host byte order
    uint32_t addr_hi        # the higher end
    uint16_t port_lo        # TCP/UDP port; ICMP echo id (both ends); 0 otherwise
    uint16_t port_hi
    uint8_t proto           # IP protocol; 0 for a non-IPv4 frame and for per-tenant keys

cdef struct Rule:           # one match of one tenant, in the order they are tried
    uint32_t addr           # TERM_IP: prefix address and mask, host byte order
    uint32_t mask
    uint16_t vlan           # TERM_VLAN
    uint16_t port           # TERM_PORT
    uint8_t mac[6]          # TERM_MAC
    uint8_t proto           # TERM_PROTO
    uint8_t terms           # TERM_* bits
    int32_t tenant

cdef struct Bucket:         # rules anchored on one VLAN, MAC or IP prefix
    uint64_t anchor         # ANCHOR_* kind in the top byte, the value below; 0: empty slot
    uint32_t start          # their indexes: KeyTable.members[start:start + count], ascending
    uint32_t count

cdef enum:                  # Bucket.anchor kinds
    ANCHOR_VLAN = 1
    ANCHOR_MAC = 2
    ANCHOR_IP = 3           # (prefix length << 32) | prefix address

cdef struct KeyTable:
    Rule *rules             # in the order they are tried
    int nrules
    Bucket *buckets         # open addressing, a power of two of slots
    uint32_t bucket_mask
    int32_t *members        # rule indexes, grouped by bucket
    int32_t *unanchored     # rules with no VLAN, MAC or (non-zero length) IP term, ascending
    int nunanchored
    uint8_t anchors         # which ANCHOR_* kinds occur (bit 1 << kind)
    uint8_t nlengths        # distinct prefix lengths of IP anchors, longest first
    uint8_t lengths[33]
    uint8_t *per_flow       # per tenant index: 1 if one guest per flow
    int ntenants
    int32_t default_tenant  # tenant for unmatched traffic, or KEY_NO_TENANT
    uint64_t seed

cdef int classify_frame(const KeyTable *t, const unsigned char *data, uint32_t length,
                        FlowKey *key) noexcept nogil

cdef inline int classify_packet(const KeyTable *t, Packet *p, FlowKey *key) noexcept nogil:
    """A packet whose data starts at its Ethernet header."""
    return classify_frame(t, pkt_data(p), p.length, key)

cdef inline bint flow_key_equal(const FlowKey *a, const FlowKey *b) noexcept nogil:
    return (a.tenant == b.tenant and a.addr_lo == b.addr_lo and a.addr_hi == b.addr_hi
            and a.port_lo == b.port_lo and a.port_hi == b.port_hi and a.proto == b.proto)

cdef class KeyClassifier:
    cdef KeyTable table
    cdef readonly object policy
