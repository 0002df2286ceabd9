# cython: language_level=3
"""UDPIPEncap: prepends fixed UDP and IP headers."""
from libc.stdint cimport uint16_t, uint32_t
from libc.string cimport memcpy

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet, pkt_data, pkt_push, pkt_set_network_header
from clickpy.elements.ip.ip_header cimport (IP_HEADER_LEN, IP_PROTO_UDP, UDP_HEADER_LEN, in_cksum,
                                            in_cksum_pseudohdr, ip_set_checksum, store_u16_raw, wr16)

from clickpy.runtime.args import Arg, AnyArg, ArgError, Bool, IPAddress, ip_packed, parse_arguments, unparse_ip
from clickpy.runtime.handlers import Handler, write_keyword
from clickpy.elements.ip.ip_args import IPPort


def _handler(name, argno, keyword, read):
    return Handler(name, read=read, write=write_keyword(keyword, argno))


cdef class UDPIPEncap(SimpleElement):
    """=c
    UDPIPEncap(SRC, SPORT, DST, DPORT [, CHECKSUM])

    =s udp
    encapsulates packets in static UDP/IP headers

    =d
    Prepends to each packet a UDP header (source port SPORT, destination port
    DPORT; numbers or names, PortInfo's included) and an IP header (source
    SRC, destination DST, TTL 250, a per-element IP ID counting from 0), and
    sets the destination address annotation to DST. DST "DST_ANNO" takes each
    packet's destination from its annotation instead. The UDP checksum is
    computed if CHECKSUM is true (the default). Sets the IP header annotation.

    =h src, sport, dst, dport read/write
    Writing reconfigures the element.

    =e
      UDPIPEncap(1.0.0.1, 1234, 2.0.0.2, 1234)

    =a Strip, IPEncap
    """
    arguments = (
        Arg("SRC", IPAddress, None, positional=True, mandatory=True),
        Arg("SPORT", IPPort(17), None, positional=True, mandatory=True),
        Arg("DST", AnyArg, None, positional=True, mandatory=True),
        Arg("DPORT", IPPort(17), None, positional=True, mandatory=True),
        Arg("CHECKSUM", Bool, True, positional=True),
    )
    handlers = (
        _handler("src", 0, "SRC", lambda e: unparse_ip(e.src)),
        _handler("sport", 1, "SPORT", lambda e: e.sport),
        _handler("dst", 2, "DST", lambda e: unparse_ip(e.dst)),
        _handler("dport", 3, "DPORT", lambda e: e.dport),
    )
    live_reconfigure = True

    cdef public object src          # ints (clickpy.runtime.args' IPv4 form); dst 0 with DST_ANNO
    cdef public object dst
    cdef public unsigned sport
    cdef public unsigned dport
    cdef public bint checksum
    cdef public bint use_dst_anno
    cdef public uint32_t id
    cdef unsigned char _saddr[4]
    cdef unsigned char _daddr[4]

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        dst_text = values["dst"].strip()
        if dst_text == "DST_ANNO":
            use_dst_anno, dst = True, 0
        else:
            try:
                use_dst_anno, dst = False, IPAddress(dst_text, self)
            except ArgError:
                return errh.error("bad DST")
        cdef bytes s = ip_packed(values["src"])
        cdef bytes d = ip_packed(dst)
        memcpy(self._saddr, <const char *> s, 4)
        memcpy(self._daddr, <const char *> d, 4)
        self.src, self.dst, self.use_dst_anno = values["src"], dst, use_dst_anno
        self.sport, self.dport, self.checksum = values["sport"], values["dport"], values["checksum"]
        return True

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef unsigned char *ip
        cdef unsigned char *udp
        cdef uint16_t ulen
        cdef uint32_t csum
        p = pkt_push(p, IP_HEADER_LEN + UDP_HEADER_LEN)
        if p == NULL:
            return NULL
        ip = pkt_data(p)
        udp = ip + IP_HEADER_LEN
        ip[0] = 0x45
        ip[1] = 0
        wr16(ip + 2, <uint16_t> p.length)
        wr16(ip + 4, <uint16_t> self.id)
        self.id += 1
        wr16(ip + 6, 0)
        ip[8] = 250
        ip[9] = IP_PROTO_UDP
        memcpy(ip + 12, self._saddr, 4)
        if self.use_dst_anno:
            memcpy(ip + 16, &p.anno[DST_IP_ANNO_OFFSET], 4)
        else:
            memcpy(ip + 16, self._daddr, 4)
            memcpy(&p.anno[DST_IP_ANNO_OFFSET], self._daddr, 4)
        ip_set_checksum(ip, IP_HEADER_LEN)
        pkt_set_network_header(p, 0, IP_HEADER_LEN)
        ulen = <uint16_t> (p.length - IP_HEADER_LEN)
        wr16(udp, <uint16_t> self.sport)
        wr16(udp + 2, <uint16_t> self.dport)
        wr16(udp + 4, ulen)
        wr16(udp + 6, 0)
        if self.checksum:
            csum = in_cksum(udp, ulen)
            store_u16_raw(udp + 6, in_cksum_pseudohdr(csum, ip, ulen))
        return p
