# cython: language_level=3
"""IPEncap: prepends a fixed IP header."""
from libc.stdint cimport uint16_t, uint32_t
from libc.string cimport memcpy

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet, pkt_data, pkt_push, pkt_set_network_header
from clickpy.elements.ip.ip_header cimport (IP_DF, IP_ECN_CE, IP_ECN_ECT1, IP_ECN_ECT2, IP_HEADER_LEN,
                                            in_cksum, load_u16_raw, store_u16_raw, update_in_cksum,
                                            wr16)

from clickpy.runtime.args import Arg, AnyArg, ArgError, Bool, Int, IPAddress, ip_packed, parse_arguments, unparse_ip
from clickpy.runtime.handlers import Handler, write_keyword
from clickpy.elements.ip.ip_args import Byte, IPProto


def _ect(text, element=None):
    from clickpy.runtime.args import Keyword
    return Keyword(text, element)


cdef class IPEncap(SimpleElement):
    """=c
    IPEncap(PROTO, SRC, DST, keywords TOS, TTL, DSCP, ECT, CE, DF)

    =s ip
    encapsulates packets in static IP header

    =d
    Prepends to each packet an IP header with protocol PROTO (a number or a
    name such as udp or ipip), source SRC and destination DST, and sets the
    destination address annotation to DST. DST "DST_ANNO" takes each packet's
    destination from its annotation instead. The length, a per-element IP ID
    (counting from 0) and the checksum are filled in; the IP header
    annotation is set.

    TTL is the time-to-live (default 250), TOS the TOS byte (default 0), or
    DSCP (0-63) plus ECT (true/1 for ECT(1), 2 for ECT(2)) or CE (true for
    Congestion Experienced); TOS excludes the others. DF sets the
    don't-fragment bit.

    =h src read/write
    =h dst read/write
    Writing reconfigures the element.

    =e
      IPEncap(ipip, 18.26.4.24, 140.247.60.147)

    =a UDPIPEncap, StripIPHeader
    """
    arguments = (
        Arg("PROTO", IPProto, None, positional=True, mandatory=True),
        Arg("SRC", IPAddress, None, positional=True, mandatory=True),
        Arg("DST", AnyArg, None, positional=True, mandatory=True),
        Arg("TOS", Int, -1),
        Arg("TTL", Byte, 250),
        Arg("DSCP", Int, -1),
        Arg("ECT", _ect, None),
        Arg("CE", Bool, False),
        Arg("DF", Bool, False),
    )
    handlers = (
        Handler("src", read=lambda e: unparse_ip(e.src), write=write_keyword("SRC", 1), calm=True),
        Handler("dst", read=lambda e: "DST_ANNO" if e.use_dst_anno else unparse_ip(e.dst),
                write=write_keyword("DST", 2), calm=True),
    )
    live_reconfigure = True

    cdef unsigned char _iph[20]
    cdef public bint use_dst_anno
    cdef public object src          # ints (clickpy.runtime.args' IPv4 form); dst 0 with DST_ANNO
    cdef public object dst
    cdef public uint32_t id

    def configure(self, conf, errh):
        cdef unsigned char h[20]
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        dst_text = values["dst"].strip()
        use_dst_anno = dst_text == "DST_ANNO"
        if use_dst_anno:
            dst = 0
        else:
            try:
                dst = IPAddress(dst_text, self)
            except ArgError:
                return errh.error("DST argument should be IP address or 'DST_ANNO'")
        ect = 0
        if values["ect"] is not None:
            t = values["ect"]
            try:
                ect = 1 if Bool(t) else 0
            except ArgError:
                if t == "2":
                    ect = 2
                else:
                    return errh.error(f"bad ECT value '{t}'")
        tos, dscp, ce = values["tos"], values["dscp"], values["ce"]
        if tos >= 0 and dscp >= 0:
            return errh.error("cannot set both TOS and DSCP")
        if tos >= 0 and (ect or ce):
            return errh.error("cannot set both TOS and ECN bits")
        if tos >= 256 or tos < -1:
            return errh.error("TOS too large; max 255")
        if dscp > 63 or dscp < -1:
            return errh.error("DSCP too large; max 63")
        if ect and ce:
            return errh.error("can set at most one ECN option")
        tosv = 0
        if tos >= 0:
            tosv = tos
        elif dscp >= 0:
            tosv = dscp << 2
        if ect:
            tosv |= IP_ECN_ECT1 if ect == 1 else IP_ECN_ECT2
        if ce:
            tosv |= IP_ECN_CE
        cdef bytes s = ip_packed(values["src"])
        cdef bytes d = ip_packed(dst)
        h[0] = 0x45
        h[1] = tosv
        wr16(h + 2, 0)
        wr16(h + 4, 0)
        wr16(h + 6, IP_DF if values["df"] else 0)
        h[8] = values["ttl"]
        h[9] = values["proto"]
        wr16(h + 10, 0)
        memcpy(h + 12, <const char *> s, 4)
        memcpy(h + 16, <const char *> d, 4)
        # Checksum of the template; length, ID (and DST_ANNO's address) are
        # added to it incrementally per packet.
        store_u16_raw(h + 10, in_cksum(h, 20))
        memcpy(self._iph, h, 20)
        self.use_dst_anno = use_dst_anno
        self.src = values["src"]
        self.dst = dst
        return True

    def initialize(self, errh):
        self.id = 0

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef unsigned char *ip
        p = pkt_push(p, IP_HEADER_LEN)
        if p == NULL:
            return NULL
        ip = pkt_data(p)
        memcpy(ip, self._iph, IP_HEADER_LEN)
        if self.use_dst_anno:
            memcpy(ip + 16, &p.anno[DST_IP_ANNO_OFFSET], 4)
            update_in_cksum(ip + 10, 0, load_u16_raw(ip + 16))
            update_in_cksum(ip + 10, 0, load_u16_raw(ip + 18))
        else:
            memcpy(&p.anno[DST_IP_ANNO_OFFSET], ip + 16, 4)
        wr16(ip + 2, <uint16_t> p.length)
        wr16(ip + 4, <uint16_t> self.id)
        self.id += 1
        update_in_cksum(ip + 10, 0, load_u16_raw(ip + 2))
        update_in_cksum(ip + 10, 0, load_u16_raw(ip + 4))
        pkt_set_network_header(p, 0, IP_HEADER_LEN)
        return p
