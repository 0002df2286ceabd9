# cython: language_level=3
"""CheckIPHeader: validates IPv4 headers, marks them, drops (or diverts) bad packets."""
cimport cython
from libc.stdint cimport int64_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from clickpy.runtime.packet cimport (DST_IP_ANNO_OFFSET, Packet, pkt_data, pkt_set_network_header,
                                     pkt_take)
from clickpy.elements.ip.header_check cimport HEADER_OK, HeaderCheck
from clickpy.elements.ip.ip_header cimport (IP_HEADER_LEN, in_cksum, ip_dst_raw, ip_hl, ip_len,
                                            ip_src_raw, ip_v, store_u32_raw)

from clickpy.lang.confstring import split_words
from clickpy.runtime.args import IP_ALL_ONES, ArgError, Bool, IPAddressList, IPPrefix, Unsigned, ip_packed, parse_arguments, Arg

cdef enum:      # the reasons check returns: indexes into the class's REASONS
    MINISCULE_PACKET = 0
    BAD_VERSION = 1
    BAD_HLEN = 2
    BAD_IP_LEN = 3
    BAD_CHECKSUM = 4
    BAD_SADDR = 5


def _interfaces(text, element=None):
    """'ADDR/PREFIX ...' -> (broadcast addresses + 0.0.0.0 + 255.255.255.255, the addresses)."""
    bad, good = [], []
    for w in split_words(text):
        addr, mask = IPPrefix(w, element)
        bad.append((addr & mask) | (~mask & IP_ALL_ONES))
        good.append(addr)
    bad += [0, IP_ALL_ONES]
    return bad, good


def _old_offset(text, element=None):
    """Click's old syntax (BADSRC2, OFFSET): the one positional argument left
    must be an integer OFFSET; -1 (reported as too many arguments) if not."""
    try:
        return Unsigned(text)
    except ArgError:
        return -1


cdef uint32_t *_raw_array(list addrs, int *n) except? NULL:
    cdef uint32_t *a
    cdef int i
    cdef bytes b
    n[0] = len(addrs)
    if not addrs:
        return NULL
    a = <uint32_t *> malloc(len(addrs) * sizeof(uint32_t))
    if a == NULL:
        raise MemoryError()
    for i, addr in enumerate(addrs):
        b = ip_packed(addr)
        memcpy(&a[i], <const char *> b, 4)
    return a


@cython.final
cdef class CheckIPHeader(HeaderCheck):
    """=c
    CheckIPHeader([OFFSET, keywords OFFSET, INTERFACES, BADSRC, GOODDST, CHECKSUM, VERBOSE, DETAILS])

    =s ip
    checks IP header

    =d
    Expects IP headers OFFSET bytes into the packets (default 0). Checks that
    the packet is long enough, and that the version, header length, total
    length and (if CHECKSUM, the default) the checksum are valid. Packets
    longer than the IP total length (Ethernet padding) are cut to it. Sets the
    IP header annotation and the destination IP address annotation.

    Source addresses are checked when INTERFACES, BADSRC or GOODDST is given:
    a packet whose source is in BADSRC is bad unless its destination is in
    GOODDST. INTERFACES "18.26.4.9/24 ..." means a BADSRC of the interfaces'
    broadcast addresses plus 0.0.0.0 and 255.255.255.255, and a GOODDST of
    the interface addresses.

    Valid packets leave on output 0; bad ones on output 1 if it exists, else
    they are dropped. The first bad packet prints a message (every one, if
    VERBOSE). DETAILS keeps counts per reason.

    =h drops read-only
    Number of bad packets.

    =h drop_details read-only
    Bad packets per reason (only with DETAILS).

    =a CheckIPHeader2, MarkIPHeader, SetIPChecksum, StripIPHeader
    """
    arguments = (
        Arg("INTERFACES", _interfaces, None),
        Arg("BADSRC", IPAddressList, None),
        Arg("GOODDST", IPAddressList, None),
        Arg("OFFSET", Unsigned, 0),
        Arg("VERBOSE", Bool, False),
        Arg("DETAILS", Bool, False),
        Arg("CHECKSUM", Bool, True),
        Arg("OFFSET", _old_offset, None, positional=True, attr="old_offset", stage=1,
            doc="Click's old syntax: a lone integer after the keywords"),
    )
    REASONS = ("tiny packet", "bad IP version", "bad IP header length", "bad IP length",
               "bad IP checksum", "bad source address")
    FAILURE = "{name}: IP header check failed: {reason}"

    cdef public unsigned offset
    cdef public bint checksum
    cdef uint32_t *_bad_src
    cdef int _nbad_src
    cdef uint32_t *_good_dst
    cdef int _ngood_dst
    cdef public list bad_src
    cdef public list good_dst

    def __cinit__(self):
        self._bad_src = NULL
        self._good_dst = NULL
        self.checksum = True

    def __dealloc__(self):
        free(self._bad_src)
        free(self._good_dst)

    def configure(self, conf, errh):
        cdef int n
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        offset = values["offset"] if values["old_offset"] is None else values["old_offset"]
        if offset < 0:
            return errh.error("too many arguments")
        bad_src, good_dst = [], []
        if values["interfaces"] is not None:
            bad_src, good_dst = values["interfaces"]
        if values["badsrc"] is not None:
            bad_src = values["badsrc"]
        if values["gooddst"] is not None:
            good_dst = values["gooddst"]
        free(self._bad_src)
        free(self._good_dst)
        self._bad_src = self._good_dst = NULL
        self._bad_src = _raw_array(bad_src, &n)
        self._nbad_src = n
        self._good_dst = _raw_array(good_dst, &n)
        self._ngood_dst = n
        self.bad_src = bad_src
        self.good_dst = good_dst
        self.offset = offset
        self.checksum = values["checksum"]
        self.verbose = values["verbose"]
        self.details = values["details"]
        return True

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        return self.verdict(self.check(p), p, out)

    cdef inline int check(self, Packet *p) noexcept:
        cdef int64_t plen = <int64_t> p.length - self.offset
        cdef const unsigned char *ip
        cdef unsigned hlen, length
        cdef uint32_t src, dst
        cdef int i
        if plen < IP_HEADER_LEN:
            return MINISCULE_PACKET
        ip = pkt_data(p) + self.offset
        if ip_v(ip) != 4:
            return BAD_VERSION
        hlen = ip_hl(ip)
        if hlen < IP_HEADER_LEN:
            return BAD_HLEN
        length = ip_len(ip)
        if length > plen or length < hlen:
            return BAD_IP_LEN
        if self.checksum and in_cksum(ip, hlen) != 0:
            return BAD_CHECKSUM
        if self._nbad_src:
            src = ip_src_raw(ip)
            for i in range(self._nbad_src):
                if self._bad_src[i] == src:
                    dst = ip_dst_raw(ip)
                    for i in range(self._ngood_dst):
                        if self._good_dst[i] == dst:
                            break
                    else:
                        return BAD_SADDR
                    break
        pkt_set_network_header(p, self.offset, hlen)
        if plen > length:
            pkt_take(p, <uint32_t> (plen - length))
        store_u32_raw(&p.anno[DST_IP_ANNO_OFFSET], ip_dst_raw(ip))
        return HEADER_OK
