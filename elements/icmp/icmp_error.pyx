# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""ICMPError: answers an IP packet with an ICMP error message."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy, memset

from clickpy.elements.ip.ip_header cimport (
    ICMP_HEADER_LEN, IP_HEADER_LEN, IP_OFFMASK, IP_PROTO_ICMP, IPOPT_EOL, IPOPT_LSRR, IPOPT_NOP,
    IPOPT_SSRR, in_cksum, ip_hl, ip_off, ip_p, pkt_network_length, rd32, store_u16_raw, wr16, wr32)
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport (
    DEFAULT_HEADROOM, DST_IP_ANNO_OFFSET, FIX_IP_SRC_ANNO_OFFSET, ICMP_PARAMPROB_ANNO_OFFSET,
    PACKET_BROADCAST, PACKET_MULTICAST, Packet, packet_kill, packet_make, pkt_data,
    pkt_set_network_header, pkt_take)
from clickpy.runtime.scheduler cimport Scheduler

from clickpy.runtime.names import ICMP_CODES, ICMP_TYPES
from clickpy.lang.confstring import split_words
from clickpy.runtime.args import (
    Arg, ArgError, Bool, Int, IPAddress, IPAddressList, String, Unsigned, Word, ip_packed, ip_unpacked,
    parse_arguments, unparse_ip,
)
from clickpy.runtime.handlers import HandlerError, ReadWrite

cdef enum:
    ICMP_ECHOREPLY = 0
    ICMP_UNREACH = 3
    ICMP_SOURCEQUENCH = 4
    ICMP_REDIRECT = 5
    ICMP_ECHO = 8
    ICMP_TIMXCEED = 11
    ICMP_PARAMPROB = 12
    ICMP_UNREACH_NEEDFRAG = 4
    ICMP_PARAMPROB_ERRATPTR = 0
    MAX_ADDRS = 64

# The IP ID of generated errors counts up across every ICMPError, as Click's.
cdef uint16_t _next_id = 1


def icmp_type_arg(text, element=None):
    """An ICMP type: a name (unreachable, timeexceeded, ...) or an integer."""
    t = String(text, element)
    v = ICMP_TYPES.get(t)
    if v is None and element is not None and getattr(element, "router", None) is not None:
        try:
            v = element.router.address_info(t, "icmptype", element)
        except Exception:
            v = None
    if v is None:
        v = Int(t)
    return int(v)


def icmp_code_value(int icmp_type, str word, element=None):
    """An ICMP code for icmp_type: a name (net, host, port, needfrag, ...) or an integer; None if neither."""
    v = ICMP_CODES.get(icmp_type, {}).get(word)
    if v is not None:
        return v
    try:
        return Int(word)
    except ArgError:
        return None


cdef inline bint is_error_type(int t) noexcept nogil:
    return (t == ICMP_UNREACH or t == ICMP_SOURCEQUENCH or t == ICMP_REDIRECT
            or t == ICMP_TIMXCEED or t == ICMP_PARAMPROB)


cdef int find_source_route(const unsigned char *iph, int hlen) noexcept nogil:
    """Offset of a usable loose or strict source route option in the header, or -1."""
    cdef int oi = IP_HEADER_LEN
    cdef int t, xlen
    while oi < hlen:
        t = iph[oi]
        if t == IPOPT_NOP:
            oi += 1
            continue
        if t == IPOPT_EOL or oi + 1 >= hlen:
            return -1
        xlen = iph[oi + 1]
        if xlen < 2 or oi + xlen > hlen:
            return -1
        if ((t == IPOPT_LSRR or t == IPOPT_SSRR) and xlen >= 3 and iph[oi + 2] >= 4
                and iph[oi + 2] % 4 == 0 and iph[oi + 2] <= xlen + 1):
            return oi
        oi += xlen
    return -1


def _src_write(e, value):
    try:
        e.src = IPAddress(value.strip(), e)
    except ArgError:
        raise HandlerError("expected IP address") from None


def _unsigned_write(attr):
    def write(e, value):
        try:
            setattr(e, attr, Unsigned(value.strip()))
        except ArgError:
            raise HandlerError("expected unsigned integer") from None
    return write


cdef class ICMPError(SimpleElement):
    """=c
    ICMPError(SRC, TYPE [, CODE, BADADDRS, keywords MTU, PMTU, SET_FIX_ANNO])

    =s icmp
    generates ICMP error packets

    =d
    Turns each input IP packet into an ICMP error of type TYPE and code CODE
    (numbers 0-255 or names: unreachable, sourcequench, redirect,
    timeexceeded, parameterproblem; net, host, protocol, port, needfrag,
    transit, reassembly, erroratptr, ...; CODE defaults to 0) from SRC to
    the packet's source, quoting the packet's IP header and as much of its
    payload as fits in MTU bytes (default 576). The original packet is
    dropped. The result has its destination IP annotation set, and its
    FIX_IP_SRC annotation unless SET_FIX_ANNO is false.

    As RFC 1812 asks, no error answers an ICMP error, a packet to a
    broadcast or multicast address (or one in BADADDRS, a list of
    addresses), a link-level broadcast or multicast, a packet from an
    invalid source (net 0, 127, class E, broadcast), or a fragment other
    than the first. Parameter problems (code erroratptr) point at the byte
    named by the ICMP_PARAMPROB annotation, which IPGWOptions sets;
    redirects carry the destination IP annotation as gateway; needfrag
    errors carry PMTU. A packet with a source route gets the route back,
    reversed, in its error (no redirects answer source-routed packets).

    ICMPError sends every error it may; follow it with a RatedSplitter to
    limit their rate.

    =h src read/write: the SRC address
    =h mtu read/write: the MTU
    =h pmtu read/write: the PMTU

    =e
      dt :: DecIPTTL;
      dt[1] -> ICMPError(18.26.4.24, timeexceeded) -> m :: RatedSplitter(10) -> ...;
      m[1] -> Discard;

    =a DecIPTTL, FixIPSrc, IPGWOptions
    """
    port_count = "1/1"
    processing = "a"
    live_reconfigure = True
    arguments = (
        Arg("SRC", IPAddress, positional=True, mandatory=True),
        Arg("TYPE", icmp_type_arg, positional=True, mandatory=True),
        Arg("CODE", Word, "0", positional=True),
        Arg("BADADDRS", IPAddressList, (), positional=True),
        Arg("MTU", Unsigned, 576),
        Arg("PMTU", Unsigned, 0),
        Arg("SET_FIX_ANNO", Bool, True),
    )
    handlers = (
        ReadWrite("src", lambda e: unparse_ip(e.src), _src_write),
        ReadWrite("mtu", lambda e: e.mtu, _unsigned_write("mtu")),
        ReadWrite("pmtu", lambda e: e.pmtu, _unsigned_write("pmtu")),
    )

    cdef unsigned char _src[4]      # network order
    cdef public int type
    cdef public int code
    cdef uint32_t _bad[64]          # host order
    cdef int _nbad
    cdef public unsigned int mtu
    cdef public unsigned int pmtu
    cdef public bint use_fix_anno
    cdef Scheduler _sched

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        t = v["type"]
        if t < 0 or t > 255:
            errh.error("ICMP type must be between 0 and 255")
            return False
        if not is_error_type(t):
            errh.error(f"ICMP type {t} is not an error type")
            return False
        code = icmp_code_value(t, v["code"], self)
        if code is None or code < 0 or code > 255:
            errh.error("argument 2 takes ICMP code (integer between 0 and 255)")
            return False
        if len(v["badaddrs"]) > MAX_ADDRS:
            errh.error(f"BADADDRS: at most {MAX_ADDRS} addresses")
            return False
        self.src = v["src"]
        self.type = t
        self.code = code
        self._nbad = len(v["badaddrs"])
        for i, a in enumerate(v["badaddrs"]):
            self._bad[i] = a
        self.mtu = v["mtu"]
        self.pmtu = v["pmtu"]
        self.use_fix_anno = v["set_fix_anno"]
        return True

    def initialize(self, errh):
        self._sched = <Scheduler> self.router.scheduler

    @property
    def src(self):
        """The SRC address as an int (clickpy.runtime.args' IPv4 form)."""
        return ip_unpacked(self._src[:4])

    @src.setter
    def src(self, value):
        cdef bytes packed = ip_packed(value)
        memcpy(self._src, <const char *> packed, 4)

    @property
    def badaddrs(self):
        return [self._bad[i] for i in range(self._nbad)]

    cdef bint unicast(self, uint32_t a) noexcept:
        cdef int i
        if a == 0xFFFFFFFF or (a & 0xF0000000) == 0xE0000000:
            return False
        for i in range(self._nbad):
            if self._bad[i] == a:
                return False
        return True

    cdef bint valid_source(self, uint32_t a) noexcept:
        cdef uint32_t net = a >> 24
        return self.unicast(a) and net != 0 and net != 127 and (net & 0xF0) != 0xF0

    cdef Packet *simple_action(self, Packet *p) noexcept:
        global _next_id
        cdef const unsigned char *iph
        cdef const unsigned char *sr = NULL
        cdef unsigned char *nip
        cdef unsigned char *o
        cdef unsigned char *icp
        cdef const unsigned char *oo
        cdef int nlen, hlen, sr_off, olen, nhl, xlen
        cdef unsigned int anno
        cdef Packet *q
        if p.network < 0:
            packet_kill(p)
            return NULL
        nlen = pkt_network_length(p)
        iph = p.buffer + p.network
        if nlen < IP_HEADER_LEN:
            self.drop(p)                # not an IP header
            return NULL
        hlen = ip_hl(iph)
        if hlen < IP_HEADER_LEN or hlen > nlen:
            self.drop(p)
            return NULL
        # RFC 1812 4.3.2.7: when not to answer.
        if ip_p(iph) == IP_PROTO_ICMP and (hlen + 4 > nlen or is_error_type(iph[hlen])):
            packet_kill(p)
            return NULL
        if (not self.unicast(rd32(iph + 16)) or p.packet_type == PACKET_BROADCAST
                or p.packet_type == PACKET_MULTICAST or not self.valid_source(rd32(iph + 12))
                or (ip_off(iph) & IP_OFFMASK) != 0):
            packet_kill(p)
            return NULL
        sr_off = find_source_route(iph, hlen)
        if sr_off >= 0:
            if self.type == ICMP_REDIRECT:          # 5.2.7.2: never for source-routed packets
                packet_kill(p)
                return NULL
            anno = p.anno[ICMP_PARAMPROB_ANNO_OFFSET]
            # 4.3.2.6: a problem inside the source route itself drops the route.
            if (self.type == ICMP_PARAMPROB and self.code == ICMP_PARAMPROB_ERRATPTR
                    and <unsigned> sr_off <= anno < <unsigned> (sr_off + iph[sr_off + 1])):
                sr_off = -1
            else:
                sr = iph + sr_off
        nhl = IP_HEADER_LEN
        if sr != NULL:
            olen = sr[2] - 1
            nhl = (IP_HEADER_LEN + olen + 3) & ~3
        if self.mtu < <unsigned> (nhl + ICMP_HEADER_LEN) or self.mtu > 0xFFFF:
            self.drop(p)                # no room for the headers
            return NULL
        q = packet_make(DEFAULT_HEADROOM, NULL, self.mtu, 0)
        if q == NULL:
            self.drop(p)
            return NULL
        nip = pkt_data(q)
        memset(nip, 0, nhl + ICMP_HEADER_LEN)
        nip[0] = 0x40 | (nhl >> 2)
        wr16(nip + 4, _next_id)
        _next_id += 1
        nip[8] = 200
        nip[9] = IP_PROTO_ICMP
        memcpy(nip + 12, self._src, 4)
        memcpy(nip + 16, iph + 12, 4)
        if sr != NULL:
            # The route back: the hops already visited, last first.
            o = nip + IP_HEADER_LEN
            o[0] = sr[0]
            o[1] = olen
            o[2] = 4
            o[olen] = IPOPT_EOL
            o += 3
            oo = sr + sr[2] - 5
            while oo >= sr + 3:
                memcpy(o, oo, 4)
                oo -= 4
                o += 4
        pkt_set_network_header(q, 0, nhl)
        icp = nip + nhl
        icp[0] = <uint8_t> self.type
        icp[1] = <uint8_t> self.code
        if self.type == ICMP_PARAMPROB and self.code == ICMP_PARAMPROB_ERRATPTR:
            icp[4] = p.anno[ICMP_PARAMPROB_ANNO_OFFSET]
        if self.type == ICMP_REDIRECT:
            memcpy(icp + 4, &p.anno[DST_IP_ANNO_OFFSET], 4)
        if self.type == ICMP_UNREACH and self.code == ICMP_UNREACH_NEEDFRAG:
            wr16(icp + 6, <uint16_t> self.pmtu)
        # Quote as much of the packet as fits.
        xlen = <int> self.mtu - nhl - ICMP_HEADER_LEN
        if xlen > nlen:
            pkt_take(q, xlen - nlen)
            xlen = nlen
        memcpy(icp + ICMP_HEADER_LEN, iph, xlen)
        store_u16_raw(icp + 2, in_cksum(icp, ICMP_HEADER_LEN + xlen))
        wr16(nip + 2, <uint16_t> q.length)
        store_u16_raw(nip + 10, in_cksum(nip, nhl))
        memcpy(&q.anno[DST_IP_ANNO_OFFSET], nip + 16, 4)
        if self.use_fix_anno:
            q.anno[FIX_IP_SRC_ANNO_OFFSET] = 1
        q.timestamp = self._sched.now() if self._sched is not None else 0
        packet_kill(p)
        return q
