# cython: language_level=3
"""Finishing the TCP/UDP checksums a sender left to offload.

A host or container sending through a veth (or any device with checksum
offload) leaves the TCP or UDP checksum for the hardware to finish: the
field holds only the sum of the pseudo-header (Linux's CHECKSUM_PARTIAL).
Frames read from such a device by a packet socket or AF_XDP still carry it
unfinished, and a router that forwards them as they are has them dropped by
the receiver ("bad checksum"), without a drop of its own to show for it.
The receiving backends finish them before the graph sees the frame:

- AF_PACKET says which frames are partial (TP_STATUS_CSUMNOTREADY);
- AF_XDP says nothing, so a field that holds exactly the pseudo-header's sum
  is taken for partial. Recomputing a checksum that was right all along
  gives the same value, so the guess can only ever fix a frame, not break one.

TCP and UDP over IPv4 (unfragmented) and IPv6 (no extension headers), after
an Ethernet header and at most one VLAN tag: what offload produces.
"""
from libc.stdint cimport uint16_t, uint32_t


cdef inline uint32_t _sum16(const unsigned char *p, uint32_t n) noexcept nogil:
    """The sum of n bytes as big-endian 16-bit words (n < 2^17: no overflow)."""
    cdef uint32_t s = 0, i = 0
    while i + 1 < n:
        s += (<uint32_t> p[i] << 8) | p[i + 1]
        i += 2
    if i < n:
        s += <uint32_t> p[i] << 8
    return s


cdef inline uint32_t _fold(uint32_t s) noexcept nogil:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


cdef inline bint finish_l4_checksum(unsigned char *frame, uint32_t len, bint only_if_partial) noexcept nogil:
    """Finish frame's TCP or UDP checksum if it is partial; True if it was written.

    With only_if_partial the checksum is rewritten only when the field holds
    the pseudo-header's sum (no per-frame status to go by); without, it is
    rewritten whenever the frame is TCP or UDP."""
    cdef uint32_t off = 14, ihl, l4, seg, pseudo, field, have, c
    cdef unsigned char *ip
    cdef unsigned int ethertype, proto
    if len < 14:
        return False
    ethertype = (<unsigned int> frame[12] << 8) | frame[13]
    if ethertype == 0x8100 or ethertype == 0x88A8:
        if len < 18:
            return False
        ethertype = (<unsigned int> frame[16] << 8) | frame[17]
        off = 18
    ip = frame + off
    if ethertype == 0x0800:
        if len < off + 20 or (ip[0] >> 4) != 4:
            return False
        ihl = (ip[0] & 0x0F) * 4
        seg = (<uint32_t> ip[2] << 8) | ip[3]
        if ihl < 20 or seg < ihl or off + seg > len:
            return False
        if ((ip[6] & 0x3F) << 8) | ip[7]:
            return False  # a fragment: offload never leaves one partial
        proto = ip[9]
        seg -= ihl
        l4 = off + ihl
        pseudo = _sum16(ip + 12, 8) + proto + seg
    elif ethertype == 0x86DD:
        if len < off + 40 or (ip[0] >> 4) != 6:
            return False
        seg = (<uint32_t> ip[4] << 8) | ip[5]
        if off + 40 + seg > len:
            return False
        proto = ip[6]
        l4 = off + 40
        pseudo = _sum16(ip + 8, 32) + proto + seg
    else:
        return False
    if proto == 6 and seg >= 20:
        field = l4 + 16
    elif proto == 17 and seg >= 8:
        field = l4 + 6
    else:
        return False
    have = (<uint32_t> frame[field] << 8) | frame[field + 1]
    if only_if_partial:
        c = _fold(pseudo)
        # 0x0000 and 0xFFFF are the same number in ones' complement
        if have != c and not (c == 0xFFFF and have == 0) and not (c == 0 and have == 0xFFFF):
            return False
    frame[field] = 0
    frame[field + 1] = 0
    c = (~_fold(pseudo + _sum16(frame + l4, seg))) & 0xFFFF
    if proto == 17 and c == 0:
        c = 0xFFFF  # UDP's zero means "no checksum"
    frame[field] = <unsigned char> (c >> 8)
    frame[field + 1] = <unsigned char> (c & 0xFF)
    return True
