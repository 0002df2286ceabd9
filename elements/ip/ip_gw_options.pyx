# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""IPGWOptions: the IP options every router processes (Record Route, Timestamp)."""
from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.string cimport memcpy

from clickpy.elements.ip.ip_header cimport (
    IP_HEADER_LEN, IPOPT_EOL, IPOPT_NOP, IPOPT_RR, IPOPT_TS, ip_hl, ip_set_checksum,
    pkt_network_length, wr32)
from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport ICMP_PARAMPROB_ANNO_OFFSET, Packet, packet_uniqueify
from clickpy.runtime.scheduler cimport Scheduler

from clickpy.runtime.args import Arg, IPAddress, IPAddressList, ip_packed, parse_arguments
from clickpy.runtime.handlers import Read

cdef enum:
    MAX_ADDRS = 64


cdef class IPGWOptions(BranchElement):
    """=c
    IPGWOptions(MYADDR [, OTHERADDRS])

    =s ip
    processes router IP options

    =d
    Processes the IP options that every router handles, not only the
    destination: Record Route (adds MYADDR) and Timestamp (adds the time in
    milliseconds since midnight UT, with MYADDR when asked, or only for
    MYADDR and OTHERADDRS, a space-separated list of this router's other
    addresses, in the prespecified form). Source routes are left alone.
    MYADDR should be the address of the interface the packet leaves by.
    Recomputes the header checksum when it changed the packet.

    A malformed option sends the packet to output 1 (or drops it, with one
    output) with its ICMP_PARAMPROB annotation pointing at the bad byte, for
    an ICMPError(..., parameterproblem). Packets without a whole IP header
    are dropped.

    =h drops read-only: packets with bad options

    =a ICMPError
    """
    port_count = "1/1-2"
    processing = "a/ah"
    arguments = (
        Arg("MYADDR", IPAddress, positional=True, mandatory=True),
        Arg("OTHERADDRS", IPAddressList, (), positional=True),
    )
    handlers = (Read("drops", lambda e: e.drops),)

    cdef unsigned char _preferred[4]
    cdef uint32_t _addrs[65]        # host order: OTHERADDRS, then MYADDR
    cdef int _naddrs
    cdef public uint32_t drops
    cdef Scheduler _sched

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        if len(v["otheraddrs"]) > MAX_ADDRS:
            errh.error(f"OTHERADDRS: at most {MAX_ADDRS} addresses")
            return False
        cdef bytes packed = ip_packed(v["myaddr"])
        memcpy(self._preferred, <const char *> packed, 4)
        addrs = list(v["otheraddrs"]) + [v["myaddr"]]
        for i, a in enumerate(addrs):
            self._addrs[i] = a
        self._naddrs = len(addrs)
        return True

    def initialize(self, errh):
        self._sched = <Scheduler> self.router.scheduler

    cdef bint mine(self, const unsigned char *a) noexcept:
        cdef uint32_t x = (<uint32_t> a[0] << 24) | (<uint32_t> a[1] << 16) | (<uint32_t> a[2] << 8) | a[3]
        cdef int i
        for i in range(self._naddrs):
            if self._addrs[i] == x:
                return True
        return False

    cdef uint32_t ms_today(self) noexcept:
        cdef int64_t now = self._sched.now() if self._sched is not None else 0
        cdef int64_t sec = now // 1000000000
        return <uint32_t> ((sec % 86400) * 1000 + (now % 1000000000) // 1000000)

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        """p after option processing, for output 0, or for output 1 on a bad
        option; NULL if it was dropped."""
        cdef int nlen, hlen, oi, t, xlen, ptr, oflw, flg
        cdef bint writable = False
        cdef bint overflowed
        cdef unsigned char *oa
        out[0] = 0
        if p.network < 0:
            self.drop(p)
            return NULL
        nlen = pkt_network_length(p)
        if nlen < IP_HEADER_LEN:
            self.drop(p)
            return NULL
        oa = p.buffer + p.network
        hlen = ip_hl(oa)
        if hlen <= IP_HEADER_LEN:
            return p
        if hlen > nlen:
            self.drop(p)
            return NULL
        oi = IP_HEADER_LEN
        while oi < hlen:
            t = oa[oi]
            if t == IPOPT_NOP:
                oi += 1
                continue
            elif t == IPOPT_EOL:
                break
            xlen = oa[oi + 1] if oi + 1 < hlen else 0
            if xlen < 2 or oi + xlen > hlen:
                oi += 1                 # point at the length
                return self.bad_option(p, oi, out)
            elif t != IPOPT_RR and t != IPOPT_TS:
                oi += xlen
                continue
            if not writable:
                p = packet_uniqueify(p)
                if p == NULL:
                    self.dropped += 1
                    return NULL
                oa = p.buffer + p.network
                writable = True
            if t == IPOPT_RR:
                # The pointer counts from 1.
                ptr = (oa[oi + 2] if xlen > 2 else 0) - 1
                if ptr >= 3 and ptr + 4 <= xlen:
                    memcpy(oa + oi + ptr, self._preferred, 4)
                    oa[oi + 2] += 4
                elif ptr != xlen:
                    return self.bad_option(p, oi + 2, out)
            else:
                ptr = (oa[oi + 2] if xlen > 2 else 0) - 1
                oflw = (oa[oi + 3] if xlen > 3 else 0) >> 4
                flg = (oa[oi + 3] if xlen > 3 else 0) & 0xF
                overflowed = False
                if ptr < 4:
                    return self.bad_option(p, oi + 2, out)
                elif flg == 0:
                    if ptr + 4 <= xlen:
                        wr32(oa + oi + ptr, self.ms_today())
                        oa[oi + 2] += 4
                    else:
                        overflowed = True
                elif flg == 1:
                    if ptr + 8 <= xlen:
                        memcpy(oa + oi + ptr, self._preferred, 4)
                        wr32(oa + oi + ptr + 4, self.ms_today())
                        oa[oi + 2] += 8
                    else:
                        overflowed = True
                elif flg == 3 and ptr + 8 <= xlen:
                    if self.mine(oa + oi + ptr):
                        wr32(oa + oi + ptr + 4, self.ms_today())
                        oa[oi + 2] += 8
                else:
                    return self.bad_option(p, oi + 3, out)
                if overflowed:
                    if oflw < 15 and xlen > 3:
                        oa[oi + 3] = ((oflw + 1) << 4) | flg
                    else:
                        return self.bad_option(p, oi + 3, out)
            oi += xlen
        if writable:
            ip_set_checksum(oa, hlen)
        return p

    cdef Packet *bad_option(self, Packet *p, int oi, int *out) noexcept:
        self.drops += 1
        p.anno[ICMP_PARAMPROB_ANNO_OFFSET] = <uint8_t> oi
        out[0] = 1
        return p
