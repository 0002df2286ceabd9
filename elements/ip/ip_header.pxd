# cython: language_level=3
"""IPv4 header helpers shared by the IP elements (cimport them; all inline).

Field access reads and writes the wire bytes directly (big-endian values
in, host values out), so it works on any alignment. The Internet checksum
works in memory order, as Click's ``click_in_cksum`` does: the 16-bit
value it returns is stored with ``store_u16_raw`` (memory order) and the
incremental update takes the old and new halfwords as they lie in memory.
Because the one's complement sum does not care about byte order, the bytes
written are the same on any host.

A header is "usable" when the packet has a network header annotation and
at least 20 bytes of it lie inside the packet data (``ip_header_ok``);
elements that need an IP header drop packets that fail this instead of
reading outside the packet.
"""
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from clickpy.runtime.packet cimport Packet


cdef extern from "arpa/inet.h" nogil:
    uint16_t htons(uint16_t)
    uint16_t ntohs(uint16_t)
    uint32_t htonl(uint32_t)
    uint32_t ntohl(uint32_t)


cdef enum:
    IP_HEADER_LEN = 20          # sizeof(click_ip), no options
    UDP_HEADER_LEN = 8
    TCP_HEADER_LEN = 20
    ICMP_HEADER_LEN = 8

    # ip_tos
    IP_DSCPMASK = 0xFC
    IP_ECNMASK = 0x03
    IP_ECN_NOT_ECT = 0x00
    IP_ECN_ECT1 = 0x01
    IP_ECN_ECT2 = 0x02
    IP_ECN_CE = 0x03

    # ip_off (host order)
    IP_RF = 0x8000
    IP_DF = 0x4000
    IP_MF = 0x2000
    IP_OFFMASK = 0x1FFF

    IP_PROTO_ICMP = 1
    IP_PROTO_IGMP = 2
    IP_PROTO_IPIP = 4
    IP_PROTO_TCP = 6
    IP_PROTO_UDP = 17
    IP_PROTO_DCCP = 33
    IP_PROTO_GRE = 47
    IP_PROTO_SCTP = 132

    IPOPT_EOL = 0
    IPOPT_NOP = 1
    IPOPT_RR = 7
    IPOPT_TS = 68
    IPOPT_LSRR = 131
    IPOPT_SSRR = 137

    # TCP flags
    TH_FIN = 0x01
    TH_SYN = 0x02
    TH_RST = 0x04
    TH_PUSH = 0x08
    TH_ACK = 0x10
    TH_URG = 0x20

    # IPReassembler's chunk annotation (Click's IPREASSEMBLER_ANNO_OFFSET)
    IPREASSEMBLER_ANNO_OFFSET = 28


# --- raw loads and stores ------------------------------------------------------

cdef inline uint16_t load_u16_raw(const unsigned char *p) noexcept nogil:
    """Two bytes in memory order (no byte swapping)."""
    cdef uint16_t v
    memcpy(&v, p, 2)
    return v

cdef inline void store_u16_raw(unsigned char *p, uint16_t v) noexcept nogil:
    memcpy(p, &v, 2)

cdef inline uint32_t load_u32_raw(const unsigned char *p) noexcept nogil:
    """Four bytes in memory order: an IP address as Click's s_addr holds it."""
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v

cdef inline void store_u32_raw(unsigned char *p, uint32_t v) noexcept nogil:
    memcpy(p, &v, 4)

cdef inline uint16_t rd16(const unsigned char *p) noexcept nogil:
    """Big-endian 16-bit field as a host value."""
    return (<uint16_t> p[0] << 8) | p[1]

cdef inline void wr16(unsigned char *p, uint16_t v) noexcept nogil:
    p[0] = <uint8_t> (v >> 8)
    p[1] = <uint8_t> v

cdef inline uint32_t rd32(const unsigned char *p) noexcept nogil:
    return (<uint32_t> p[0] << 24) | (<uint32_t> p[1] << 16) | (<uint32_t> p[2] << 8) | p[3]

cdef inline void wr32(unsigned char *p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t> (v >> 24)
    p[1] = <uint8_t> (v >> 16)
    p[2] = <uint8_t> (v >> 8)
    p[3] = <uint8_t> v


# --- header fields (h points at the IP header) ---------------------------------

cdef inline unsigned ip_v(const unsigned char *h) noexcept nogil:
    return h[0] >> 4

cdef inline unsigned ip_hl(const unsigned char *h) noexcept nogil:
    """Header length in bytes (the field times four)."""
    return (h[0] & 0x0F) << 2

cdef inline uint8_t ip_tos(const unsigned char *h) noexcept nogil:
    return h[1]

cdef inline uint16_t ip_len(const unsigned char *h) noexcept nogil:
    return rd16(h + 2)

cdef inline uint16_t ip_id(const unsigned char *h) noexcept nogil:
    return rd16(h + 4)

cdef inline uint16_t ip_off(const unsigned char *h) noexcept nogil:
    """Flags and fragment offset, host order (test with IP_DF, IP_MF, IP_OFFMASK)."""
    return rd16(h + 6)

cdef inline uint8_t ip_ttl(const unsigned char *h) noexcept nogil:
    return h[8]

cdef inline uint8_t ip_p(const unsigned char *h) noexcept nogil:
    return h[9]

cdef inline uint32_t ip_src_raw(const unsigned char *h) noexcept nogil:
    return load_u32_raw(h + 12)

cdef inline uint32_t ip_dst_raw(const unsigned char *h) noexcept nogil:
    return load_u32_raw(h + 16)

cdef inline bint ip_is_frag(const unsigned char *h) noexcept nogil:
    return (ip_off(h) & (IP_MF | IP_OFFMASK)) != 0

cdef inline bint ip_first_frag(const unsigned char *h) noexcept nogil:
    return (ip_off(h) & IP_OFFMASK) == 0

cdef inline uint32_t ip_frag_byte_offset(const unsigned char *h) noexcept nogil:
    return <uint32_t> (ip_off(h) & IP_OFFMASK) << 3


# --- packets and their IP header annotation --------------------------------------

cdef inline bint ip_header_ok(Packet *p) noexcept nogil:
    """The network header annotation is set and 20 bytes of it are in the data."""
    return p.network >= 0 and <int32_t> p.network + IP_HEADER_LEN <= <int32_t> (p.data + p.length)

cdef inline int pkt_network_length(Packet *p) noexcept nogil:
    """Bytes from the network header to the end of the data (Click's network_length)."""
    return <int32_t> (p.data + p.length) - p.network

cdef inline int pkt_transport_length(Packet *p) noexcept nogil:
    return <int32_t> (p.data + p.length) - p.transport

cdef inline int pkt_ip_header_length(Packet *p) noexcept nogil:
    return p.transport - p.network


# --- the Internet checksum ---------------------------------------------------------

cdef inline uint32_t in_cksum_add(uint32_t sum, const unsigned char *x, int len) noexcept nogil:
    """Add len bytes to a running one's complement sum (memory-order halfwords).

    Adds 32-bit words into a 64-bit accumulator and folds at the end: the
    same one's complement sum as adding halfwords, with fewer steps.
    """
    cdef uint64_t acc = sum
    cdef uint32_t w32
    cdef uint16_t w
    while len >= 8:
        memcpy(&w32, x, 4)
        acc += w32
        memcpy(&w32, x + 4, 4)
        acc += w32
        x += 8
        len -= 8
    if len >= 4:
        memcpy(&w32, x, 4)
        acc += w32
        x += 4
        len -= 4
    if len >= 2:
        memcpy(&w, x, 2)
        acc += w
        x += 2
        len -= 2
    if len == 1:
        w = 0
        memcpy(&w, x, 1)
        acc += w
    acc = <uint64_t> (<uint32_t> acc) + (acc >> 32)
    acc = <uint64_t> (<uint32_t> acc) + (acc >> 32)
    return <uint32_t> acc

cdef inline uint16_t in_cksum_fold(uint32_t sum) noexcept nogil:
    """Fold a running sum to 16 bits and complement it: the checksum field value."""
    sum = (sum & 0xFFFF) + (sum >> 16)
    sum += sum >> 16
    return <uint16_t> ~sum

cdef inline uint16_t in_cksum(const unsigned char *x, int len) noexcept nogil:
    """The Internet checksum of len bytes (memory order; store with store_u16_raw).

    Over a region that already holds a correct checksum field, this is 0.
    """
    return in_cksum_fold(in_cksum_add(0, x, len))

cdef inline uint16_t in_cksum_pseudohdr_raw(uint32_t csum, uint32_t src, uint32_t dst,
                                            int proto, int packet_len) noexcept nogil:
    """Fold the TCP/UDP pseudo-header into csum (the in_cksum of the segment)."""
    csum = ~csum & 0xFFFF
    csum += (src & 0xFFFF) + (src >> 16)
    csum += (dst & 0xFFFF) + (dst >> 16)
    csum += htons(<uint16_t> packet_len) + htons(<uint16_t> proto)
    csum = (csum & 0xFFFF) + (csum >> 16)
    return <uint16_t> (~(csum + (csum >> 16)) & 0xFFFF)

cdef inline uint16_t in_cksum_pseudohdr(uint32_t csum, const unsigned char *iph, int transport_len) noexcept nogil:
    """As Click's click_in_cksum_pseudohdr: source routes name the real destination."""
    cdef const unsigned char *opt
    cdef const unsigned char *end
    cdef uint32_t daddr
    if ip_hl(iph) > IP_HEADER_LEN:
        opt = iph + IP_HEADER_LEN
        end = iph + ip_hl(iph)
        while opt < end:
            if opt[0] == IPOPT_NOP:
                opt += 1
                continue
            if opt[0] == IPOPT_EOL:
                break
            if opt + 1 >= end or opt[1] < 2 or opt + opt[1] > end:
                break
            if (opt[0] == IPOPT_SSRR or opt[0] == IPOPT_LSRR) and opt[1] >= 7:
                memcpy(&daddr, opt + opt[1] - 4, 4)
                return in_cksum_pseudohdr_raw(csum, ip_src_raw(iph), daddr, ip_p(iph), transport_len)
            opt += opt[1]
    return in_cksum_pseudohdr_raw(csum, ip_src_raw(iph), ip_dst_raw(iph), ip_p(iph), transport_len)

cdef inline void update_in_cksum(unsigned char *csum_field, uint16_t old_hw, uint16_t new_hw) noexcept nogil:
    """Incremental update (RFC 1624) of the checksum at csum_field after one
    memory-order halfword changed from old_hw to new_hw."""
    cdef uint16_t c
    memcpy(&c, csum_field, 2)
    cdef uint32_t sum = (~c & 0xFFFF) + (~old_hw & 0xFFFF) + new_hw
    sum = (sum & 0xFFFF) + (sum >> 16)
    c = <uint16_t> ~(sum + (sum >> 16))
    memcpy(csum_field, &c, 2)

cdef inline void update_in_cksum_u32(unsigned char *csum_field, uint32_t old_word, uint32_t new_word) noexcept nogil:
    """Incremental update after a 4-byte memory-order word (an address) changed.

    Folds each word's halfwords first, as Click's StoreIPAddress does.
    """
    cdef uint32_t old_hw = (old_word & 0xFFFF) + (old_word >> 16)
    cdef uint32_t new_hw = (new_word & 0xFFFF) + (new_word >> 16)
    old_hw += old_hw >> 16
    new_hw += new_hw >> 16
    update_in_cksum(csum_field, <uint16_t> old_hw, <uint16_t> new_hw)

cdef inline void ip_set_checksum(unsigned char *iph, int hlen) noexcept nogil:
    """Recompute the header checksum of a header hlen bytes long."""
    iph[10] = 0
    iph[11] = 0
    store_u16_raw(iph + 10, in_cksum(iph, hlen))


# --- Python-side formatting (slow path) -------------------------------------------

cdef inline str ip_unparse_raw(uint32_t raw):
    """Dotted quad of an address held in memory order (as load_u32_raw gives it)."""
    cdef unsigned char b[4]
    memcpy(b, &raw, 4)
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"

cdef inline str ip_unparse(const unsigned char *a):
    """Dotted quad of the 4 bytes at a."""
    return f"{a[0]}.{a[1]}.{a[2]}.{a[3]}"
