# cython: language_level=3
"""IPPrint: prints one tcpdump-like line per IP packet."""
from libc.stdint cimport uint32_t

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport (AGGREGATE_ANNO_OFFSET, PAINT_ANNO_OFFSET, Packet, pkt_anno_u32,
                                     pkt_data)
from clickpy.elements.ip.ip_header cimport (IP_HEADER_LEN, IP_MF, IP_OFFMASK, IP_PROTO_ICMP,
                                            IP_PROTO_TCP, IP_PROTO_UDP, TH_ACK, TH_FIN, TH_PUSH,
                                            TH_RST, TH_SYN, ip_first_frag, ip_hl, ip_id, ip_is_frag,
                                            ip_len, ip_off, ip_p, ip_unparse, pkt_network_length,
                                            pkt_transport_length, rd16, rd32)

import sys

from clickpy.runtime.args import (Arg, ArgError, Bool, Filename, Int, String, Word, parse_arguments,
                                  unparse_timestamp)
from clickpy.runtime.handlers import HandlerError, ReadWrite
from clickpy.runtime.names import icmp_code_name, icmp_type_name, ip_proto_name

cdef enum:
    ICMP_ECHOREPLY = 0
    ICMP_UNREACH = 3
    ICMP_ECHO = 8
    ICMP_UNREACH_PROTOCOL = 2
    ICMP_UNREACH_PORT = 3
    ICMP_UNREACH_NEEDFRAG = 4


def _unparse_proto(int p, bint prepend):
    name = ip_proto_name(p)
    if name:
        return name
    return f"protocol {p}" if prepend else str(p)


def _write_active(e, value):
    try:
        e.active = Bool(value)
    except ArgError as err:
        raise HandlerError(f"active: {err}") from None


cdef class IPPrint(SimpleElement):
    """=c
    IPPrint([LABEL, keywords CONTENTS, PAYLOAD, MAXLENGTH, ID, TTL, TOS, LENGTH, TIMESTAMP, AGGREGATE, PAINT, SWAP, OUTFILE, ACTIVE])

    =s ip
    pretty-prints IP packets

    =d
    Expects IP packets (with the IP header annotation; others pass silently)
    and prints a tcpdump-like line for each on standard error (or OUTFILE):
    LABEL, the timestamp (TIMESTAMP, default true), the aggregate (AGGREGATE)
    and paint (PAINT) annotations, the IP ID, TTL, TOS and length fields (ID,
    TTL, TOS, LENGTH), then addresses, ports and a TCP, UDP or ICMP summary,
    and fragment information.

    CONTENTS (NONE, HEX or ASCII) adds up to MAXLENGTH bytes of the packet
    (default 1500; -1 for all), PAYLOAD the same for the transport payload
    only. SWAP (default true) prints ICMP echo IDs and sequence numbers in
    network order. ACTIVE false prints nothing.

    =h active read/write

    =a Print, CheckIPHeader
    """
    arguments = (
        Arg("LABEL", String, "", positional=True),
        Arg("CONTENTS", Word, "no"),
        Arg("PAYLOAD", Word, "no"),
        Arg("MAXLENGTH", Int, 1500),
        Arg("NBYTES", Int, None),
        Arg("ID", Bool, False),
        Arg("TIMESTAMP", Bool, True),
        Arg("PAINT", Bool, False),
        Arg("TOS", Bool, False),
        Arg("TTL", Bool, False),
        Arg("SWAP", Bool, True),
        Arg("LENGTH", Bool, False),
        Arg("AGGREGATE", Bool, False),
        Arg("ACTIVE", Bool, True),
        Arg("OUTFILE", Filename, None),
        Arg("CHANNEL", Word, None),
    )
    handlers = (ReadWrite("active", lambda e: e.active, _write_active, calm=True),)

    cdef public str label
    cdef public int maxlength
    cdef public int contents        # 0 none, 1 hex, 2 ascii
    cdef public bint payload
    cdef public bint print_id
    cdef public bint print_timestamp
    cdef public bint print_paint
    cdef public bint print_tos
    cdef public bint print_ttl
    cdef public bint print_len
    cdef public bint print_aggregate
    cdef public bint swap
    cdef public bint active
    cdef public object outfile
    cdef object _out

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        contents = v["contents"]
        try:
            cv = 1 if Bool(contents) else 0
        except ArgError:
            cv = {"NONE": 0, "HEX": 1, "ASCII": 2}.get(contents.upper())
            if cv is None:
                return errh.error(f"bad contents value '{contents.upper()}'; should be 'NONE', 'HEX', or 'ASCII'")
        payload = v["payload"].upper()
        pv = {"NO": 0, "FALSE": 0, "YES": 1, "TRUE": 1, "HEX": 1, "ASCII": 2}.get(payload)
        if pv is None:
            return errh.error(f"bad payload value '{payload}'; should be 'false', 'hex', or 'ascii'")
        if pv > 0 and cv > 0:
            return errh.error("specify at most one of PAYLOAD and CONTENTS")
        self.payload = pv > 0
        self.contents = pv if pv > 0 else cv
        self.label = v["label"]
        self.maxlength = v["nbytes"] if v["nbytes"] is not None else v["maxlength"]
        self.print_id, self.print_timestamp, self.print_paint = v["id"], v["timestamp"], v["paint"]
        self.print_tos, self.print_ttl, self.print_len = v["tos"], v["ttl"], v["length"]
        self.print_aggregate, self.swap, self.active = v["aggregate"], v["swap"], v["active"]
        self.outfile = v["outfile"]
        return True

    def initialize(self, errh):
        if self.outfile is not None:
            try:
                self._out = open(self.outfile, "wb")
            except OSError as err:
                return errh.error(f"{self.outfile}: {err.strerror}")

    def cleanup(self, stage):
        if self._out is not None:
            self._out.close()
            self._out = None

    cdef Packet *simple_action(self, Packet *p) noexcept:
        if not self.active or p.network < 0:
            return p
        try:
            line = self.line(p)
            if self._out is not None:
                self._out.write(line.encode("latin-1") + b"\n")
            else:
                sys.stderr.write(line + "\n")
        except BaseException:
            pass
        return p

    cdef str line(self, Packet *p):
        cdef list out = []
        cdef const unsigned char *iph
        cdef int iplen, payload_len, tlen, off, nbytes, i
        cdef const unsigned char *data
        cdef const unsigned char *end = pkt_data(p) + p.length
        if self.label:
            out.append(self.label + ": ")
        if self.print_timestamp:
            out.append(unparse_timestamp(p.timestamp) + ": ")
        if self.print_aggregate:
            out.append(f"#{pkt_anno_u32(p, AGGREGATE_ANNO_OFFSET)}")
        if self.print_paint:
            out.append(("." if self.print_aggregate else "paint ") + str(p.anno[PAINT_ANNO_OFFSET]))
        if self.print_aggregate or self.print_paint:
            out.append(": ")

        if pkt_network_length(p) < IP_HEADER_LEN:
            out.append("truncated-ip")
            return "".join(out)

        iph = p.buffer + p.network
        iplen = ip_len(iph)
        payload_len = iplen - <int> ip_hl(iph)
        tlen = pkt_transport_length(p)
        if tlen > payload_len:
            tlen = payload_len
        if self.print_id:
            out.append(f"id {ip_id(iph)} ")
        if self.print_ttl:
            out.append(f"ttl {iph[8]} ")
        if self.print_tos:
            out.append(f"tos {iph[1]} ")
        if self.print_len:
            out.append(f"length {iplen} ")

        if ip_p(iph) == IP_PROTO_TCP:
            out.append(self.tcp_line(p, iph, tlen))
        elif ip_p(iph) == IP_PROTO_UDP:
            out.append(self.udp_line(p, iph, tlen))
        elif ip_p(iph) == IP_PROTO_ICMP:
            out.append(self.icmp_line(p, iph, tlen))
        else:
            out.append(f"{ip_unparse(iph + 12)} > {ip_unparse(iph + 16)}: ip-proto-{ip_p(iph)}")

        if ip_is_frag(iph):
            out.append(f" (frag {ip_id(iph)}:{payload_len}@{(ip_off(iph) & IP_OFFMASK) << 3}"
                       f"{'+' if ip_off(iph) & IP_MF else ''})")

        if self.contents > 0:
            if self.payload:
                data = p.buffer + p.transport
                if ip_first_frag(iph) and ip_p(iph) == IP_PROTO_TCP and data + 13 <= end:
                    data += (data[12] >> 4) << 2
                elif ip_first_frag(iph) and ip_p(iph) == IP_PROTO_UDP:
                    data += 8
            else:
                data = pkt_data(p)
            nbytes = self.maxlength
            if data >= end:
                nbytes = 0
            elif nbytes < 0 or <int> (end - data) < nbytes:
                nbytes = <int> (end - data)
            chars = []
            if self.contents == 1:
                for i in range(nbytes):
                    if i % 24 == 0:
                        chars.append("\n  ")
                    elif i % 4 == 0:
                        chars.append(" ")
                    chars.append(f"{data[i]:02x}")
            else:
                for i in range(nbytes):
                    if i % 48 == 0:
                        chars.append("\n  ")
                    elif i % 8 == 0:
                        chars.append(" ")
                    chars.append(chr(data[i]) if 32 <= data[i] <= 126 else ".")
            out.append("".join(chars))
        return "".join(out)

    cdef str tcp_line(self, Packet *p, const unsigned char *iph, int tlen):
        cdef const unsigned char *th = p.buffer + p.transport
        cdef int seqlen, flags
        cdef uint32_t seq
        pair = f"{ip_unparse(iph + 12)} > {ip_unparse(iph + 16)}"
        if tlen < 4 or not ip_first_frag(iph):
            return pair + (": truncated-tcp" if ip_first_frag(iph) else ": tcp")
        s = f"{ip_unparse(iph + 12)}.{rd16(th)} > {ip_unparse(iph + 16)}.{rd16(th + 2)}: "
        if tlen < 14:
            return s + "truncated-tcp"
        seqlen = <int> ip_len(iph) - <int> ip_hl(iph) - ((th[12] >> 4) << 2)
        flags = th[13]
        f = ""
        if flags & TH_SYN:
            f += "S"
            seqlen += 1
        if flags & TH_FIN:
            f += "F"
            seqlen += 1
        if flags & TH_RST:
            f += "R"
        if flags & TH_PUSH:
            f += "P"
        if not (flags & (TH_SYN | TH_FIN | TH_RST | TH_PUSH)):
            f += "."
        seq = rd32(th + 4)
        s += f"{f} {seq}:{(seq + seqlen) & 0xFFFFFFFF}({seqlen},{p.length},{ip_len(iph)})"
        if flags & TH_ACK:
            s += f" ack {rd32(th + 8)}"
        if tlen < 16:
            return s + "truncated-tcp"
        return s + f" win {rd16(th + 14)}"

    cdef str udp_line(self, Packet *p, const unsigned char *iph, int tlen):
        cdef const unsigned char *uh = p.buffer + p.transport
        if tlen < 4 or not ip_first_frag(iph):
            return (f"{ip_unparse(iph + 12)} > {ip_unparse(iph + 16)}"
                    + (": truncated-udp" if ip_first_frag(iph) else ": udp"))
        s = f"{ip_unparse(iph + 12)}.{rd16(uh)} > {ip_unparse(iph + 16)}.{rd16(uh + 2)}: "
        if tlen < 8:
            return s + "truncated-udp"
        return s + f"udp {rd16(uh + 4)}"

    cdef str icmp_line(self, Packet *p, const unsigned char *iph, int tlen):
        cdef const unsigned char *ic = p.buffer + p.transport
        cdef const unsigned char *eiph
        cdef int t, code, eiph_len, eudph_len
        cdef unsigned ident, sequence
        s = f"{ip_unparse(iph + 12)} > {ip_unparse(iph + 16)}: "
        if not ip_first_frag(iph):
            return s + "icmp"
        if tlen < 2:
            return s + "truncated-icmp"
        t, code = ic[0], ic[1]
        if t == ICMP_ECHOREPLY or t == ICMP_ECHO:
            s += "icmp echo-reply " if t == ICMP_ECHOREPLY else "icmp echo "
            if tlen < 8:
                return s + "truncated-icmp"
            ident, sequence = rd16(ic + 4), rd16(ic + 6)
            if not self.swap:
                # the 16-bit values as a little-endian host reads them
                ident = ((ident & 0xFF) << 8) | (ident >> 8)
                sequence = ((sequence & 0xFF) << 8) | (sequence >> 8)
            return s + f"({ident}, {sequence})"
        if t == ICMP_UNREACH:
            cname = icmp_code_name(t, code) or f"code {code}"
            eiph = ic + 8
            eiph_len = tlen - 8
            if eiph_len < IP_HEADER_LEN:
                return s + f"icmp unreachable {cname} truncated-icmp"
            eudph_len = eiph_len - <int> ip_hl(eiph)
            s += f"icmp {ip_unparse(eiph + 16)} unreachable {cname}"
            if code == ICMP_UNREACH_PROTOCOL:
                s += " " + _unparse_proto(eiph[9], False)
            elif code == ICMP_UNREACH_PORT:
                s += " " + _unparse_proto(eiph[9], True)
                if eudph_len < 4:
                    return s + "truncated-icmp"
                s += f"/{rd16(eiph + ip_hl(eiph) + 2)}"
            elif code == ICMP_UNREACH_NEEDFRAG:
                if rd16(ic + 6):
                    s += f" (mtu {rd16(ic + 6)})"
            return s
        s += "icmp " + (icmp_type_name(t) or f"type {t}")
        cname = icmp_code_name(t, code)
        if cname:
            s += " " + cname
        elif code:
            s += f" code {code}"
        return s
