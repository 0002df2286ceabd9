# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""ICMPIPEncap: prepends ICMP and IP headers."""
from libc.stdint cimport uint8_t, uint16_t
from libc.string cimport memcpy, memset

from clickpy.elements.ip.ip_header cimport (
    ICMP_HEADER_LEN, IP_HEADER_LEN, IP_PROTO_ICMP, in_cksum, store_u16_raw, wr16)
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet, pkt_data, pkt_push, pkt_set_network_header

from clickpy.elements.icmp.icmp_error import icmp_code_value, icmp_type_arg
from clickpy.runtime.args import Arg, ArgError, IPAddress, Unsigned, Word, ip_packed, ip_unpacked, parse_arguments, unparse_ip
from clickpy.runtime.handlers import HandlerError, ReadWrite

cdef enum:
    ICMP_ECHOREPLY = 0
    ICMP_ECHO = 8
    ICMP_TSTAMP = 13
    ICMP_TSTAMPREPLY = 14
    ICMP_IREQ = 15
    ICMP_IREQREPLY = 16
    ICMP_TSTAMP_LEN = 20        # sizeof(click_icmp_tstamp)


def _identifier(text, element=None):
    v = Unsigned(text, element)
    if v > 0xFFFF:
        raise ArgError("out of range, bound 65535")
    return v


def _address_write(attr):
    def write(e, value):
        try:
            setattr(e, attr, IPAddress(value.strip(), e))
        except ArgError:
            raise HandlerError("syntax error") from None
    return write


cdef class ICMPIPEncap(SimpleElement):
    """=c
    ICMPIPEncap(SRC, DST, TYPE [, CODE, keywords IDENTIFIER])

    =s icmp
    encapsulates packets in ICMP/IP headers

    =d
    Prepends to each packet an ICMP header of type TYPE and code CODE
    (numbers 0-255 or names; CODE defaults to 0) and an IP header from SRC to
    DST (TTL 255), with correct lengths and checksums, sets the destination
    IP annotation to DST and marks the IP header. For types with identifier
    and sequence fields (echo, timestamp, information request and their
    replies) the identifier is IDENTIFIER (default 0) and the sequence
    number, like the IP ID, counts up from 1, one per packet.

    =h src read/write: the SRC address
    =h dst read/write: the DST address

    =e
      InfiniteSource(LIMIT 1) -> ICMPIPEncap(1.0.0.1, 1.0.0.2, echo) -> ...

    =a ICMPPingEncap, ICMPError
    """
    port_count = "1/1"
    processing = "a"
    flags = "A"
    arguments = (
        Arg("SRC", IPAddress, positional=True, mandatory=True),
        Arg("DST", IPAddress, positional=True, mandatory=True),
        Arg("TYPE", icmp_type_arg, positional=True, mandatory=True),
        Arg("CODE", Word, "0", positional=True),
        Arg("IDENTIFIER", _identifier, 0),
    )
    handlers = (
        ReadWrite("src", lambda e: unparse_ip(e.src), _address_write("src"), calm=True),
        ReadWrite("dst", lambda e: unparse_ip(e.dst), _address_write("dst"), calm=True),
    )

    cdef unsigned char _src[4]
    cdef unsigned char _dst[4]
    cdef public uint16_t identifier
    cdef public uint16_t ip_id
    cdef public uint8_t icmp_type
    cdef public uint8_t icmp_code

    def __cinit__(self, *args, **kwargs):
        self.ip_id = 1

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        t = v["type"]
        if t < 0 or t > 255:
            errh.error("invalid TYPE")
            return False
        code = icmp_code_value(t, v["code"], self)
        if code is None or code < 0 or code > 255:
            errh.error("invalid CODE")
            return False
        self.src = v["src"]
        self.dst = v["dst"]
        self.icmp_type = t
        self.icmp_code = code
        self.identifier = v["identifier"]
        return True

    # Addresses are ints (clickpy.runtime.args' IPv4 form).
    @property
    def src(self):
        return ip_unpacked(self._src[:4])

    @src.setter
    def src(self, value):
        cdef bytes packed = ip_packed(value)
        memcpy(self._src, <const char *> packed, 4)

    @property
    def dst(self):
        return ip_unpacked(self._dst[:4])

    @dst.setter
    def dst(self, value):
        cdef bytes packed = ip_packed(value)
        memcpy(self._dst, <const char *> packed, 4)

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef int icmp_len = ICMP_TSTAMP_LEN if (self.icmp_type == ICMP_TSTAMP
                                               or self.icmp_type == ICMP_TSTAMPREPLY) else ICMP_HEADER_LEN
        cdef unsigned char *ip
        cdef unsigned char *icmp
        cdef uint8_t t = self.icmp_type
        p = pkt_push(p, IP_HEADER_LEN + icmp_len)
        if p == NULL:
            self.dropped += 1
            return NULL
        ip = pkt_data(p)
        memset(ip, 0, IP_HEADER_LEN + icmp_len)
        ip[0] = 0x45
        wr16(ip + 2, <uint16_t> p.length)
        wr16(ip + 4, self.ip_id)
        ip[8] = 255
        ip[9] = IP_PROTO_ICMP
        memcpy(ip + 12, self._src, 4)
        memcpy(ip + 16, self._dst, 4)
        icmp = ip + IP_HEADER_LEN
        icmp[0] = t
        icmp[1] = self.icmp_code
        if (t == ICMP_TSTAMP or t == ICMP_TSTAMPREPLY or t == ICMP_ECHO or t == ICMP_ECHOREPLY
                or t == ICMP_IREQ or t == ICMP_IREQREPLY):
            wr16(icmp + 4, self.identifier)
            wr16(icmp + 6, self.ip_id)
        store_u16_raw(ip + 10, in_cksum(ip, IP_HEADER_LEN))
        store_u16_raw(icmp + 2, in_cksum(icmp, p.length - IP_HEADER_LEN))
        memcpy(&p.anno[DST_IP_ANNO_OFFSET], self._dst, 4)
        pkt_set_network_header(p, 0, IP_HEADER_LEN)
        self.ip_id += 2 if self.ip_id == 0xFFFF else 1
        return p
