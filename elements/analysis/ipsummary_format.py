"""The IP summary dump format: Click's text (and binary) trace of packet fields.

A dump starts with '!' lines ('!IPSummaryDump 1.3', '!data FIELD...',
'!proto T', '!flowid SRC SPORT DST DPORT [PROTO]', '!binary') and then holds
one line per packet, its fields separated by spaces, '-' for a field that
does not apply. This module is the field table both directions share:

* a *reader* field parses text (or binary) and *injects* the value into a
  packet being built (``PacketBuilder``, Click's PacketOdesc), in the order
  Click gives fields (annotations, link, network, transport, payload);
* a *writer* field *extracts* a value from a packet (``PacketDesc``, Click's
  PacketDesc, after ``ip_prepare`` has checked the headers) and formats it.

Names resolve as Click resolves them: synonyms ('src' -> 'ip_src' through
the rule that a name without '_' gets 'ip_' in front, 'ts' -> 'timestamp'),
and spaces may stand for underscores.
"""
from __future__ import annotations

import hashlib
import re
import struct

from clickpy.runtime.args import (
    NS_PER_SEC as NS, ArgError, IPAddress, ip_packed, parse_ip as parse_ip_text, parse_time, scan_int,
    unparse_timestamp,
)
from clickpy.lang.confstring import quote, unquote
from clickpy.runtime.names import (
    ICMP_CODES, ICMP_TYPES, IP_PROTO_DCCP, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_TCP_OR_UDP, IP_PROTO_UDP,
    IP_PROTO_UDPLITE, IP_PROTOS, icmp_code_name, icmp_type_name,
)

MAJOR_VERSION = 1
MINOR_VERSION = 3

# Binary sizes (Click's B_* codes).
B_0, B_1, B_2, B_4, B_6PTR, B_8, B_16 = 0, 1, 2, 4, 6, 8, 16
B_4NET = 4 + 256
B_SPECIAL = 4 + 512
B_NOTALLOWED = -1

ORDER_ANNO, ORDER_LINK, ORDER_NET, ORDER_TRANSP, ORDER_PAYLOAD = 100, 200, 300, 400, 500

IP_DF, IP_MF, IP_OFFMASK = 0x4000, 0x2000, 0x1FFF
MISSING_IP, MISSING_ETHERNET = 0, 260

ICMP_TYPE_HAVE_FLOW = (1 << 8) | (1 << 0) | (1 << 15) | (1 << 16) | (1 << 13) | (1 << 14)

TCP_FLAGS_WORD = "FSRPAUECN"
_TCP_FLAG_BITS = {"F": 0, "S": 1, "R": 2, "P": 3, "A": 4, "U": 5, "E": 6, "C": 7, "N": 8,
                  "W": 7, "X": 6, "Y": 7}


class Bad(Exception):
    """A field value that does not parse."""


def parse_uint(s: str, limit: int = 1 << 32) -> int:
    """Click's IntArg for an unsigned value below limit; Bad if it is not one."""
    v = scan_int(s, signed=False)
    if v is None or v >= limit:
        raise Bad(s)
    return v


def parse_ip(s: str, element=None) -> bytes:
    """An address field, dotted or a name (AddressInfo): its four bytes, network order."""
    v = parse_ip_text(s)
    if v is not None:
        return ip_packed(v)
    try:
        return ip_packed(IPAddress(s, element))
    except ArgError:
        raise Bad(s) from None


def unparse_ip(b: bytes) -> str:
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"


def parse_ether(s: str, element=None) -> bytes:
    m = re.fullmatch(r"([0-9a-fA-F]{1,2})([:-])([0-9a-fA-F]{1,2})\2([0-9a-fA-F]{1,2})\2([0-9a-fA-F]{1,2})\2"
                     r"([0-9a-fA-F]{1,2})\2([0-9a-fA-F]{1,2})", s)
    if m:
        return bytes(int(g, 16) for g in m.groups() if g not in ":-")
    router = getattr(element, "router", None)
    if router is not None:
        v = router.address_info(s, "ether", element)
        if v is not None:
            return bytes(v)
    raise Bad(s)


def unparse_ether(b: bytes) -> str:
    return "-".join(f"{x:02X}" for x in b)


def parse_ip_proto(s: str) -> int:
    """A protocol for '!proto': a number, a name ('tcp'), or T, U, I."""
    if s in IP_PROTOS and IP_PROTOS[s] < 256:
        return IP_PROTOS[s]
    try:
        v = parse_uint(s)
        if v < 256:
            return v
    except Bad:
        pass
    if s in ("T", "U", "I"):
        return {"T": IP_PROTO_TCP, "U": IP_PROTO_UDP, "I": IP_PROTO_ICMP}[s]
    raise Bad(s)


def in_cksum(data, initial: int = 0) -> int:
    """The Internet checksum of data (bytes-like)."""
    if len(data) % 2:
        data = bytes(data) + b"\0"
    s = initial + sum(struct.unpack(f"!{len(data) // 2}H", bytes(data)))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def md5_text_digest(data: bytes) -> str:
    """Click's 22-character MD5 text digest (characters [a-zA-Z0-9_@])."""
    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@"
    digest = hashlib.md5(data).digest()
    out = []
    bit = 0
    while bit < 128:
        first = bit // 8
        val = digest[first] >> (bit % 8)
        if bit + 8 > (first + 1) * 8 and first < 15:
            val += digest[first + 1] << (8 - (bit % 8))
        out.append(chars[val & 0x3F])
        bit += 6
    return "".join(out)


# --- packets being summarized (ToIPSummaryDump) ---------------------------------------


class PacketDesc:
    """A packet's bytes and annotations as the writer fields see them.

    ``buf`` holds the packet buffer from its lowest header to the end of
    the data; ``data``, ``mac``, ``net`` and ``trans`` are offsets into it
    (-1 when unset). After ``ip_prepare``, ``iph``/``tcph``/``udph``/``icmph``
    are the offsets of headers that are good enough to read, or -1.
    """

    __slots__ = ("buf", "data", "end", "mac", "net", "trans", "ts", "first_ts", "paint", "aggregate",
                 "extra_packets", "extra_length", "iph", "tcph", "udph", "icmph", "tailpad", "bad",
                 "careful_trunc", "force_extra_length", "prepared", "element")

    def __init__(self, buf, data, mac, net, trans, ts=0, first_ts=0, paint=0, aggregate=0,
                 extra_packets=0, extra_length=0, bad=None, careful_trunc=True, force_extra_length=True,
                 element=None):
        self.buf = buf
        self.data = data
        self.end = len(buf)
        self.mac, self.net, self.trans = mac, net, trans
        self.ts, self.first_ts, self.paint, self.aggregate = ts, first_ts, paint, aggregate
        self.extra_packets, self.extra_length = extra_packets, extra_length
        self.iph = self.tcph = self.udph = self.icmph = -1
        self.tailpad = 0
        self.bad = bad                  # list collecting a '!bad' message, or None
        self.careful_trunc = careful_trunc
        self.force_extra_length = force_extra_length
        self.prepared = False
        self.element = element

    def length(self) -> int:
        return self.end - self.tailpad - self.data

    def network_length(self) -> int:
        return self.end - self.tailpad - self.net

    def transport_length(self) -> int:
        return self.end - self.tailpad - self.trans

    def u8(self, off):
        return self.buf[off]

    def u16(self, off):
        return (self.buf[off] << 8) | self.buf[off + 1]

    def u32(self, off):
        b = self.buf
        return (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]

    def add_bad(self, message: str) -> None:
        if self.bad is not None and not self.bad:
            self.bad.append(f"!bad {message}\n")


def ip_prepare(d: PacketDesc) -> None:
    """Check the IP and transport headers (Click's ip_prepare); sets iph, tcph, udph, icmph."""
    if d.prepared:
        return
    d.prepared = True
    d.iph = d.net
    has_trans = d.trans >= 0
    d.tcph = d.udph = d.icmph = d.trans if has_trans else -1
    if d.iph >= 0:
        nlen = d.end - d.net
        iph = d.iph
        if nlen < 4:
            d.add_bad("truncated IP header")
            d.iph = -1
        elif d.buf[iph] >> 4 != 4:
            d.add_bad(f"IP version {d.buf[iph] >> 4}")
            d.iph = -1
        elif d.buf[iph] & 15 < 5:
            d.add_bad(f"IP header length {d.buf[iph] & 15}")
            d.iph = -1
        elif d.u16(iph + 2) < (d.buf[iph] & 15) << 2:
            d.add_bad(f"IP length {d.u16(iph + 2)}")
            d.iph = -1
        else:
            ip_len = d.u16(iph + 2)
            if nlen > ip_len:
                d.extra_length = (d.extra_length + nlen - ip_len) & 0xFFFFFFFF
                d.tailpad = nlen - ip_len
            elif d.careful_trunc and nlen + d.extra_length < ip_len:
                d.add_bad(f"truncated IP missing {ip_len - nlen - d.extra_length}")
    iph = d.iph
    ok_transport = (iph >= 0 and has_trans and d.network_length() > (d.buf[iph] & 15) << 2
                    and d.u16(iph + 6) & IP_OFFMASK == 0)
    proto = d.buf[iph + 9] if iph >= 0 and d.network_length() > 9 else -1
    if not ok_transport or proto != IP_PROTO_TCP:
        d.tcph = -1
    elif d.transport_length() > 12 and d.buf[d.tcph + 12] >> 4 < 5:
        d.add_bad(f"TCP header length {d.buf[d.tcph + 12] >> 4}")
        d.tcph = -1
    if not ok_transport or proto != IP_PROTO_UDP:
        d.udph = -1
    if not ok_transport or proto != IP_PROTO_ICMP:
        d.icmph = -1
    # Lengths are computed from ip_len from now on: drop the extra length
    # annotation (unless the packet is longer than an IP length can say).
    if iph >= 0 and d.extra_length > 0:
        full_len = d.network_length() + d.extra_length
        if d.u16(iph + 2) != 0xFFFF or full_len <= 0xFFFF:
            d.extra_length = 0
        else:
            d.extra_length = full_len - 0xFFFF


def field_missing(d: PacketDesc, proto: int, length: int):
    """Click's field_missing: note why a field is missing (when BAD_PACKETS); always None."""
    if d.bad is None or d.bad:
        return None
    iph = d.iph
    if proto == MISSING_ETHERNET:
        d.add_bad("Ethernet header")
    elif iph < 0:
        d.add_bad("no IP header")
    elif proto == MISSING_IP:
        d.add_bad("truncated IP header capture")
    elif d.network_length() > 9 and ((MISSING_IP < proto < 256 and d.buf[iph + 9] != proto)
                                    or (proto == IP_PROTO_TCP_OR_UDP
                                        and d.buf[iph + 9] not in (IP_PROTO_TCP, IP_PROTO_UDP))):
        return None  # wrong protocol is not a bad packet
    else:
        name = {IP_PROTO_TCP: "TCP", IP_PROTO_UDP: "UDP", IP_PROTO_ICMP: "ICMP",
                IP_PROTO_TCP_OR_UDP: "TCP/UDP"}.get(proto, "?")
        if d.u16(iph + 6) & IP_OFFMASK:
            d.add_bad(f"fragmented {name} header")
        elif d.trans >= 0 and d.transport_length() + d.extra_length >= length:
            d.add_bad(f"truncated {name} header capture")
        else:
            d.add_bad(f"truncated {name} header")
    return None


# --- packets being built (FromIPSummaryDump) ------------------------------------------


class PacketBuilder:
    """A packet under construction from dump fields (Click's PacketOdesc).

    ``buf`` is the packet data; ``net``/``trans`` are header offsets in it
    (None when unset); ``mac`` is true once a link header was added.
    """

    __slots__ = ("buf", "net", "trans", "mac", "is_ip", "have_icmp_type", "have_icmp_code", "have_ip_hl",
                 "have_tcp_hl", "default_ip_p", "default_flowid", "minor_version", "want_len", "ts",
                 "first_ts", "paint", "aggregate", "extra_packets", "element", "scratch")

    def __init__(self, default_ip_p=IP_PROTO_TCP, default_flowid=None, minor_version=MINOR_VERSION,
                 element=None):
        self.buf = bytearray()
        self.net = self.trans = None
        self.mac = False
        self.is_ip = True
        self.have_icmp_type = self.have_icmp_code = self.have_ip_hl = self.have_tcp_hl = False
        self.default_ip_p = default_ip_p
        self.default_flowid = default_flowid   # (src bytes, sport, dst bytes, dport) or None
        self.minor_version = minor_version
        self.want_len = 0
        self.ts = self.first_ts = 0
        self.paint = self.aggregate = self.extra_packets = 0
        self.element = element

    # byte access
    def u16(self, off):
        return (self.buf[off] << 8) | self.buf[off + 1]

    def set_u16(self, off, v):
        self.buf[off] = (v >> 8) & 0xFF
        self.buf[off + 1] = v & 0xFF

    def set_u32(self, off, v):
        self.buf[off:off + 4] = (v & 0xFFFFFFFF).to_bytes(4, "big")

    def put(self, n):
        if n > 0:
            self.buf.extend(bytes(n))

    def take(self, n):
        if n > 0:
            del self.buf[len(self.buf) - n:]

    def network_length(self):
        return len(self.buf) - self.net

    def transport_length(self):
        return len(self.buf) - self.trans

    def set_ip_header(self, off, hlen):
        self.net = off
        self.trans = off + hlen

    def ip_p(self):
        return self.buf[self.net + 9]

    def first_frag(self):
        return self.u16(self.net + 6) & IP_OFFMASK == 0

    def make_ip(self, ip_p: int) -> bool:
        n = self.net
        if (not self.is_ip or n is None or len(self.buf) - n < 20) and not self._hard_make_ip():
            return False
        if not ip_p:
            return True
        p = self.buf[self.net + 9]
        return not p or p == ip_p

    def _hard_make_ip(self) -> bool:
        if not self.is_ip:
            return False
        if self.net is None:
            self.set_ip_header(0, 0)
        if self.network_length() < 20:
            self.put(20 - self.network_length())
            self.set_ip_header(self.net, 20)
            n = self.net
            self.buf[n] = 0x45
            self.buf[n + 9] = self.default_ip_p
            self.set_u16(n + 2, 0)
            self.set_u16(n + 6, 0)
            self.buf[n + 8] = 100
            if self.default_flowid is not None:
                self.buf[n + 12:n + 16] = self.default_flowid[0]
                self.buf[n + 16:n + 20] = self.default_flowid[2]
        return True

    def make_transp(self) -> bool:
        buf, n = self.buf, self.net
        if len(buf) - n < 20:
            return False            # no IP header to put a transport header after
        if (buf[n + 6] & 0x1F) or buf[n + 7]:
            return False            # not the first fragment
        if len(buf) - self.trans < 8:
            return self._hard_make_transp()
        return True

    def _hard_make_transp(self) -> bool:
        if not self.first_frag():
            return True
        p = self.ip_p()
        if p == IP_PROTO_TCP:
            length = 20
        elif p in (IP_PROTO_UDP, IP_PROTO_UDPLITE):
            length = 8
        elif p == IP_PROTO_DCCP:
            length = 12
        elif p == IP_PROTO_ICMP:
            length = 8
        else:
            return True
        if 0 < self.want_len < self.trans + length:
            length = self.want_len - self.trans
        if self.transport_length() < length:
            xlen = max(length, 4)
            self.put(xlen - self.transport_length())
            if p == IP_PROTO_TCP and length >= 13:
                self.buf[self.trans + 12] = (self.buf[self.trans + 12] & 0x0F) | 0x50
            if self.default_flowid is not None:
                self.set_u16(self.trans, self.default_flowid[1])
                self.set_u16(self.trans + 2, self.default_flowid[3])
            if xlen > length:
                self.take(xlen - length)
        return True

    def ip_header(self) -> bool:
        return self.net is not None


# --- field table ----------------------------------------------------------------------


class Field:
    """One summary dump field: how to read it into a packet and how to write it out.

    Reader part: ``parse(text, b)`` -> value (raises Bad), ``inject(b, value)``,
    ``order``. Writer part: ``extract(d)`` -> value or None (printed '-'),
    ``format(d, value)`` -> str, ``prepare`` (needs ip_prepare). Binary
    sizes follow Click's (B_4NET addresses, B_SPECIAL length-prefixed).
    """

    def __init__(self, name, btype, order=ORDER_ANNO, parse=None, inject=None, extract=None, fmt=None,
                 prepare=True, outb=None, inb=None):
        self.name = name
        self.btype = btype
        self.order = order
        self.parse = parse
        self.inject = inject
        self.extract = extract
        self.format = fmt or (lambda d, v: str(v))
        self.prepare = prepare
        self._outb = outb
        self._inb = inb

    @property
    def binary_size(self) -> int:
        return -1 if self.btype < 0 else self.btype & 255

    def write_binary(self, d, value, ok) -> bytes:
        if self._outb is not None:
            return self._outb(d, value, ok)
        t = self.btype
        v = value if ok and value is not None else 0
        if t == B_0:
            return b""
        if t == B_1:
            return bytes([v & 0xFF])
        if t == B_2:
            return struct.pack("!H", v & 0xFFFF)
        if t in (B_4, B_4NET):
            return v if isinstance(v, bytes) else struct.pack("!I", v & 0xFFFFFFFF)
        if t == B_6PTR:
            return v if isinstance(v, bytes) else bytes(6)
        if t == B_8:
            return struct.pack("!Q", v & 0xFFFFFFFFFFFFFFFF)
        return b""

    def read_binary(self, b, data: bytes, pos: int):
        """(value, new position); value None if the record is too short."""
        if self._inb is not None:
            return self._inb(b, data, pos)
        t = self.btype
        n = {B_0: 0, B_1: 1, B_2: 2, B_4: 4, B_4NET: 4, B_6PTR: 6, B_8: 8, B_16: 16}.get(t)
        if n is None or pos + n > len(data):
            return None, len(data)
        chunk = data[pos:pos + n]
        if t in (B_4NET, B_6PTR):
            return bytes(chunk), pos + n
        return int.from_bytes(chunk, "big") if n else 0, pos + n


READERS: dict[str, Field] = {}
WRITERS: dict[str, Field] = {}
SYNONYMS: dict[str, str] = {}


def _add(field: Field, reader=True, writer=True):
    if reader and field.inject is not None:
        READERS[field.name] = field
    if writer and field.extract is not None:
        WRITERS[field.name] = field


def _update_name(name: str) -> str | None:
    if " " in name:
        i = name.index(" ")
        return name[:i] + "_" + name[i + 1:]
    if "_" not in name:
        return "ip_" + name
    return None


def _find(table, name):
    seen = 0
    while name is not None and seen < 8:
        seen += 1
        if name in SYNONYMS:
            name = SYNONYMS[name]
            continue
        if name in table:
            return table[name]
        name = _update_name(name)
    return None


def find_reader(name: str) -> Field | None:
    return _find(READERS, name)


def find_writer(name: str) -> Field | None:
    return _find(WRITERS, name)


# --- numbers ------------------------------------------------------------------------

def _num_parser(btype):
    limit = {B_1: 256, B_2: 65536, B_8: 1 << 64}.get(btype, 1 << 32)
    return lambda s, b: parse_uint(s, limit)


# --- annotations ---------------------------------------------------------------------

def _ts_parse(s, b):
    try:
        return parse_time(s)
    except ValueError:
        raise Bad(s) from None


def _ts_sec(ts):
    return (ts // NS) & 0xFFFFFFFF


def _ts_usec(ts):
    return (ts % NS) // 1000


def _inject_ts(b, v):
    b.ts = v


def _inject_sec(b, v):
    b.ts = v * NS + b.ts % NS


def _inject_usec(b, v):
    b.ts = (b.ts // NS) * NS + v * 1000


def _inject_usec1(b, v):
    b.ts = (v // 1_000_000) * NS + (v % 1_000_000) * 1000


def _inject_first_ts(b, v):
    b.first_ts = v


def _inject_count(b, v):
    b.extra_packets = v - 1 if v else 0


def _inject_paint(b, v):
    b.paint = v & 0xFF


def _inject_aggregate(b, v):
    b.aggregate = v


def _inject_wire_len(b, v):
    b.want_len = v


def _direction_parse(s, b):
    if s == ">":
        return 0
    if s == "<":
        return 1
    return parse_uint(s)


def _direction_format(d, v):
    return ">" if v == 0 else "<" if v == 1 else str(v)


def _utimestamp_outb(d, v, ok):
    v = v if ok and v is not None else 0
    return struct.pack("!II", (v // NS) & 0xFFFFFFFF, (v % NS) // 1000)


def _utimestamp_inb(b, data, pos):
    if pos + 8 > len(data):
        return None, len(data)
    sec, usec = struct.unpack_from("!II", data, pos)
    return sec * NS + usec * 1000, pos + 8


def _ntimestamp_outb(d, v, ok):
    v = v if ok and v is not None else 0
    return struct.pack("!II", (v // NS) & 0xFFFFFFFF, v % NS)


def _ntimestamp_inb(b, data, pos):
    if pos + 8 > len(data):
        return None, len(data)
    sec, nsec = struct.unpack_from("!II", data, pos)
    return sec * NS + nsec, pos + 8


def _time_format(d, v):
    return unparse_timestamp(v)


for _f in (
    Field("timestamp", B_8, ORDER_ANNO, _ts_parse, _inject_ts, lambda d: d.ts, _time_format, False,
          _utimestamp_outb, _utimestamp_inb),
    Field("ntimestamp", B_8, ORDER_ANNO, _ts_parse, _inject_ts, lambda d: d.ts, _time_format, False,
          _ntimestamp_outb, _ntimestamp_inb),
    Field("ts_sec", B_4, ORDER_ANNO, _num_parser(B_4), _inject_sec, lambda d: _ts_sec(d.ts), None, False),
    Field("ts_usec", B_4, ORDER_ANNO, _num_parser(B_4), _inject_usec, lambda d: _ts_usec(d.ts), None, False),
    Field("ts_usec1", B_8, ORDER_ANNO, _num_parser(B_8), _inject_usec1,
          lambda d: ((d.ts // NS) * 1_000_000 + _ts_usec(d.ts)) & 0xFFFFFFFFFFFFFFFF, None, False),
    Field("first_timestamp", B_8, ORDER_ANNO, _ts_parse, _inject_first_ts, lambda d: d.first_ts,
          _time_format, False, _utimestamp_outb, _utimestamp_inb),
    Field("first_ntimestamp", B_8, ORDER_ANNO, _ts_parse, _inject_first_ts, lambda d: d.first_ts,
          _time_format, False, _ntimestamp_outb, _ntimestamp_inb),
    Field("count", B_4, ORDER_ANNO, _num_parser(B_4), _inject_count,
          lambda d: (1 + d.extra_packets) & 0xFFFFFFFF, None, False),
    Field("link", B_1, ORDER_ANNO, _direction_parse, _inject_paint, lambda d: d.paint, None, False),
    Field("paint", B_1, ORDER_ANNO, _direction_parse, _inject_paint, lambda d: d.paint, None, False),
    Field("direction", B_1, ORDER_ANNO, _direction_parse, _inject_paint, lambda d: d.paint,
          _direction_format, False),
    Field("aggregate", B_4, ORDER_ANNO, _num_parser(B_4), _inject_aggregate, lambda d: d.aggregate, None,
          False),
    Field("wire_len", B_4, ORDER_ANNO, _num_parser(B_4), _inject_wire_len, lambda d: d.end - d.data, None, False),
):
    _add(_f)

SYNONYMS.update({"utimestamp": "timestamp", "ts": "utimestamp", "sec": "ts_sec", "usec": "ts_usec",
                 "usec1": "ts_usec1", "first_utimestamp": "first_timestamp", "first_ts": "first_utimestamp",
                 "pkt_count": "count", "packet_count": "count", "agg": "aggregate",
                 "wire_length": "wire_len"})


# --- link ------------------------------------------------------------------------------

def _link_mac(d):
    """Offset of a 14-byte Ethernet header just before the network header, or -1."""
    if d.mac < 0:
        mac = d.data if d.net < 0 or d.data < d.net else -1
    else:
        mac = d.mac
    network = d.end if d.net < 0 else d.net
    if mac < 0 or mac + 14 != network:
        field_missing(d, MISSING_ETHERNET, 0)
        return -1
    return mac


def _eth_src(d):
    m = _link_mac(d)
    return None if m < 0 else bytes(d.buf[m + 6:m + 12])


def _eth_dst(d):
    m = _link_mac(d)
    return None if m < 0 else bytes(d.buf[m:m + 6])


def _eth_type(d):
    m = _link_mac(d)
    return None if m < 0 else d.u16(m + 12)


def _link_header(b):
    if not b.mac:
        b.buf[0:0] = bytes(14)
        b.buf[12:14] = b"\x08\x00"
        if b.net is not None:
            b.net += 14
            b.trans += 14
        else:
            # as Click's push_mac_header: the network header follows the link header
            b.set_ip_header(14, 0)
        b.mac = True


def _inject_eth_src(b, v):
    _link_header(b)
    b.buf[6:12] = v


def _inject_eth_dst(b, v):
    _link_header(b)
    b.buf[0:6] = v


def _inject_eth_type(b, v):
    _link_header(b)
    b.set_u16(12, v)
    if v not in (0x0800, 0x86DD):
        b.is_ip = False


def _eth_type_parse(s, b):
    try:
        v = int(s, 16)
    except ValueError:
        raise Bad(s) from None
    if v >= 65536 or v < 0:
        raise Bad(s)
    return v


def _ether_parse(s, b):
    return parse_ether(s, b.element)


for _f in (
    Field("eth_src", B_6PTR, ORDER_LINK, _ether_parse, _inject_eth_src, _eth_src,
          lambda d, v: unparse_ether(v), False),
    Field("eth_dst", B_6PTR, ORDER_LINK, _ether_parse, _inject_eth_dst, _eth_dst,
          lambda d, v: unparse_ether(v), False),
    Field("eth_type", B_2, ORDER_LINK, _eth_type_parse, _inject_eth_type, _eth_type,
          lambda d, v: f"{v:04X}", False),
):
    _add(_f)
SYNONYMS.update({"ether_src": "eth_src", "ether_dst": "eth_dst", "ether_type": "eth_type"})


# --- IP ---------------------------------------------------------------------------------

def _ip_check(d, length):
    if d.iph < 0 or d.network_length() < length:
        field_missing(d, MISSING_IP, length)
        return False
    return True


def _ip_src(d):
    return bytes(d.buf[d.iph + 12:d.iph + 16]) if _ip_check(d, 16) else None


def _ip_dst(d):
    return bytes(d.buf[d.iph + 16:d.iph + 20]) if _ip_check(d, 20) else None


def _ip_tos(d):
    return d.buf[d.iph + 1] if _ip_check(d, 2) else None


def _ip_dscp(d):
    return d.buf[d.iph + 1] >> 2 if _ip_check(d, 2) else None


def _ip_ecn(d):
    return d.buf[d.iph + 1] & 3 if _ip_check(d, 2) else None


def _ip_ttl(d):
    return d.buf[d.iph + 8] if _ip_check(d, 9) else None


def _ip_frag(d):
    if not _ip_check(d, 8):
        return None
    off = d.u16(d.iph + 6)
    if off & (IP_MF | IP_OFFMASK):
        return ord("F") if off & IP_OFFMASK == 0 else ord("f")
    return ord("!") if off & IP_DF else ord(".")


def _ip_fragoff(d):
    return d.u16(d.iph + 6) if _ip_check(d, 8) else None


def _ip_id(d):
    return d.u16(d.iph + 4) if _ip_check(d, 6) else None


def _ip_sum(d):
    return d.u16(d.iph + 10) if _ip_check(d, 12) else None


def _ip_proto(d):
    return d.buf[d.iph + 9] if _ip_check(d, 10) else None


def _ip_hl(d):
    return (d.buf[d.iph] & 15) << 2 if _ip_check(d, 1) else None


def _ip_opt(d):
    if d.iph < 0:
        field_missing(d, MISSING_IP, 20)
        return None
    hl = d.buf[d.iph] & 15
    if hl > 5 and d.network_length() < hl << 2:
        field_missing(d, MISSING_IP, hl << 2)
        return None
    if hl <= 5:
        return b""
    return bytes(d.buf[d.iph + 20:d.iph + (hl << 2)])


def _ip_len(d):
    v = d.u16(d.iph + 2) if d.iph >= 0 else d.length()
    if d.force_extra_length:
        v += d.extra_length
    return v & 0xFFFFFFFF


def _ip_capture_len(d):
    allow = d.network_length() if d.iph >= 0 else d.length()
    length = d.u16(d.iph + 2) if d.iph >= 0 else allow
    return min(length, allow)


def _has_udp_ports(p):
    return p in (IP_PROTO_TCP, IP_PROTO_UDP, IP_PROTO_DCCP, IP_PROTO_UDPLITE)


def _port(d, dport):
    iph = d.iph
    if (iph >= 0 and d.trans >= 0 and d.network_length() > (d.buf[iph] & 15) << 2
            and d.u16(iph + 6) & IP_OFFMASK == 0 and d.network_length() > 9 and _has_udp_ports(d.buf[iph + 9])
            and d.transport_length() >= (4 if dport else 2)):
        return d.u16(d.trans + (2 if dport else 0))
    field_missing(d, IP_PROTO_TCP_OR_UDP, 4 if dport else 2)
    return None


def _ip_format_frag(d, v):
    return chr(v)


def _ip_format_fragoff(d, v):
    s = str((v & IP_OFFMASK) << 3)
    if v & IP_MF:
        s += "+"
    if v & IP_DF:
        s += "!"
    return s


def _ip_format_proto(d, v):
    return {IP_PROTO_TCP: "T", IP_PROTO_UDP: "U", IP_PROTO_ICMP: "I"}.get(v, str(v))


def _ip_format_ecn(d, v):
    return ("no", "ect1", "ect2", "ce")[v]


def _ip_parse_addr(s, b):
    return parse_ip(s, b.element)


def _ip_parse_frag(s, b):
    if len(s) == 1 and s in ".!Ff":
        return {".": 0, "!": IP_DF, "F": IP_MF, "f": 100}[s]
    m = re.match(r"\d*", s)
    v = int(m.group()) if m.group() else 0
    if b.minor_version > 0:
        v >>= 3
    for c in s[m.end():]:
        if c == "!":
            v |= IP_DF
        elif c == "+":
            v |= IP_MF
        else:
            raise Bad(s)
    if not s:
        raise Bad(s)
    return v & 0xFFFF


def _ip_parse_proto(s, b):
    if s in ("T", "U", "I"):
        return {"T": IP_PROTO_TCP, "U": IP_PROTO_UDP, "I": IP_PROTO_ICMP}[s]
    return parse_uint(s, 256)


def _ip_parse_ecn(s, b):
    if len(s) == 1 and "0" <= s <= "3":
        return int(s)
    v = {"no": 0, "-": 0, "ect1": 1, "ECT(1)": 1, "ect2": 2, "ECT(0)": 2, "ce": 3, "CE": 3}.get(s)
    if v is None:
        raise Bad(s)
    return v


def _ip_set_src(b, n, v):
    b.buf[n + 12:n + 16] = v


def _ip_set_dst(b, n, v):
    b.buf[n + 16:n + 20] = v


def _ip_set_tos(b, n, v):
    b.buf[n + 1] = v & 0xFF


def _ip_set_dscp(b, n, v):
    b.buf[n + 1] = (b.buf[n + 1] & 0x03) | ((v << 2) & 0xFC)


def _ip_set_ecn(b, n, v):
    b.buf[n + 1] = (b.buf[n + 1] & 0xFC) | (v & 0x03)


def _ip_set_ttl(b, n, v):
    b.buf[n + 8] = v & 0xFF


def _ip_set_frag(b, n, v):
    b.set_u16(n + 6, v)


def _ip_set_id(b, n, v):
    b.set_u16(n + 4, v)


def _ip_set_sum(b, n, v):
    b.set_u16(n + 10, v)


def _ip_set_proto(b, n, v):
    b.buf[n + 9] = v


def _ip_set_opt(b, n, v):
    b.have_ip_hl = True
    if not v:
        return
    olen = len(v)
    ip_hl = (20 + olen + 3) & ~3
    if b.network_length() < ip_hl:
        b.put(ip_hl - b.network_length())
    if ip_hl > (b.buf[n] & 15) << 2:
        b.set_ip_header(n, ip_hl)
        b.buf[n] = (b.buf[n] & 0xF0) | (ip_hl >> 2)
    b.buf[n + 20:n + 20 + olen] = v
    b.buf[n + 20 + olen:n + ip_hl] = bytes(ip_hl - 20 - olen)


def _ip_set_hl(b, n, v):
    b.have_ip_hl = True
    v = (v + 3) & ~3
    cur = (b.buf[n] & 15) << 2
    if v > cur:
        more = v - cur
        b.put(more)
        b.set_ip_header(n, v)
        b.buf[b.trans - more:b.trans] = bytes(more)
    b.buf[n] = (b.buf[n] & 0xF0) | ((v >> 2) & 0x0F)


def _ip_set_len(b, n, v):
    b.want_len = n + v


_IP_SETTERS = {"src": _ip_set_src, "dst": _ip_set_dst, "tos": _ip_set_tos, "dscp": _ip_set_dscp,
               "ecn": _ip_set_ecn, "ttl": _ip_set_ttl, "frag": _ip_set_frag, "id": _ip_set_id,
               "sum": _ip_set_sum, "proto": _ip_set_proto, "opt": _ip_set_opt, "hl": _ip_set_hl,
               "len": _ip_set_len}


def _ip_injector(kind):
    setter = _IP_SETTERS[kind]

    def inject(b, v):
        if b.make_ip(0):
            setter(b, b.net, v)
    return inject


def _ip_opt_outb(d, v, ok):
    if not ok or not v:
        return b"\0"
    return unparse_ip_opt_binary(v, all_options=True)


def _opt_inb(b, data, pos):
    if pos < len(data) and pos + data[pos] + 1 <= len(data):
        return bytes(data[pos + 1:pos + 1 + data[pos]]), pos + 1 + data[pos]
    return None, len(data)


def _transport_injector(dport):
    def inject(b, v):
        if not b.make_ip(0) or not b.make_transp():
            return
        p = b.ip_p()
        if p and not _has_udp_ports(p):
            return
        if b.transport_length() >= (4 if dport else 2):
            b.set_u16(b.trans + (2 if dport else 0), v)
    return inject


for _f in (
    Field("ip_src", B_4NET, ORDER_NET, _ip_parse_addr, _ip_injector("src"), _ip_src, lambda d, v: unparse_ip(v)),
    Field("ip_dst", B_4NET, ORDER_NET, _ip_parse_addr, _ip_injector("dst"), _ip_dst, lambda d, v: unparse_ip(v)),
    Field("ip_tos", B_1, ORDER_NET, _num_parser(B_1), _ip_injector("tos"), _ip_tos),
    Field("ip_dscp", B_1, ORDER_NET, _num_parser(B_1), _ip_injector("dscp"), _ip_dscp),
    Field("ip_ecn", B_1, ORDER_NET, _ip_parse_ecn, _ip_injector("ecn"), _ip_ecn, _ip_format_ecn),
    Field("ip_ttl", B_1, ORDER_NET, _num_parser(B_1), _ip_injector("ttl"), _ip_ttl),
    Field("ip_frag", B_1, ORDER_NET - 2, _ip_parse_frag, _ip_injector("frag"), _ip_frag, _ip_format_frag),
    Field("ip_fragoff", B_2, ORDER_NET - 1, _ip_parse_frag, _ip_injector("frag"), _ip_fragoff,
          _ip_format_fragoff),
    Field("ip_id", B_2, ORDER_NET, _num_parser(B_2), _ip_injector("id"), _ip_id),
    Field("ip_sum", B_2, ORDER_NET + 2, _num_parser(B_2), _ip_injector("sum"), _ip_sum),
    Field("ip_proto", B_1, ORDER_NET, _ip_parse_proto, _ip_injector("proto"), _ip_proto, _ip_format_proto),
    Field("ip_hl", B_1, ORDER_NET - 1, _num_parser(B_1), _ip_injector("hl"), _ip_hl),
    Field("ip_len", B_4, ORDER_NET + 1, _num_parser(B_4), _ip_injector("len"), _ip_len),
    Field("ip_capture_len", B_4, ORDER_PAYLOAD + 2, _num_parser(B_4), lambda b, v: None, _ip_capture_len),
    Field("ip_opt", B_SPECIAL, ORDER_NET, lambda s, b: parse_ip_opt(s), _ip_injector("opt"), _ip_opt,
          lambda d, v: unparse_ip_opt(v, mask=DO_IPOPT_ALL_NOPAD) if v else ".", True, _ip_opt_outb, _opt_inb),
    Field("sport", B_2, ORDER_TRANSP, _num_parser(B_2), _transport_injector(False), lambda d: _port(d, False)),
    Field("dport", B_2, ORDER_TRANSP, _num_parser(B_2), _transport_injector(True), lambda d: _port(d, True)),
):
    _add(_f)
SYNONYMS.update({"length": "ip_len", "ip_p": "ip_proto"})


# --- IP options -------------------------------------------------------------------------

DO_IPOPT_PADDING, DO_IPOPT_ROUTE, DO_IPOPT_TS, DO_IPOPT_UNKNOWN = 1, 2, 4, 32
DO_IPOPT_ALL = 0xFFFFFFFF
DO_IPOPT_ALL_NOPAD = 0xFFFFFFFE
IPOPT_EOL, IPOPT_NOP, IPOPT_RR, IPOPT_TS, IPOPT_SECURITY, IPOPT_LSRR, IPOPT_SATID, IPOPT_SSRR, IPOPT_RA = \
    0, 1, 7, 68, 130, 131, 136, 137, 148


def _ip_opt_mask(kind):
    if kind in (IPOPT_EOL, IPOPT_NOP):
        return DO_IPOPT_PADDING
    if kind in (IPOPT_RR, IPOPT_LSRR, IPOPT_SSRR):
        return DO_IPOPT_ROUTE
    if kind == IPOPT_TS:
        return DO_IPOPT_TS
    return DO_IPOPT_UNKNOWN


def _quad(o):
    return f"{o[0]}.{o[1]}.{o[2]}.{o[3]}"


def unparse_ip_opt(opt: bytes, mask: int = DO_IPOPT_ALL_NOPAD) -> str:
    """IP options in Click's text form ('rr{1.0.0.1}+2;ts{1,2}', '.' for none, '?' if invalid)."""
    out = []
    sep = ""
    i, end = 0, len(opt)
    while i < end:
        k = opt[i]
        if k == IPOPT_EOL:
            if mask & DO_IPOPT_PADDING:
                out.append(sep + "eol")
            break
        if k == IPOPT_NOP:
            if mask & DO_IPOPT_PADDING:
                out.append(sep + "nop")
                sep = ";"
            i += 1
            continue
        if i + 1 >= end:
            return "?"
        olen = opt[i + 1]
        if k in (IPOPT_RR, IPOPT_LSRR, IPOPT_SSRR):
            if i + olen > end or olen < 3 or opt[i + 2] < 4:
                return "?"
            if not mask & DO_IPOPT_ROUTE:
                i += olen if olen >= 2 else 128
                continue
            s = [sep + {IPOPT_RR: "rr", IPOPT_LSRR: "lsrr", IPOPT_SSRR: "ssrr"}[k] + "{"]
            o, ol, op = i + 3, i + olen, i + opt[i + 2] - 1
            rsep = ""
            while o + 4 <= ol:
                if o == op:
                    if k == IPOPT_RR:
                        break
                    rsep = "^"
                s.append(rsep + _quad(opt[o:o + 4]))
                rsep = ","
                o += 4
            if o == ol and o == op and k != IPOPT_RR:
                s.append("^")
            s.append("}")
            if o + 4 <= ol and o == op and k == IPOPT_RR:
                s.append(f"+{(ol - o) // 4}")
            out.append("".join(s))
            i = ol
            sep = ";"
        elif k == IPOPT_TS:
            if i + olen > end or olen < 4 or opt[i + 2] < 5:
                return "?"
            o, ol, op = i + 4, i + olen, i + opt[i + 2] - 1
            flag = opt[i + 3] & 0xF
            size = 8 if 1 <= flag <= 3 else 4
            s = [sep + "ts" + (".ip" if flag == 1 else ".preip" if flag == 3 else f".{flag}" if flag else "") + "{"]
            tsep = ""
            while o + size <= ol:
                if o == op:
                    if flag != 3:
                        break
                    tsep = "^"
                if flag != 0:
                    s.append(tsep + _quad(opt[o:o + 4]) + "=")
                    o += 4
                else:
                    s.append(tsep)
                if flag == 3 and o > op:
                    s[-1] = s[-1][:-1]
                else:
                    v = int.from_bytes(opt[o:o + 4], "big")
                    s.append(("!" if v & 0x80000000 else "") + str(v & 0x7FFFFFFF))
                tsep = ","
                o += 4
            if o == ol and o == op:
                s.append("^")
            s.append("}")
            if o + size <= ol and o == op:
                s.append(f"+{(ol - o) // size}")
            if opt[i + 3] & 0xF0:
                s.append(f"++{opt[i + 3] >> 4}")
            out.append("".join(s))
            i = ol
            sep = ";"
        else:
            if i + olen > end or olen < 2:
                return "?"
            if not mask & DO_IPOPT_UNKNOWN:
                i += olen
                continue
            s = sep + str(k)
            osep = "="
            for x in opt[i + 2:i + olen]:
                s += osep + str(x)
                osep = ":"
            out.append(s)
            i += olen
            sep = ";"
    return "".join(out) or "."


def unparse_ip_opt_binary(opt: bytes, all_options: bool = False, mask: int = DO_IPOPT_ALL) -> bytes:
    if all_options:
        return bytes([len(opt)]) + opt
    out = bytearray()
    i = 0
    while i < len(opt):
        k = opt[i]
        if k == IPOPT_EOL:
            if mask & DO_IPOPT_PADDING:
                out.append(k)
            break
        if k == IPOPT_NOP:
            if mask & DO_IPOPT_PADDING:
                out.append(k)
            i += 1
            continue
        if i + 1 >= len(opt) or opt[i + 1] < 2 or i + opt[i + 1] > len(opt):
            break
        if mask & _ip_opt_mask(k):
            out += opt[i:i + opt[i + 1]]
        i += opt[i + 1]
    return bytes([len(out)]) + bytes(out)


def _parse_quad(s, i):
    """Parse 'a.b.c.d' at s[i:]; returns (bytes, next index) or raises Bad."""
    m = re.compile(r"(\d+)\.(\d+)\.(\d+)\.(\d+)").match(s, i)
    if not m or any(int(g) > 255 for g in m.groups()):
        raise Bad(s)
    return bytes(int(g) for g in m.groups()), m.end()


def _parse_int_at(s, i):
    m = re.compile(r"0[xX][0-9a-fA-F]+|\d+").match(s, i)
    if not m:
        return None, i
    return int(m.group(), 0) if m.group()[:2].lower() == "0x" else int(m.group()), m.end()


def parse_ip_opt(s: str) -> bytes:
    """IP options from Click's text form; b'' for '.'. Raises Bad."""
    if not s or s == ".":
        return b""
    if s == "-":
        raise Bad(s)
    out = bytearray()
    i, n = 0, len(s)
    while True:
        if s.startswith(("rr{", "ssrr{", "lsrr{"), i):
            kind = IPOPT_RR if s.startswith("rr{", i) else IPOPT_SSRR if s.startswith("ssrr{", i) else IPOPT_LSRR
            i += 3 if kind == IPOPT_RR else 5
            pos = len(out)
            out += bytes([kind, 0, 0])
            pointer = -1
            while True:
                if i < n and s[i] == "^" and pointer < 0:
                    pointer = len(out) - pos + 1
                    i += 1
                if i >= n or not s[i].isdigit():
                    break
                q, i = _parse_quad(s, i)
                out += q
                if i < n and s[i] == ",":
                    i += 1
            if i >= n or s[i] != "}":
                raise Bad(s)
            out[pos + 2] = pointer if pointer >= 0 else len(out) - pos + 1
            i += 1
            if i + 1 < n and s[i] == "+" and s[i + 1].isdigit():
                v, i = _parse_int_at(s, i + 1)
                if v < 64:
                    out += bytes(v * 4)
            if len(out) - pos > 255:
                raise Bad(s)
            out[pos + 1] = len(out) - pos
        elif s.startswith(("ts{", "ts."), i):
            pos = len(out)
            out += bytes([IPOPT_TS, 0, 0, 0])
            flag = -1
            if s[i + 2] == ".":
                if s.startswith("ip{", i + 3):
                    flag, i = 1, i + 6
                elif s.startswith("preip{", i + 3):
                    flag, i = 3, i + 9
                else:
                    v, j = _parse_int_at(s, i + 3)
                    if v is None or v > 15 or j >= n or s[j] != "{":
                        raise Bad(s)
                    flag, i = v, j + 1
            else:
                i += 3
            pointer = -1
            while True:
                if i < n and s[i] == "^" and pointer < 0:
                    pointer = len(out) - pos + 1
                    i += 1
                if i >= n or not (s[i].isdigit() or s[i] == "!"):
                    break
                entry = i
                while True:
                    if flag in (1, 3, -2):
                        q, i = _parse_quad(s, i)
                        out += q
                        if pointer >= 0 and flag == -2:
                            flag = 3
                        if i + 1 < n and s[i] == "=":
                            if s[i + 1].isdigit() or s[i + 1] == "!":
                                i += 1
                            elif s[i + 1] == "?" and pointer >= 0:
                                out += bytes(4)
                                i += 2
                                break
                            else:
                                raise Bad(s)
                        elif pointer >= 0:
                            out += bytes(4)
                            break
                        else:
                            raise Bad(s)
                    top = 0
                    if s[i] == "!":
                        top, i = 0x80000000, i + 1
                    if i >= n or not s[i].isdigit():
                        raise Bad(s)
                    v, j = _parse_int_at(s, i)
                    if j < n and s[j] == "." and flag == -1:
                        flag = -2
                        i = entry
                        continue
                    if flag == -1:
                        flag = 0
                    i = j
                    out += ((v | top) & 0xFFFFFFFF).to_bytes(4, "big")
                    break
                if i < n and s[i] == ",":
                    i += 1
            if i < n:
                if s[i] != "}":
                    raise Bad(s)
                i += 1
            if flag == -2:
                flag = 1
            out[pos + 2] = pointer if pointer >= 0 else len(out) - pos + 1
            if i + 1 < n and s[i] == "+" and s[i + 1].isdigit():
                v, i = _parse_int_at(s, i + 1)
                if v < 64:
                    out += bytes(v * (8 if flag in (1, 3) else 4))
            overflow = 0
            if i + 2 < n and s[i] == "+" and s[i + 1] == "+" and s[i + 2].isdigit():
                v, i = _parse_int_at(s, i + 2)
                if v < 16:
                    overflow = v
            out[pos + 3] = ((overflow << 4) | max(flag, 0)) & 0xFF
            if len(out) - pos > 255:
                raise Bad(s)
            out[pos + 1] = len(out) - pos
        elif i < n and s[i].isdigit():
            v, i = _parse_int_at(s, i)
            if v >= 256:
                raise Bad(s)
            out.append(v)
            if i + 1 < n and s[i] == "=" and s[i + 1].isdigit():
                pos0 = len(out)
                out.append(0)
                while True:
                    v, i = _parse_int_at(s, i + 1)
                    if v >= 256:
                        raise Bad(s)
                    out.append(v)
                    if not (i + 1 < n and s[i] == ":" and s[i + 1].isdigit()):
                        break
                if len(out) > pos0 + 254:
                    raise Bad(s)
                out[pos0] = len(out) - pos0 + 1
        elif s.startswith("nop", i):
            out.append(IPOPT_NOP)
            i += 3
        elif s.startswith("eol", i) and (i + 3 == n or s[i + 3] != ","):
            out.append(IPOPT_EOL)
            i += 3
        else:
            raise Bad(s)
        if i >= n:
            while len(out) > 40 and out[0] == IPOPT_NOP:
                del out[0]
            if len(out) > 40:
                raise Bad(s)
            return bytes(out)
        if s[i] not in ",;":
            raise Bad(s)
        i += 1


# --- TCP ------------------------------------------------------------------------------

DO_TCPOPT_PADDING, DO_TCPOPT_MSS, DO_TCPOPT_WSCALE, DO_TCPOPT_SACK, DO_TCPOPT_TIMESTAMP, DO_TCPOPT_UNKNOWN = \
    1, 2, 4, 8, 16, 32
DO_TCPOPT_ALL = 0xFFFFFFFF
DO_TCPOPT_ALL_NOPAD = 0xFFFFFFFE
DO_TCPOPT_NTALL = 0xFFFFFFEE
_TCP_OPT_MASK = {0: DO_TCPOPT_PADDING, 1: DO_TCPOPT_PADDING, 2: DO_TCPOPT_MSS, 3: DO_TCPOPT_WSCALE,
                 4: DO_TCPOPT_SACK, 5: DO_TCPOPT_SACK, 6: DO_TCPOPT_UNKNOWN, 7: DO_TCPOPT_UNKNOWN,
                 8: DO_TCPOPT_TIMESTAMP}


def _tcp_check(d, length):
    if d.tcph < 0 or d.transport_length() < length:
        field_missing(d, IP_PROTO_TCP, length)
        return False
    return True


def _tcp_flags(d):
    return d.buf[d.tcph + 13] | ((d.buf[d.tcph + 12] & 0x0F) << 8) if _tcp_check(d, 14) else None


def _tcp_opt_extract(kind):
    def extract(d):
        tl = d.transport_length() if d.tcph >= 0 else 0
        if d.tcph < 0 or tl < 13:
            field_missing(d, IP_PROTO_TCP, tl + 1)
            return None
        off = d.buf[d.tcph + 12] >> 4
        if kind != "opt" and (off <= 5 or (off == 8 and tl >= 24
                                           and d.buf[d.tcph + 20:d.tcph + 24] == b"\x01\x01\x08\x0a")):
            return b""
        if off > 5 and tl < off << 2:
            field_missing(d, IP_PROTO_TCP, tl + 1)
            return None
        if off <= 5:
            return b""
        return bytes(d.buf[d.tcph + 20:d.tcph + (off << 2)])
    return extract


def format_tcp_flags(v: int) -> str:
    if v == 0x18:
        return "PA"
    if v == 0x10:
        return "A"
    if v == 0:
        return "."
    return "".join(TCP_FLAGS_WORD[i] for i in range(9) if v & (1 << i))


def _tcp_parse_flags(s, b):
    if s == ".":
        return 0
    if not s:
        raise Bad(s)
    if s[0].isdigit():
        v = parse_uint(s)
        if v >= 0x1000:
            raise Bad(s)
        return v
    v = 0
    for c in s:
        bit = _TCP_FLAG_BITS.get(c)
        if bit is None:
            raise Bad(s)
        v |= 1 << bit
    return v


def unparse_tcp_opt(opt: bytes, mask: int = DO_TCPOPT_ALL_NOPAD) -> str:
    """TCP options in Click's text form ('mss1460;sackok;ts1:2', '.' for none, '?' if invalid)."""
    out = []
    sep = ""
    i, end = 0, len(opt)
    while i < end:
        k = opt[i]
        if k == 0:
            if mask & DO_TCPOPT_PADDING:
                out.append(sep + "eol")
            break
        if k == 1:
            if mask & DO_TCPOPT_PADDING:
                out.append(sep + "nop")
                sep = ";"
            i += 1
            continue
        if i + 1 >= end:
            return "?"
        olen = opt[i + 1]
        want = {2: 4, 3: 3, 4: 2, 8: 10}.get(k)
        if k in (2, 3, 4, 8):
            if i + olen > end or olen != want:
                return "?"
        elif k == 5:
            if i + olen > end or olen % 8 != 2:
                return "?"
        elif i + olen > end or olen < 2:
            return "?"
        if not mask & _TCP_OPT_MASK.get(k, DO_TCPOPT_UNKNOWN):
            i += olen if olen >= 2 else 128
            continue
        if k == 2:
            out.append(f"{sep}mss{(opt[i + 2] << 8) | opt[i + 3]}")
        elif k == 3:
            out.append(f"{sep}wscale{opt[i + 2]}")
        elif k == 4:
            out.append(f"{sep}sackok")
        elif k == 5:
            j = i + 2
            while j < i + olen:
                a, b = struct.unpack_from("!II", opt, j)
                out.append(f"{sep}sack{a}-{b}")
                sep = ";"
                j += 8
        elif k == 8:
            a, b = struct.unpack_from("!II", opt, i + 2)
            out.append(f"{sep}ts{a}:{b}")
        else:
            s = sep + str(k)
            osep = "="
            for x in opt[i + 2:i + olen]:
                s += osep + str(x)
                osep = ":"
            out.append(s)
        i += olen
        sep = ";"
    return "".join(out) or "."


def unparse_tcp_opt_binary(opt: bytes, mask: int) -> bytes:
    if mask == DO_TCPOPT_ALL:
        return bytes([len(opt)]) + opt
    out = bytearray()
    i = 0
    while i < len(opt):
        k = opt[i]
        if k == 0:
            if mask & DO_TCPOPT_PADDING:
                out.append(k)
            break
        if k == 1:
            if mask & DO_TCPOPT_PADDING:
                out.append(k)
            i += 1
            continue
        if i + 1 >= len(opt) or opt[i + 1] < 2 or i + opt[i + 1] > len(opt):
            break
        if mask & _TCP_OPT_MASK.get(k, DO_TCPOPT_UNKNOWN):
            out += opt[i:i + opt[i + 1]]
        i += opt[i + 1]
    return bytes([len(out)]) + bytes(out)


def parse_tcp_opt(s: str, contents: int = DO_TCPOPT_ALL) -> bytes:
    """TCP options from Click's text form; b'' for '.'. Raises Bad."""
    if not s or s == ".":
        return b""
    if s == "-":
        raise Bad(s)
    out = bytearray()
    i, n = 0, len(s)
    while True:
        if s.startswith("mss", i) and i + 3 < n and contents & DO_TCPOPT_MSS:
            v, i = _parse_int_at(s, i + 3)
            if v is None or v > 0xFFFF:
                raise Bad(s)
            out += bytes([2, 4, v >> 8, v & 0xFF])
        elif s.startswith("wscale", i) and i + 6 < n and contents & DO_TCPOPT_WSCALE:
            v, i = _parse_int_at(s, i + 6)
            if v is None or v > 255:
                raise Bad(s)
            out += bytes([3, 3, v])
        elif s.startswith("sackok", i) and contents & DO_TCPOPT_SACK:
            out += bytes([4, 2])
            i += 6
        elif s.startswith("sack", i) and i + 4 < n and contents & DO_TCPOPT_SACK:
            pos = len(out)
            out += bytes([5, 0])
            i += 4
            while True:
                a, j = _parse_int_at(s, i)
                if a is None or j >= n or s[j] not in ":-":
                    raise Bad(s)
                b, j = _parse_int_at(s, j + 1)
                if b is None:
                    raise Bad(s)
                out += struct.pack("!II", a & 0xFFFFFFFF, b & 0xFFFFFFFF)
                i = j
                if not (i + 5 < n and s.startswith(",sack", i)):
                    break
                i += 5
            out[pos + 1] = len(out) - pos
        elif s.startswith("ts", i) and i + 2 < n and contents & DO_TCPOPT_TIMESTAMP:
            a, j = _parse_int_at(s, i + 2)
            if a is None or j >= n or s[j] != ":":
                raise Bad(s)
            b, j = _parse_int_at(s, j + 1)
            if b is None:
                raise Bad(s)
            if not out:
                out += bytes([1, 1])
            out += bytes([8, 10]) + struct.pack("!II", a & 0xFFFFFFFF, b & 0xFFFFFFFF)
            i = j
        elif i < n and s[i].isdigit() and contents & DO_TCPOPT_UNKNOWN:
            v, i = _parse_int_at(s, i)
            if v >= 256:
                raise Bad(s)
            out.append(v)
            if i + 1 < n and s[i] == "=" and s[i + 1].isdigit():
                pos0 = len(out)
                out.append(0)
                while True:
                    v, i = _parse_int_at(s, i + 1)
                    if v >= 256:
                        raise Bad(s)
                    out.append(v)
                    if not (i + 1 < n and s[i] == ":" and s[i + 1].isdigit()):
                        break
                if len(out) > pos0 + 254:
                    raise Bad(s)
                out[pos0] = len(out) - pos0 + 1
        elif s.startswith("nop", i) and contents & DO_TCPOPT_PADDING:
            out.append(1)
            i += 3
        elif s.startswith("eol", i) and contents & DO_TCPOPT_PADDING and (i + 3 == n or s[i + 3] != ","):
            out.append(0)
            i += 3
        else:
            raise Bad(s)
        if i >= n or s[i].isspace():
            while len(out) > 40 and out[0] == 1:
                del out[0]
            if len(out) > 40:
                raise Bad(s)
            return bytes(out)
        if s[i] not in ",;":
            raise Bad(s)
        i += 1


def _tcp_injector(kind):
    def inject(b, v):
        if not b.make_ip(IP_PROTO_TCP) or not b.make_transp():
            return
        t = b.trans
        tl = b.transport_length()
        if kind == "seq" and tl >= 8:
            b.set_u32(t + 4, v)
        elif kind == "ack" and tl >= 12:
            b.set_u32(t + 8, v)
        elif kind == "flags" and tl >= 14:
            b.buf[t + 13] = v & 0xFF
            b.buf[t + 12] = (b.buf[t + 12] & 0xF0) | ((v >> 8) & 0x0F)
        elif kind == "off" and tl >= 13:
            v = (v + 3) & ~3
            cur = (b.buf[t + 12] >> 4) << 2
            if v > cur:
                more = v - cur
                b.put(more)
                b.buf[t + v - more:t + v] = bytes(more)
            b.buf[t + 12] = (b.buf[t + 12] & 0x0F) | (((v >> 2) & 0x0F) << 4)
        elif kind == "window" and tl >= 16:
            b.set_u16(t + 14, v)
        elif kind == "urp" and tl >= 20:
            b.set_u16(t + 18, v)
        elif kind == "opt":
            b.have_tcp_hl = True
            if not v:
                return
            olen = len(v)
            th_off = (20 + olen + 3) & ~3
            if b.transport_length() < th_off:
                b.put(th_off - b.transport_length())
            if th_off > (b.buf[t + 12] >> 4) << 2:
                b.buf[t + 12] = (b.buf[t + 12] & 0x0F) | ((th_off >> 2) << 4)
            b.buf[t + 20:t + 20 + olen] = v
            b.buf[t + 20 + olen:t + th_off] = bytes(th_off - 20 - olen)
    return inject


def _tcp_opt_outb(mask):
    def outb(d, v, ok):
        if not ok or not v:
            return b"\0"
        return unparse_tcp_opt_binary(v, mask)
    return outb


for _f in (
    Field("tcp_seq", B_4, ORDER_TRANSP, _num_parser(B_4), _tcp_injector("seq"),
          lambda d: d.u32(d.tcph + 4) if _tcp_check(d, 8) else None),
    Field("tcp_ack", B_4, ORDER_TRANSP, _num_parser(B_4), _tcp_injector("ack"),
          lambda d: d.u32(d.tcph + 8) if _tcp_check(d, 12) else None),
    Field("tcp_off", B_1, ORDER_TRANSP - 1, _num_parser(B_1), _tcp_injector("off"),
          lambda d: (d.buf[d.tcph + 12] >> 4) << 2 if _tcp_check(d, 13) else None),
    Field("tcp_flags", B_1, ORDER_TRANSP, _tcp_parse_flags, _tcp_injector("flags"), _tcp_flags,
          lambda d, v: format_tcp_flags(v)),
    Field("tcp_window", B_2, ORDER_TRANSP, _num_parser(B_2), _tcp_injector("window"),
          lambda d: d.u16(d.tcph + 14) if _tcp_check(d, 16) else None),
    Field("tcp_urp", B_2, ORDER_TRANSP, _num_parser(B_2), _tcp_injector("urp"),
          lambda d: d.u16(d.tcph + 18) if _tcp_check(d, 20) else None),
    Field("tcp_opt", B_SPECIAL, ORDER_TRANSP + 3, lambda s, b: parse_tcp_opt(s), _tcp_injector("opt"),
          _tcp_opt_extract("opt"), lambda d, v: unparse_tcp_opt(v, DO_TCPOPT_ALL_NOPAD) if v else ".", True,
          _tcp_opt_outb(DO_TCPOPT_ALL), _opt_inb),
    Field("tcp_ntopt", B_SPECIAL, ORDER_TRANSP + 2, lambda s, b: parse_tcp_opt(s, DO_TCPOPT_NTALL),
          _tcp_injector("opt"), _tcp_opt_extract("ntopt"),
          lambda d, v: unparse_tcp_opt(v, DO_TCPOPT_NTALL) if v else ".", True,
          _tcp_opt_outb(DO_TCPOPT_NTALL), _opt_inb),
    Field("tcp_sack", B_SPECIAL, ORDER_TRANSP + 1, lambda s, b: parse_tcp_opt(s, DO_TCPOPT_SACK),
          _tcp_injector("opt"), _tcp_opt_extract("sack"),
          lambda d, v: unparse_tcp_opt(v, DO_TCPOPT_SACK) if v else ".", True,
          _tcp_opt_outb(DO_TCPOPT_SACK), _opt_inb),
):
    _add(_f)
SYNONYMS.update({"tcp_seqno": "tcp_seq", "tcp_ackno": "tcp_ack", "tcp_win": "tcp_window"})


# --- UDP --------------------------------------------------------------------------------

def _udp_len(d):
    if d.udph < 0 or d.transport_length() < 6:
        field_missing(d, IP_PROTO_UDP, 6)
        return None
    return d.u16(d.udph + 4)


def _inject_udp_len(b, v):
    if not b.make_ip(0) or not b.make_transp():
        return
    p = b.ip_p()
    if p and p not in (IP_PROTO_UDP, IP_PROTO_UDPLITE):
        return
    if b.transport_length() < 8:
        b.put(8 - b.transport_length())
    b.set_u16(b.trans + 4, v)


_add(Field("udp_len", B_4, ORDER_TRANSP, _num_parser(B_4), _inject_udp_len, _udp_len))


# --- ICMP -------------------------------------------------------------------------------

def _icmp_check(d, length):
    if d.icmph < 0 or d.transport_length() < length:
        field_missing(d, IP_PROTO_ICMP, length)
        return False
    return True


def _icmp_type(d):
    return d.buf[d.icmph] if _icmp_check(d, 1) else None


def _icmp_code(d):
    return d.buf[d.icmph + 1] if _icmp_check(d, 2) else None


def _icmp_flow(offset):
    def extract(d):
        if not _icmp_check(d, 1):
            return None
        t = d.buf[d.icmph]
        if t >= 32 or not ICMP_TYPE_HAVE_FLOW & (1 << t):
            return None
        return d.u16(d.icmph + offset) if _icmp_check(d, offset + 2) else None
    return extract


def _icmp_nextmtu(d):
    if not _icmp_check(d, 2):
        return None
    if d.buf[d.icmph] != 3 or d.buf[d.icmph + 1] != 4:
        return None
    return d.u16(d.icmph + 6) if _icmp_check(d, 8) else None


def _icmp_parse_type(s, b):
    if s in ICMP_TYPES:
        return ICMP_TYPES[s]
    return parse_uint(s, 256)


def _icmp_parse_code(s, b):
    if b.have_icmp_type:
        names = ICMP_CODES.get(b.buf[b.trans], {})
        if s in names:
            return names[s]
    return parse_uint(s, 256)


def _icmp_injector(kind):
    def inject(b, v):
        if not b.make_ip(IP_PROTO_ICMP) or not b.make_transp():
            return
        if b.transport_length() < 8:
            b.put(8 - b.transport_length())
        t = b.trans
        if kind == "type":
            b.buf[t] = v
            b.have_icmp_type = True
            hl = 20 if v in (13, 14) else 8
            if b.transport_length() < hl:
                b.put(hl - b.transport_length())
        elif kind == "code":
            b.buf[t + 1] = v
            b.have_icmp_code = True
        elif kind in ("flowid", "seq"):
            ty = b.buf[t]
            if not b.have_icmp_type or (ty < 32 and ICMP_TYPE_HAVE_FLOW & (1 << ty)):
                b.set_u16(t + (4 if kind == "flowid" else 6), v)
        elif kind == "nextmtu":
            if (not b.have_icmp_type or b.buf[t] == 3) and (not b.have_icmp_code or b.buf[t + 1] == 4):
                b.set_u16(t + 6, v)
    return inject


for _f in (
    Field("icmp_type", B_1, ORDER_TRANSP, _icmp_parse_type, _icmp_injector("type"), _icmp_type),
    Field("icmp_code", B_1, ORDER_TRANSP + 1, _icmp_parse_code, _icmp_injector("code"), _icmp_code),
    Field("icmp_type_name", B_1, ORDER_TRANSP, _icmp_parse_type, _icmp_injector("type"), _icmp_type,
          lambda d, v: icmp_type_name(v) or str(v)),
    Field("icmp_code_name", B_1, ORDER_TRANSP + 1, _icmp_parse_code, _icmp_injector("code"), _icmp_code,
          lambda d, v: icmp_code_name(d.buf[d.icmph], v) or str(v)),
    Field("icmp_flowid", B_2, ORDER_TRANSP + 2, _num_parser(B_2), _icmp_injector("flowid"), _icmp_flow(4)),
    Field("icmp_seq", B_2, ORDER_TRANSP + 2, _num_parser(B_2), _icmp_injector("seq"), _icmp_flow(6)),
    Field("icmp_nextmtu", B_2, ORDER_TRANSP + 2, _num_parser(B_2), _icmp_injector("nextmtu"), _icmp_nextmtu),
):
    _add(_f)


# --- payload -------------------------------------------------------------------------------

def payload_info(buf, data, end, net, trans, iph_ok):
    """(offset, length) of the payload: after the IP and TCP/UDP headers (Click's payload_info).

    Offsets are relative to the packet data; length may exceed what was captured.
    """
    if iph_ok:
        # bytes past the end of a short packet read as zero
        ip = bytes(buf[net:net + 20]).ljust(20, b"\0")
        length = (ip[2] << 8) | ip[3]
        if trans < 0:
            trans = net + ((ip[0] & 15) << 2)
        off = trans - data
        if ((ip[6] << 8) | ip[7]) & IP_OFFMASK == 0:
            p = ip[9]
            if p == IP_PROTO_TCP:
                if end - trans >= 13 and (buf[trans + 12] >> 4) << 2 >= 20:
                    off += (buf[trans + 12] >> 4) << 2
                else:
                    off += 20
            elif p in (IP_PROTO_UDP, IP_PROTO_UDPLITE):
                off += 8
        length -= off - (net - data)
        return off, length & 0xFFFFFFFF
    return 0, end - data


def _payload_extract(kind):
    def extract(d):
        end = d.end - d.tailpad
        off, length = payload_info(d.buf, d.data, end, d.net, d.trans, d.iph >= 0)
        if kind == "len":
            if d.iph < 0 or d.force_extra_length:
                length += d.extra_length
            return length & 0xFFFFFFFF
        if not (length == 0 or off < d.end - d.data):
            return None
        if off + length > d.length():
            length = d.length() - off
        return bytes(d.buf[d.data + off:d.data + off + max(length, 0)])
    return extract


def _account_payload_len(b, off, plen):
    if not b.is_ip or b.net is None or (b.u16(b.net + 2) == 0 and b.want_len == 0):
        b.want_len = off + plen
        return
    n = b.net
    # the packet length the IP header (or the wanted length) implies, from the data start
    ip_len = b.u16(n + 2) + n if b.u16(n + 2) else b.want_len
    delta = ip_len - (off + plen)
    if (delta > 0 and b.first_frag() and b.ip_p() == IP_PROTO_TCP and not b.have_tcp_hl
            and b.trans is not None and b.transport_length() >= 13 and b.buf[b.trans + 12] >> 4 == 5):
        th_delta = delta - (delta & 3)
        if th_delta + 20 > 60:
            th_delta = 40
        tx = b.trans + 20
        b.buf[tx:tx] = bytes(th_delta)
        b.buf[b.trans + 12] = (b.buf[b.trans + 12] & 0x0F) | (((20 + th_delta) >> 2) << 4)
        delta -= th_delta
    if delta > 0 and not b.have_ip_hl and b.buf[n] & 15 == 5:
        ip_delta = delta - (delta & 3)
        if ip_delta + 20 > 60:
            ip_delta = 40
        nx = n + 20
        b.buf[nx:nx] = bytes(ip_delta)
        b.buf[n] = (b.buf[n] & 0xF0) | ((20 + ip_delta) >> 2)
        b.set_ip_header(n, 20 + ip_delta)


def _inject_payload(kind):
    def inject(b, v):
        if b.make_ip(0):
            b.make_transp()
        if b.is_ip and b.net is not None:
            off, _ = payload_info(b.buf, 0, len(b.buf), b.net, b.trans, True)
        else:
            off = 0
        if kind == "payload":
            if not v:
                return
            _account_payload_len(b, off, len(v))
            # the headers may have grown: recompute where the payload goes
            if b.is_ip and b.net is not None:
                off, _ = payload_info(b.buf, 0, len(b.buf), b.net, b.trans, True)
            if len(b.buf) - off < len(v):
                b.put(len(v) - (len(b.buf) - off))
            b.buf[off:off + len(v)] = v
        else:
            _account_payload_len(b, off, v)
    return inject


def _payload_parse(s, b):
    try:
        from clickpy.lang.confstring import split_words

        words = split_words(s)
    except Exception:
        raise Bad(s) from None
    if len(words) != 1:
        raise Bad(s)
    return unquote(words[0]).encode("latin-1", "replace")


def _payload_md5_outb(d, v, ok):
    return hashlib.md5(v if ok and v is not None else b"").digest()


for _f in (
    Field("payload_len", B_4, ORDER_PAYLOAD + 1, _num_parser(B_4), _inject_payload("len"), _payload_extract("len")),
    Field("payload", B_NOTALLOWED, ORDER_PAYLOAD, _payload_parse, _inject_payload("payload"),
          _payload_extract("payload"), lambda d, v: quote(v.decode("latin-1")), True),
    Field("payload_md5", B_16, ORDER_PAYLOAD, None, None, _payload_extract("payload"),
          lambda d, v: md5_text_digest(v), True, _payload_md5_outb),
    Field("payload_md5_hex", B_16, ORDER_PAYLOAD, None, None, _payload_extract("payload"),
          lambda d, v: hashlib.md5(v).hexdigest(), True, _payload_md5_outb),
):
    _add(_f)
SYNONYMS.update({"payload_length": "payload_len"})


# --- a whole packet out ------------------------------------------------------------------------

def summarize(d: PacketDesc, fields, binary: bool = False):
    """One packet's dump record: a text line (with its newline) or binary bytes."""
    if any(f.prepare for f in fields):
        ip_prepare(d)
    if binary:
        parts = []
        for f in fields:
            v = f.extract(d)
            parts.append(f.write_binary(d, v, v is not None))
        body = b"".join(parts)
        return struct.pack("!I", len(body) + 4) + body
    out = []
    for f in fields:
        v = f.extract(d)
        out.append("-" if v is None else f.format(d, v))
    return " ".join(out) + "\n"


# --- a whole packet in ----------------------------------------------------------------------

def split_line(line: str, nfields: int) -> list[str]:
    """The first nfields space-separated words of a dump line (double quotes group); '' for missing."""
    if '"' not in line:
        args = line.split(None, nfields)[:nfields]
        if len(args) < nfields:
            args += [""] * (nfields - len(args))
        return args
    args = []
    i, n = 0, len(line)
    while len(args) < nfields:
        start = i
        while i < n and not line[i].isspace():
            if line[i] == '"':
                i += 1
                while i < n and line[i] != '"':
                    i += 2 if line[i] == "\\" else 1
                i = min(i + 1, n)
            else:
                i += 1
        args.append(line[start:i])
        while i < n and line[i].isspace():
            i += 1
    return args


def finish_packet(b: PacketBuilder, checksum: bool, zero: bool = True) -> int:
    """Final touches after the fields (Click's read_packet tail); returns the extra length."""
    if b.default_flowid is not None:
        b.make_ip(0)
    if b.is_ip and b.net is not None and b.network_length() >= 20:
        b.make_transp()
        n = b.net
        if b.u16(n + 2) == 0:
            ip_len = b.want_len
            if ip_len >= n:
                ip_len -= n
            if ip_len > 0xFFFF:
                ip_len = 0xFFFF
            elif ip_len == 0:
                ip_len = b.network_length()
            b.set_u16(n + 2, ip_len)
        else:
            ip_len = b.u16(n + 2)
        first = b.first_frag()
        if b.ip_p() == IP_PROTO_UDP and first and b.transport_length() >= 6 and b.u16(b.trans + 4) == 0:
            b.set_u16(b.trans + 4, (ip_len - (b.trans - n)) & 0xFFFF)
        if checksum:
            if ip_len > b.network_length():
                b.put(ip_len - b.network_length())
            set_checksums(b)
    if b.want_len > len(b.buf):
        return b.want_len - len(b.buf)
    return 0


def set_checksums(b: PacketBuilder) -> None:
    n, t = b.net, b.trans
    hl = (b.buf[n] & 15) << 2
    b.set_u16(n + 10, 0)
    b.set_u16(n + 10, in_cksum(b.buf[n:n + hl]))
    if b.u16(n + 6) & (IP_MF | IP_OFFMASK):
        return
    p = b.ip_p()
    tlen = len(b.buf) - t
    if p in (IP_PROTO_TCP, IP_PROTO_UDP) and tlen >= (18 if p == IP_PROTO_TCP else 8):
        off = t + (16 if p == IP_PROTO_TCP else 6)
        b.set_u16(off, 0)
        pseudo = bytes(b.buf[n + 12:n + 20]) + struct.pack("!BBH", 0, p, tlen)
        c = in_cksum(pseudo + bytes(b.buf[t:]))
        if p == IP_PROTO_UDP and c == 0:
            c = 0xFFFF
        b.set_u16(off, c)
    elif p == IP_PROTO_ICMP and tlen >= 4:
        b.set_u16(t + 2, 0)
        b.set_u16(t + 2, in_cksum(b.buf[t:]))
