# cython: language_level=3
"""IPFragmenter: splits IP packets larger than the MTU into fragments."""
from libc.stdint cimport uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport (DEFAULT_HEADROOM, Packet, packet_clone, packet_copy_annotations,
                                     packet_kill, packet_make, packet_uniqueify, pkt_data,
                                     pkt_set_network_header, pkt_take)
from clickpy.elements.ip.ip_header cimport (IP_DF, IP_HEADER_LEN, IP_MF, IPOPT_EOL, IPOPT_NOP,
                                            ip_header_ok, ip_hl, ip_len, ip_off, ip_set_checksum,
                                            pkt_ip_header_length, pkt_network_length, wr16,
                                            ip_unparse)

import random
import sys

from clickpy.runtime.args import Arg, Bool, Unsigned
from clickpy.runtime.handlers import Read


cdef int optcopy(const unsigned char *ip_in, unsigned char *ip_out) noexcept nogil:
    """Copy the options marked 'copied' (type bit 0x80) from ip_in's header to
    after ip_out's fixed header (if ip_out is not NULL), padded to 4 bytes;
    returns their length."""
    cdef const unsigned char *o = ip_in + IP_HEADER_LEN
    cdef const unsigned char *end = ip_in + ip_hl(ip_in)
    cdef unsigned char *out = ip_out + IP_HEADER_LEN if ip_out != NULL else NULL
    cdef int pos = 0
    while o < end:
        if o[0] == IPOPT_NOP:
            o += 1
        elif o[0] == IPOPT_EOL or o + 1 == end or o[1] < 2 or o + o[1] > end:
            break
        else:
            if o[0] & 0x80:
                if out != NULL:
                    memcpy(out + pos, o, o[1])
                pos += o[1]
            o += o[1]
    while pos & 3:
        if out != NULL:
            out[pos] = IPOPT_EOL
        pos += 1
    return pos


cdef class IPFragmenter(Element):
    """=c
    IPFragmenter(MTU, [keywords HONOR_DF, VERBOSE, HEADROOM])

    =s ip
    fragments large IP packets

    =d
    Expects IP packets (with the IP header annotation). A packet whose IP part
    is at most MTU bytes leaves on output 0 unchanged. A larger one is split
    into fragments, sent in order on output 0, each with all the original's
    annotations; later fragments carry only the options marked for copying.
    A large packet with the don't-fragment bit set leaves on output 1 (or is
    dropped), unless HONOR_DF is false: then the bit is cleared, the IP ID
    replaced by a random one and the packet fragmented. The first five DF
    packets print a message (every one with VERBOSE). HEADROOM sets the
    headroom of new fragments. Malformed packets are dropped.

    =h drops read-only
    Packets sent to output 1.

    =h fragments read-only
    Fragments made.

    =e
      ... -> fr :: IPFragmenter(1024) -> Queue(20) -> ...
      fr[1] -> ICMPError(18.26.4.24, unreachable, needfrag) -> ...

    =a ICMPError, CheckLength, IPReassembler
    """
    port_count = "1/1-2"
    processing = "h"
    arguments = (
        Arg("MTU", Unsigned, None, positional=True, mandatory=True),
        Arg("HONOR_DF", Bool, True, positional=True),
        Arg("VERBOSE", Bool, False, positional=True),
        Arg("HEADROOM", Unsigned, DEFAULT_HEADROOM),
    )
    handlers = (
        Read("drops", lambda e: e.drops),
        Read("fragments", lambda e: e.fragments),
    )

    cdef public unsigned mtu
    cdef public bint honor_df
    cdef public bint verbose
    cdef public unsigned headroom
    cdef public uint64_t drops
    cdef public uint64_t fragments
    cdef object _random

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        if self.mtu < 8:
            return errh.error("MTU must be at least 8")
        self._random = random.Random()
        return True

    cdef void df_drop(self, Packet *p, const unsigned char *ip) noexcept:
        if self.verbose or self.drops < 5:
            try:
                sys.stderr.write(f"IPFragmenter({self.mtu}) DF {ip_unparse(ip + 12)} "
                                 f"{ip_unparse(ip + 16)} len={p.length}\n")
            except BaseException:
                pass
        self.drops += 1
        self.checked_output_push(1, p)

    cdef void fragment(self, Packet *p) noexcept:
        cdef unsigned char *ip = p.buffer + p.network
        cdef int hlen = ip_hl(ip)
        cdef int first_dlen = (<int> self.mtu - hlen) & ~7
        cdef int in_dlen = <int> ip_len(ip) - hlen
        cdef int out_hlen, out_dlen, off
        cdef bint had_mf
        cdef Packet *first
        cdef Packet *q
        cdef unsigned char *qip
        if hlen < IP_HEADER_LEN or pkt_ip_header_length(p) != hlen or in_dlen < 0 \
                or ip_len(ip) > pkt_network_length(p):
            self.drop(p)          # not a sound IP packet: cannot fragment it
            return
        if ((ip_off(ip) & IP_DF) and self.honor_df) or first_dlen < 8:
            self.df_drop(p, ip)
            return
        p = packet_uniqueify(p)
        if p == NULL:
            return
        ip = p.buffer + p.network
        if ip_off(ip) & IP_DF:
            # The sender's ID may not be unique when it set DF: pick another.
            wr16(ip + 4, <uint16_t> self._random.getrandbits(16))
            wr16(ip + 6, ip_off(ip) & ~IP_DF)
        had_mf = (ip_off(ip) & IP_MF) != 0
        wr16(ip + 2, <uint16_t> (hlen + first_dlen))
        wr16(ip + 6, ip_off(ip) | IP_MF)
        ip_set_checksum(ip, hlen)
        first = packet_clone(p)
        if first != NULL:
            pkt_take(first, <uint32_t> (pkt_network_length(first) - hlen - first_dlen))
            self.output_push(0, first)
            self.fragments += 1

        out_hlen = IP_HEADER_LEN + optcopy(ip, NULL)
        off = first_dlen
        while off < in_dlen:
            out_dlen = (<int> self.mtu - out_hlen) & ~7
            if out_dlen + off > in_dlen:
                out_dlen = in_dlen - off
            q = packet_make(self.headroom, NULL, out_hlen + out_dlen, 0)
            if q != NULL:
                pkt_set_network_header(q, 0, out_hlen)
                qip = pkt_data(q)
                memcpy(qip, ip, IP_HEADER_LEN)
                optcopy(ip, qip)
                memcpy(qip + out_hlen, ip + hlen + off, out_dlen)
                qip[0] = (qip[0] & 0xF0) | (out_hlen >> 2)
                wr16(qip + 6, <uint16_t> (ip_off(ip) + (off >> 3)))
                if out_dlen + off >= in_dlen and not had_mf:
                    wr16(qip + 6, ip_off(qip) & ~IP_MF)
                wr16(qip + 2, <uint16_t> (out_hlen + out_dlen))
                ip_set_checksum(qip, out_hlen)
                packet_copy_annotations(q, p)
                self.output_push(0, q)
                self.fragments += 1
            off += out_dlen
        packet_kill(p)

    cdef void push(self, int port, Packet *p) noexcept:
        if not ip_header_ok(p):
            self.drop(p)
        elif pkt_network_length(p) <= <int> self.mtu:
            self.output_push(0, p)
        else:
            self.fragment(p)
