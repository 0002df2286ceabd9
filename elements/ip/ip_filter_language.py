"""IPFilter's pattern language: tokens, an expression tree, a decision program.

IPFilter and IPClassifier take tcpdump-like patterns (Click's language; see
IPClassifier's documentation for the primitives). This module turns them
into a Classifier program in three stages, each usable on its own:

1. ``tokenize(text)``: words with their columns, split as Click splits them
   (``&&``, ``||``, ``<=``, ``>=``, ``!=``, ``==`` and single punctuation are
   tokens; a word is a run of letters, digits and ``-./@_:``).
2. ``Parser(tokens, context).parse()``: an expression tree of ``Ternary``,
   ``Or``, ``And``, ``Not``, ``Const`` and ``Test`` nodes. A ``Test`` holds a
   resolved ``Primitive``: names looked up (ports, protocols, ICMP types,
   TCP flags, AddressInfo/PortInfo names), left-out qualifiers filled in from
   the previous primitive (``src port 80 or 81``), values range-checked and
   relations reduced to masked comparisons. ``node.unparse()`` prints a tree
   back as fully qualified text that parses to the same tree.
3. ``node.compile(program, tree)``: the tree as steps of a
   ``clickpy.elements.standard.classifier.Program``, emitted in the order
   Click's parser emits them, so the optimized program (the ``program``
   handler) is the one Click prints.

``compile_rules(rules, noutputs, context, errh)`` runs all three for a whole
configuration and merges the per-rule programs as Click does.

Offsets in the program are Click's: bytes 0-255 count from 2 bytes before
the MAC header (``ether host``), 256-511 from the IP header, 512 and up from
the transport header, whatever the IP header's length.

Errors name the rule (numbered from 0, like the outputs), its text and the
column (from 1) of the word where the problem was found, e.g. ``rule 3
"allow tcp port htp", column 16: unknown port name 'htp'`` (IPClassifier
says ``pattern 3 "tcp port htp"``). Each rule reports its first error.
"""
from __future__ import annotations

import socket

from clickpy.lang.confstring import unquote
from clickpy.runtime.args import ArgError, EtherAddress, IPAddress, IPPrefixOnly, scan_int, unparse_ip

from clickpy.runtime.names import (
    ICMP_TYPES, IP_PROTO_DCCP, IP_PROTO_ICMP, IP_PROTO_IGMP, IP_PROTO_IPIP, IP_PROTO_PAYLOAD, IP_PROTO_TCP,
    IP_PROTO_TCP_OR_UDP, IP_PROTO_TRANSP, IP_PROTO_UDP, IP_PROTOS,
)
from clickpy.elements.standard.classifier import (C_AND, C_OR, C_TERNARY, J_FAILURE, J_NEVER,
                                                   OFFSET_MAX, CompressedProgram, Program)
from clickpy.elements.standard.port_info import lookup_port

# --- Click's constants ------------------------------------------------------------

TYPE_NONE = 0           # data and type codes
TYPE_TYPE = 1
TYPE_SYNTAX = 2
TYPE_INT = 3
TYPE_HOST = 10
TYPE_PROTO = 11
TYPE_IPFRAG = 12
TYPE_PORT = 13
TYPE_TCPOPT = 14
TYPE_ETHER = 15
TYPE_NET = 30           # shorthands, resolved by Primitive.check
TYPE_IPUNFRAG = 31
TYPE_IPECT = 32
TYPE_IPCE = 33

# A header field: TYPE_FIELD | protocol << 21 | bit offset << 5 | (bit length - 1).
TYPE_FIELD = 0x40000000
FIELD_PROTO_SHIFT = 21
FIELD_PROTO_MASK = 0x1FF << FIELD_PROTO_SHIFT
FIELD_OFFSET_SHIFT = 5
FIELD_OFFSET_MASK = 0xFFFF << FIELD_OFFSET_SHIFT
FIELD_LENGTH_MASK = 0x1F

def _field(offset_bits, nbits, proto=0):
    return TYPE_FIELD | (proto << FIELD_PROTO_SHIFT) | (offset_bits << FIELD_OFFSET_SHIFT) | (nbits - 1)


FIELD_CSUM = _field(80, 16)
FIELD_IPLEN = _field(16, 16)
FIELD_ID = _field(32, 16)
FIELD_VERSION = _field(0, 4)
FIELD_HL = _field(4, 4)
FIELD_TOS = _field(8, 8)
FIELD_DSCP = _field(8, 6)
FIELD_TTL = _field(64, 8)
FIELD_TCP_WIN = _field(112, 16, IP_PROTO_TCP)
FIELD_ICMP_TYPE = _field(0, 8, IP_PROTO_ICMP)

UNKNOWN = -1000
SD_SRC, SD_DST, SD_AND, SD_OR = 1, 2, 3, 4
OP_EQ, OP_GT, OP_LT = 0, 1, 2

OFFSET_MAC = 0
OFFSET_NET = 256
OFFSET_TRANSP = 512

PERFORM_BINARY_SEARCH = True
MIN_BINARY_SEARCH = 7
_OFFSET_MAP = (OFFSET_NET + 8, OFFSET_NET + 3)   # sort protocol tests before the rest
_M32 = 0xFFFFFFFF

# Words with a meaning of their own (Click's IPFilter type database). "flags"
# is our synonym for Click's "opt" (TCP flags).
TYPE_WORDS = {
    "ce": TYPE_IPCE, "dest": TYPE_SYNTAX, "dscp": FIELD_DSCP, "dst": TYPE_SYNTAX,
    "ect": TYPE_IPECT, "ether": TYPE_SYNTAX, "flags": TYPE_TCPOPT, "frag": TYPE_IPFRAG,
    "hl": FIELD_HL, "host": TYPE_HOST, "id": FIELD_ID, "ip": TYPE_SYNTAX, "len": FIELD_IPLEN,
    "net": TYPE_NET, "not": TYPE_SYNTAX, "opt": TYPE_TCPOPT, "port": TYPE_PORT,
    "proto": TYPE_PROTO, "src": TYPE_SYNTAX, "tos": FIELD_TOS, "ttl": FIELD_TTL,
    "type": FIELD_ICMP_TYPE, "unfrag": TYPE_IPUNFRAG, "vers": FIELD_VERSION, "win": FIELD_TCP_WIN,
}

TCP_OPTS = {"ack": 0x10, "fin": 0x01, "psh": 0x08, "rst": 0x04, "syn": 0x02, "urg": 0x20}

# The kind of value each name database holds, in lookup order.
_DB_TYPES = (TYPE_PROTO, TYPE_PORT, TYPE_PORT, TYPE_TCPOPT, FIELD_ICMP_TYPE)

_FIELD_NAMES = {
    FIELD_IPLEN: "ip len", FIELD_ID: "ip id", FIELD_VERSION: "ip vers", FIELD_HL: "ip hl",
    FIELD_TOS: "ip tos", FIELD_DSCP: "ip dscp", FIELD_TTL: "ip ttl", FIELD_TCP_WIN: "tcp win",
    FIELD_ICMP_TYPE: "icmp type",
}

# The protocols IPFilter prints by name (the others as 'ip proto N').
_PROTO_WORDS = {IP_PROTO_ICMP: "icmp", IP_PROTO_IGMP: "igmp", IP_PROTO_IPIP: "ipip", IP_PROTO_TCP: "tcp",
                IP_PROTO_UDP: "udp", IP_PROTO_DCCP: "dccp", IP_PROTO_TCP_OR_UDP: "tcpudp",
                IP_PROTO_TRANSP: "transp", IP_PROTO_PAYLOAD: "payload"}

_CONNECTIVES = {"and", "&&", "or", "||", "not", "!", "(", ")", "?", ":", "[", "]"}


class FilterError(Exception):
    """A problem in one rule, found at token index ``pos`` (or column ``col``)."""

    def __init__(self, message, pos=None, col=None):
        super().__init__(message)
        self.pos = pos
        self.col = col


# --- stage 1: tokens -------------------------------------------------------------------

class Token:
    __slots__ = ("text", "col")

    def __init__(self, text, col):
        self.text = text
        self.col = col          # 1-based column in the rule text

    def __repr__(self):
        return f"Token({self.text!r}, {self.col})"


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-./@_:")


def rule_text(arg):
    """One configuration argument as the rule text its columns count in.

    Quotes are removed (Click's cp_unquote); a line break and the indentation
    after it count as one space, so a rule spread over lines has the columns
    of the same rule written on one line.
    """
    text = unquote(arg)
    if "\n" in text or "\r" in text:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        text = " ".join(line.strip() if i else line.rstrip() for i, line in enumerate(lines))
    return text


def tokenize(text):
    """The rule's words, as Click's IPFilter separates them."""
    tokens = []
    n = len(text)
    pos = 0
    while pos < n:
        c = text[pos]
        if c.isspace():
            pos += 1
            continue
        nxt = text[pos + 1] if pos + 1 < n else ""
        if (c in "&|" and nxt == c) or (c in "<>!=" and nxt == "="):
            tokens.append(Token(text[pos:pos + 2], pos + 1))
            pos += 2
        elif c in "&|<>!=()[],;?":
            tokens.append(Token(c, pos + 1))
            pos += 1
        else:
            first = pos
            while pos < n and text[pos] in _WORD_CHARS:
                pos += 1
            if pos == first:
                pos += 1
            tokens.append(Token(text[first:pos], first + 1))
    return tokens


# --- names --------------------------------------------------------------------------------

def _parse_int(text):
    """Click's IntArg for an int: None unless text is an integer in range."""
    v = scan_int(text)
    return v if v is not None and -(1 << 31) <= v < (1 << 31) else None


def _parse_value(text):
    """A value to compare with: an int, or an unsigned up to 0xFFFFFFFF (4-byte fields)."""
    v = scan_int(text)
    return v if v is not None and -(1 << 31) <= v <= _M32 else None


def _parse_uint(text):
    """Click's IntArg for a uint32_t."""
    v = scan_int(text)
    return v if v is not None and 0 <= v <= _M32 and not text.startswith("-") else None


def _proto_number(word, context):
    v = IP_PROTOS.get(word)
    if v is not None:
        return v
    try:
        return socket.getprotobyname(word)
    except (OSError, UnicodeError, ValueError):
        return None


def _port_number(word, proto, context):
    try:
        return lookup_port(word, proto, context)
    except (ArgError, ValueError, KeyError):
        return None


def _unparse_word(type_, proto, word):
    tn = Primitive.unparse_type_text(0, type_) if type_ else ""
    tr = unparse_transp_proto(proto)
    if tn:
        tn += " "
    if tr or (word and tn):
        tr += " "
    return tn + tr + word


def lookup(word, type_, proto, context):
    """What a name means: (kind, value).

    kind is -1 when the word is no name (or a syntax word), TYPE_TYPE when it
    names a kind of primitive (value: the type code), else the type code of
    the value it names (TYPE_PROTO, TYPE_PORT, TYPE_TCPOPT, FIELD_ICMP_TYPE).
    A name that could mean several things, or nothing sensible here, raises
    FilterError.
    """
    if type_ in (TYPE_NONE, TYPE_TYPE):
        t = TYPE_WORDS.get(word)
        if t is not None:
            return (-1, None) if t == TYPE_SYNTAX else (TYPE_TYPE, t)
    if not word or _parse_int(word) is not None or not (word[0].isalpha() or word[0] == "_"):
        return -1, None
    got = [_proto_number(word, context), _port_number(word, IP_PROTO_TCP, context),
           _port_number(word, IP_PROTO_UDP, context), TCP_OPTS.get(word), ICMP_TYPES.get(word)]
    if all(g is None for g in got):
        return -1, None
    tcpish = proto in (UNKNOWN, IP_PROTO_TCP, IP_PROTO_TCP_OR_UDP)
    tgot = [
        got[0] is not None and type_ in (0, TYPE_PROTO),
        got[1] is not None and type_ in (0, TYPE_PORT) and tcpish,
        got[2] is not None and type_ in (0, TYPE_PORT) and proto in (UNKNOWN, IP_PROTO_UDP, IP_PROTO_TCP_OR_UDP),
        got[3] is not None and type_ in (0, TYPE_TCPOPT) and tcpish,
        got[4] is not None and type_ in (0, FIELD_ICMP_TYPE) and proto in (UNKNOWN, IP_PROTO_ICMP),
    ]
    if tgot[1] and tgot[2] and got[1] == got[2]:
        tgot[2] = False
    if sum(tgot) == 1:
        i = tgot.index(True)
        return _DB_TYPES[i], got[i]
    tries = ", ".join(f"'{_unparse_word(_DB_TYPES[i], proto, word)}'"
                      for i in range(5) if got[i] is not None)
    raise FilterError(f"'{_unparse_word(type_, proto, word)}' is "
                      f"{'ambiguous' if sum(tgot) > 1 else 'meaningless'}; try {tries}")


def unparse_transp_proto(proto):
    if proto == UNKNOWN:
        return ""
    name = _PROTO_WORDS.get(proto)
    return name if name is not None else f"ip proto {proto}"


def _ffs_msb(x):
    """Click's ffs_msb: 1 for the most significant bit of 32, 32 for the least; 0 for 0."""
    return 33 - x.bit_length() if x else 0


# --- primitives ------------------------------------------------------------------------

class Primitive:
    """One test: Click's Primitive, resolved and checked.

    ``u`` and ``mask`` are integers holding the value as it reads in the
    packet (an address as a big-endian integer); for Ethernet addresses
    they are 6-byte strings.
    """
    __slots__ = ("type", "data", "op", "op_negated", "srcdst", "transp_proto", "u", "mask",
                 "col", "text")

    def __init__(self):
        self.clear()
        self.col = 0
        self.text = ""

    def clear(self):
        self.type = TYPE_NONE
        self.data = TYPE_NONE
        self.op = OP_EQ
        self.op_negated = False
        self.srcdst = 0
        self.transp_proto = UNKNOWN
        self.u = 0
        self.mask = 0

    def copy(self):
        c = Primitive.__new__(Primitive)
        for k in Primitive.__slots__:
            setattr(c, k, getattr(self, k))
        return c

    # --- qualifiers ---------------------------------------------------------------

    def set_type(self, t, pos):
        if self.type:
            raise FilterError("type specified twice", pos)
        self.type = t

    def set_srcdst(self, sd, pos):
        if self.srcdst:
            raise FilterError("'src' or 'dst' specified twice", pos)
        self.srcdst = sd

    def set_transp_proto(self, proto, pos):
        if self.transp_proto != UNKNOWN and self.transp_proto != proto:
            raise FilterError("transport protocol specified twice", pos)
        self.transp_proto = proto

    # --- printing -----------------------------------------------------------------

    @staticmethod
    def unparse_type_text(srcdst, t):
        sd = {SD_SRC: "src ", SD_DST: "dst ", SD_OR: "src or dst ", SD_AND: "src and dst "}.get(srcdst, "")
        names = {TYPE_NONE: "<none>", TYPE_HOST: "ip host", TYPE_PROTO: "proto",
                 TYPE_ETHER: "ether host", TYPE_IPFRAG: "ip frag", TYPE_PORT: "port",
                 TYPE_TCPOPT: "tcp opt", TYPE_NET: "ip net", TYPE_IPUNFRAG: "ip unfrag",
                 TYPE_IPECT: "ip ect", TYPE_IPCE: "ip ce"}
        if t in names:
            return sd + names[t]
        if t >= 0 and t & TYPE_FIELD:
            if t in _FIELD_NAMES:
                return sd + _FIELD_NAMES[t]
            proto = (t & FIELD_PROTO_MASK) >> FIELD_PROTO_SHIFT
            return sd + (unparse_transp_proto(proto) if proto else "ip") + "[...]"
        return sd + f"<unknown type {t}>"

    def unparse_type(self):
        return Primitive.unparse_type_text(self.srcdst, self.type)

    def unparse_op(self):
        if self.op == OP_GT:
            return "<=" if self.op_negated else ">"
        if self.op == OP_LT:
            return ">=" if self.op_negated else "<"
        return "!=" if self.op_negated else "="

    def _type_error(self, message, pos):
        return FilterError(f"'{self.unparse_type()}': {message}", pos)

    # --- checking -----------------------------------------------------------------

    def set_mask(self, full_mask, shift, provided_mask, warn, pos):
        """Range-check the value and reduce a relation to a comparison Click can compile."""
        data = self.u & _M32
        this_mask = provided_mask if provided_mask else full_mask
        if this_mask & full_mask != this_mask:
            raise FilterError(f"'{self.unparse_type()}': mask out of range, bound 0x{full_mask:X}", pos)
        if self.op in (OP_GT, OP_LT):
            if ((self.op == OP_LT and (data == 0 or data > this_mask))
                    or (self.op == OP_GT and data >= this_mask)):
                will_be = (not self.op_negated) if (self.op == OP_LT and data > this_mask) else self.op_negated
                warn(f"relation '{self.unparse_op()} {data}' is always "
                     f"{'true' if will_be else 'false'} (range 0-{this_mask})", pos)
                self.u = self.mask = 0
                self.op_negated = not will_be
                self.op = OP_EQ
                return
            u = data
            if self.op == OP_LT:        # x < N is !(x > N - 1)
                u -= 1
                self.op_negated = not self.op_negated
                self.op = OP_GT
            low = (1 << shift) - 1
            u = ((u << shift) | low) & _M32
            mask = ((this_mask << shift) | low) & _M32
            if u & mask != u:
                # 'x & 5 > 2' is 'x & 5 > 1': keep the mask's bits, and below
                # the highest bit the mask drops, turn every bit on
                full = ((full_mask << shift) | low) & _M32
                missing = (u & mask) ^ (u & full)
                k = _ffs_msb(missing)
                add = (_M32 >> k) if k < 32 else 0
                u = (u | add) & mask
            self.u, self.mask = u, mask
            return
        if data > full_mask:
            raise FilterError(f"'{self.unparse_type()}': out of range, bound {full_mask}", pos)
        self.u = (data << shift) & _M32
        self.mask = (this_mask << shift) & _M32

    def check(self, prev, header, mask_dt, mask, warn, pos, data_pos, data_word):
        """Resolve the primitive (Click's Primitive::check); raises FilterError."""
        old_srcdst = self.srcdst
        if self.type < 0:
            raise FilterError("bad primitive", pos)
        if not self.type:
            data = self.data
            while True:
                if data in (TYPE_HOST, TYPE_NET, TYPE_TCPOPT, TYPE_ETHER):
                    self.type = data
                    if not self.srcdst:
                        self.srcdst = prev.srcdst
                elif data == TYPE_PROTO:
                    self.type = TYPE_PROTO
                elif data == TYPE_PORT:
                    self.type = TYPE_PORT
                    if not self.srcdst:
                        self.srcdst = prev.srcdst
                    if self.transp_proto == UNKNOWN:
                        self.transp_proto = prev.transp_proto
                elif data == TYPE_INT:
                    if not (prev.type & TYPE_FIELD) and prev.type not in (TYPE_PROTO, TYPE_PORT):
                        raise FilterError("specify header field or 'port'", data_pos)
                    data = self.data = prev.type
                    continue
                elif data == TYPE_NONE:
                    if self.transp_proto != UNKNOWN:
                        self.type = TYPE_PROTO
                    elif data_word is not None:
                        raise FilterError(f"unknown name '{data_word}'", data_pos)
                    else:
                        raise FilterError("partial directive", pos)
                elif data & TYPE_FIELD:
                    self.type = data
                    if (data & FIELD_PROTO_MASK) and self.transp_proto == UNKNOWN:
                        self.transp_proto = (data & FIELD_PROTO_MASK) >> FIELD_PROTO_SHIFT
                else:
                    raise FilterError(f"unknown type '{Primitive.unparse_type_text(0, data)}'", pos)
                break

        if header == 0:
            header = "e" if self.data == TYPE_ETHER else "i"
        if header == "e" and self.type == TYPE_HOST:
            self.type = TYPE_ETHER

        def missing():
            what = {TYPE_HOST: "IP address", TYPE_NET: "IP network address", TYPE_ETHER: "Ethernet address",
                    TYPE_PROTO: "IP protocol", TYPE_PORT: "port number", TYPE_TCPOPT: "TCP flag",
                    FIELD_ICMP_TYPE: "ICMP type"}.get(self.type, "integer")
            if data_word is not None and data_word not in _CONNECTIVES and data_word[:1].isalpha():
                name = {TYPE_PORT: "port name", TYPE_PROTO: "IP protocol", TYPE_TCPOPT: "TCP flag",
                        FIELD_ICMP_TYPE: "ICMP type"}.get(self.type, "name")
                return FilterError(f"unknown {name} '{data_word}'", data_pos)
            if data_word is not None:
                return FilterError(f"expected {what}, not '{data_word}'", data_pos)
            return FilterError(f"expected {what}", data_pos)

        t = self.type
        if t in (TYPE_HOST, TYPE_NET):
            if header != "i" or self.data != t:
                if header != "i":
                    raise self._type_error("address missing", pos)
                raise missing()
            if self.op != OP_EQ:
                raise self._type_error("operator not supported", pos)
            if t == TYPE_HOST:
                self.mask = _M32
            self.type = TYPE_HOST
            if mask_dt and mask_dt not in (TYPE_INT, TYPE_HOST):
                raise self._type_error("bad mask", pos)
            if mask_dt:
                self.mask = mask
        elif t == TYPE_ETHER:
            if header != "e" or self.data != TYPE_ETHER:
                if header != "e":
                    raise self._type_error("address missing", pos)
                raise missing()
            if self.op != OP_EQ:
                raise self._type_error("operator not supported", pos)
            self.mask = b"\xff" * 6
            if mask_dt and mask_dt != TYPE_ETHER:
                raise self._type_error("bad mask", pos)
            if mask_dt:
                self.mask = mask
        elif t == TYPE_PROTO:
            if header != "i":
                raise self._type_error("ip only", pos)
            was_int = self.data == TYPE_INT
            if self.data in (TYPE_INT, TYPE_PROTO):
                if self.transp_proto != UNKNOWN and self.transp_proto != self.u:
                    raise self._type_error("specified twice", pos)
                self.data = TYPE_NONE
            else:
                self.u = self.transp_proto
            self.transp_proto = UNKNOWN
            if self.data != TYPE_NONE or self.u == UNKNOWN:
                raise missing()
            if self.u >= 256:
                if was_int or self.u not in _PROTO_WORDS:
                    raise self._type_error("out of range, bound 255", data_pos)
                if self.op != OP_EQ or mask_dt:
                    raise FilterError(f"'{unparse_transp_proto(self.u)}': operator or mask not supported", pos)
                self.mask = 0xFF
            elif mask_dt and mask_dt != TYPE_INT:
                raise self._type_error("bad mask", pos)
            else:
                self.set_mask(0xFF, 0, mask if mask_dt else 0, warn, data_pos)
            if self.op == OP_EQ and self.mask == 0xFF and not self.op_negated:
                self.transp_proto = self.u
        elif t == TYPE_PORT:
            if header != "i":
                raise self._type_error("ip only", pos)
            if self.data == TYPE_INT:
                self.data = TYPE_PORT
            if self.data != TYPE_PORT:
                raise missing()
            if self.transp_proto == UNKNOWN:
                self.transp_proto = IP_PROTO_TCP_OR_UDP
            elif self.transp_proto not in (IP_PROTO_TCP, IP_PROTO_UDP, IP_PROTO_TCP_OR_UDP, IP_PROTO_DCCP):
                raise FilterError(f"'port': bad protocol {self.transp_proto}", pos)
            if mask_dt and mask_dt != TYPE_INT:
                raise self._type_error("bad mask", pos)
            self.set_mask(0xFFFF, 0, mask if mask_dt else 0, warn, data_pos)
        elif t == TYPE_TCPOPT:
            if header != "i":
                raise self._type_error("ip only", pos)
            if self.data == TYPE_INT:
                self.data = TYPE_TCPOPT
            if self.data != TYPE_TCPOPT:
                raise missing()
            if self.transp_proto == UNKNOWN:
                self.transp_proto = IP_PROTO_TCP
            elif self.transp_proto != IP_PROTO_TCP:
                raise FilterError(f"'tcp opt': bad protocol {self.transp_proto}", pos)
            if self.op != OP_EQ or self.op_negated or mask_dt:
                raise self._type_error("operator or mask not supported", pos)
            if not 0 <= self.u <= 255:
                raise FilterError(f"'tcp opt': value {self.u} out of range", data_pos)
            self.mask = self.u
        elif t == TYPE_IPECT:
            if header != "i":
                raise self._type_error("ip only", pos)
            if self.data not in (TYPE_NONE, TYPE_INT):
                raise missing()
            if self.data == TYPE_NONE:
                self.mask = 3
                self.u = 0
                self.op_negated = True
            elif mask_dt and mask_dt != TYPE_INT:
                raise self._type_error("bad mask", pos)
            self.set_mask(0x3, 0, mask if mask_dt else 0, warn, data_pos)
            self.type = FIELD_TOS
        elif t == TYPE_IPCE:
            if header != "i":
                raise self._type_error("ip only", pos)
            if self.data != TYPE_NONE or mask_dt:
                raise self._type_error("value not supported", data_pos)
            self.mask = 3
            self.u = 3
            self.type = FIELD_TOS
        elif t in (TYPE_IPFRAG, TYPE_IPUNFRAG):
            if header != "i":
                raise self._type_error("ip only", pos)
            if self.data != TYPE_NONE or mask_dt:
                raise self._type_error("value not supported", data_pos)
            self.mask = 1
            if t == TYPE_IPUNFRAG:
                self.op_negated = True
                self.type = TYPE_IPFRAG
        elif t & TYPE_FIELD:
            if header != "i":
                raise self._type_error("ip only", pos)
            if self.data != TYPE_INT and self.data != t:
                raise missing()
            if mask_dt and mask_dt != TYPE_INT and mask_dt != t:
                raise self._type_error("bad mask", pos)
            nbits = (t & FIELD_LENGTH_MASK) + 1
            self.set_mask(_M32 if nbits == 32 else (1 << nbits) - 1, 0, mask if mask_dt else 0, warn, data_pos)

        if self.type in (TYPE_HOST, TYPE_PORT, TYPE_ETHER):
            if self.srcdst == 0:
                self.srcdst = SD_OR
        elif old_srcdst:
            warn(f"'{self.unparse_type()}': 'src' or 'dst' ignored", pos)

    # --- code ----------------------------------------------------------------------

    def compile(self, p, tree):
        """Emit this primitive as one subtree of program p (Click's order)."""
        p.start_subtree(tree)
        if self.transp_proto != UNKNOWN:
            _add_exprs_for_proto(self.transp_proto, 0xFF, p, tree)
        t = self.type
        if t in (TYPE_PORT, TYPE_TCPOPT) or (t & TYPE_FIELD and t & FIELD_PROTO_MASK):
            p.add_insn(tree, OFFSET_NET + 4, 0, 0x00001FFF)   # first fragments only
        if t == TYPE_HOST:
            p.start_subtree(tree)
            if self.srcdst in (SD_SRC, SD_AND, SD_OR):
                self._comparison(p, tree, OFFSET_NET + 12, 0, self.u, self.mask, False)
            if self.srcdst in (SD_DST, SD_AND, SD_OR):
                self._comparison(p, tree, OFFSET_NET + 16, 0, self.u, self.mask, False)
            self._finish_srcdst(p, tree)
        elif t == TYPE_ETHER:
            p.start_subtree(tree)
            u, m = self.u, self.mask
            if self.srcdst in (SD_SRC, SD_AND, SD_OR):
                p.start_subtree(tree)
                self._comparison(p, tree, OFFSET_MAC + 8, 0, _be(u[0:4]), _be(m[0:4]), False)
                self._comparison(p, tree, OFFSET_MAC + 12, 0, _be(u[4:6] + b"\0\0"), _be(m[4:6] + b"\0\0"), False)
                p.finish_subtree(tree, C_AND)
            if self.srcdst in (SD_DST, SD_AND, SD_OR):
                p.start_subtree(tree)
                self._comparison(p, tree, OFFSET_MAC, 0, _be(b"\0\0" + u[0:2]), _be(b"\0\0" + m[0:2]), False)
                self._comparison(p, tree, OFFSET_MAC + 4, 0, _be(u[2:6]), _be(m[2:6]), False)
                p.finish_subtree(tree, C_AND)
            self._finish_srcdst(p, tree)
        elif t == TYPE_PROTO:
            if self.u >= 256:
                if self.transp_proto == UNKNOWN:
                    # 'proto != tcpudp': the negation of the pseudo-protocol
                    p.start_subtree(tree)
                    _add_exprs_for_proto(self.u, 0xFF, p, tree)
                    if self.u != IP_PROTO_TCP_OR_UDP:
                        p.add_insn(tree, 0, 0, 0)
                    p.finish_subtree(tree, C_AND)
                    p.negate_subtree(tree, True)
                elif self.u != IP_PROTO_TCP_OR_UDP:
                    p.add_insn(tree, 0, 0, 0)       # 'transp', 'payload': every packet
            else:
                self._comparison(p, tree, OFFSET_NET + 8, 16, self.u, self.mask, True)
        elif t == TYPE_IPFRAG:
            p.add_insn(tree, OFFSET_NET + 4, 0, 0x00003FFF)
            if not self.op_negated:
                p.negate_subtree(tree, True)
        elif t == TYPE_PORT:
            p.start_subtree(tree)
            if self.srcdst in (SD_SRC, SD_AND, SD_OR):
                self._comparison(p, tree, OFFSET_TRANSP, 16, self.u, self.mask, False)
            if self.srcdst in (SD_DST, SD_AND, SD_OR):
                self._comparison(p, tree, OFFSET_TRANSP, 0, self.u, self.mask, False)
            self._finish_srcdst(p, tree)
        elif t == TYPE_TCPOPT:
            p.add_insn(tree, OFFSET_TRANSP + 12, (self.u << 16) & _M32, (self.mask << 16) & _M32)
        elif t & TYPE_FIELD:
            offset = (t & FIELD_OFFSET_MASK) >> FIELD_OFFSET_SHIFT
            length = (t & FIELD_LENGTH_MASK) + 1
            word_offset = (offset >> 3) & ~3
            bit_offset = offset & 0x1F
            base = OFFSET_TRANSP if t & FIELD_PROTO_MASK else OFFSET_NET
            self._comparison(p, tree, base + word_offset, 32 - (bit_offset + length), self.u, self.mask, True)
        p.finish_subtree(tree, C_AND)

    def _finish_srcdst(self, p, tree):
        p.finish_subtree(tree, C_OR if self.srcdst == SD_OR else C_AND)
        if self.op_negated:
            p.negate_subtree(tree, True)

    def _comparison(self, p, tree, offset, shift, u, mask, op_negate):
        """'(word >> shift) & mask OP u' as program steps (Click's add_comparison_exprs)."""
        u &= mask
        if self.op == OP_EQ:
            p.add_insn(tree, offset, (u << shift) & _M32, (mask << shift) & _M32)
            if self.op_negated and op_negate:
                p.negate_subtree(tree, True)
            return
        # 'x & MASK > U', from the top bits down: while U's top bit is 0, any
        # set bit of x above U's highest bit makes x greater (OR); while it is
        # 1, x must have all those bits set to stay in the race (AND).
        highs = []
        while u < mask:
            high = u > (mask >> 1)
            x = (~(u + 1) & mask) if high else u
            fdb = 33 - _ffs_msb(x & _M32)
            if fdb == 33:
                upper_mask = mask
            else:
                upper_mask = mask & ~((1 << (fdb & 31)) - 1) & _M32
            if not upper_mask:
                upper_mask = mask
            upper_u = upper_mask if high else 0
            p.start_subtree(tree)
            p.add_insn(tree, offset, (upper_u << shift) & _M32, (upper_mask << shift) & _M32)
            if not high:
                p.negate_subtree(tree, True)
            highs.append(high)
            mask &= ~upper_mask
            u &= mask
        for high in reversed(highs):
            p.finish_subtree(tree, C_AND if high else C_OR)
        if self.op_negated and op_negate:
            p.negate_subtree(tree, True)


def _be(b):
    return int.from_bytes(b, "big")


def _add_exprs_for_proto(proto, mask, p, tree):
    if mask == 0xFF and proto == IP_PROTO_TCP_OR_UDP:
        p.start_subtree(tree)
        p.add_insn(tree, OFFSET_NET + 8, IP_PROTO_TCP << 16, 0x00FF0000)
        p.add_insn(tree, OFFSET_NET + 8, IP_PROTO_UDP << 16, 0x00FF0000)
        p.finish_subtree(tree, C_OR)
    elif mask == 0xFF and proto >= 256:
        pass
    else:
        p.add_insn(tree, OFFSET_NET + 8, (proto << 16) & _M32, (mask << 16) & _M32)


# --- stage 2: the expression tree ----------------------------------------------------------

class Node:
    """An expression tree node. ``compile`` emits it as one subtree."""

    def unparse(self):
        raise NotImplementedError

    def __str__(self):
        return self.unparse()


class Const(Node):
    def __init__(self, value):
        self.value = bool(value)

    def compile(self, p, tree):
        p.add_insn(tree, 0, 0, 0)
        if not self.value:
            p.negate_subtree(tree)

    def unparse(self):
        return "true" if self.value else "false"

    def __eq__(self, other):
        return isinstance(other, Const) and other.value == self.value

    def __repr__(self):
        return f"Const({self.value})"


class Test(Node):
    def __init__(self, prim):
        self.prim = prim

    def compile(self, p, tree):
        self.prim.compile(p, tree)

    def unparse(self):
        return self.prim.text

    def __eq__(self, other):
        return isinstance(other, Test) and all(
            getattr(self.prim, k) == getattr(other.prim, k)
            for k in ("type", "op", "op_negated", "srcdst", "transp_proto", "u", "mask"))

    def __repr__(self):
        return f"Test({self.prim.text!r})"


class Not(Node):
    def __init__(self, child):
        self.child = child

    def compile(self, p, tree):
        self.child.compile(p, tree)
        p.negate_subtree(tree)

    def unparse(self):
        inner = self.child.unparse()
        return f"not {inner}" if isinstance(self.child, (Test, Const)) else f"not ({inner})"

    def __eq__(self, other):
        return isinstance(other, Not) and other.child == self.child

    def __repr__(self):
        return f"Not({self.child!r})"


class _Nary(Node):
    combiner = C_AND
    word = "and"

    def __init__(self, items):
        self.items = list(items)

    def compile(self, p, tree):
        p.start_subtree(tree)
        for item in self.items:
            item.compile(p, tree)
        p.finish_subtree(tree, self.combiner)

    def _wrap(self, item):
        text = item.unparse()
        return f"({text})" if self._needs_parens(item) else text

    def _needs_parens(self, item):
        return isinstance(item, (Or, Ternary))

    def unparse(self):
        return f" {self.word} ".join(self._wrap(i) for i in self.items)

    def __eq__(self, other):
        return type(other) is type(self) and other.items == self.items

    def __repr__(self):
        return f"{type(self).__name__}({self.items!r})"


class And(_Nary):
    pass


class Or(_Nary):
    combiner = C_OR
    word = "or"

    def _needs_parens(self, item):
        return isinstance(item, Ternary)


class Ternary(_Nary):
    """c ? a : b (parts [c, a, b]); [c1, a1, c2, a2, b2] is c1 ? a1 : (c2 ? a2 : b2)."""
    combiner = C_TERNARY

    def _needs_parens(self, item):
        return isinstance(item, Ternary)

    def unparse(self):
        out = self._wrap(self.items[0])
        for i in range(1, len(self.items) - 1, 2):
            out += f" ? {self._wrap(self.items[i])} : {self._wrap(self.items[i + 1])}"
        return out


def _simplify(cls, items):
    return items[0] if len(items) == 1 else cls(items)


class Parser:
    """Parses one rule's tokens into an expression tree (raises FilterError).

    expr   ::= orexpr | orexpr ? expr : expr
    orexpr ::= term { (or | ||) term }
    term   ::= factor { [and | &&] factor }       (juxtaposition means and)
    factor ::= (not | !) factor | ( expr ) | test
    test   ::= true | false | QUALIFIERS [[POS:LEN]] [& MASK] [RELOP] [VALUE]
    """

    def __init__(self, tokens, context=None, warn=None):
        self.t = tokens
        self.n = len(tokens)
        self.context = context
        self.prev = Primitive()
        self.warnings = []
        self._warn = warn

    def word(self, pos):
        return self.t[pos].text if 0 <= pos < self.n else None

    def warn(self, message, pos):
        self.warnings.append((message, pos))

    def parse(self, pos=0):
        """The tree of tokens[pos:]; everything must be used."""
        node, pos = self.expr(pos)
        if pos < self.n:
            raise FilterError(f"garbage after expression at '{self.word(pos)}'", pos)
        return node

    def expr(self, pos):
        node, pos = self.orexpr(pos)
        parts = [node]
        while self.word(pos) == "?":
            pos += 1
            a, pos = self.expr(pos)
            if self.word(pos) != ":":
                raise FilterError("missing ':' in ternary expression", pos)
            b, pos = self.orexpr(pos + 1)
            parts += [a, b]
        return _simplify(Ternary, parts), pos

    def orexpr(self, pos):
        items = []
        while True:
            node, pos = self.term(pos)
            items.append(node)
            if self.word(pos) not in ("or", "||"):
                return _simplify(Or, items), pos
            pos += 1

    def term(self, pos):
        start = pos
        node, pos = self.factor(pos)
        if node is None:
            raise FilterError("missing expression" if self.word(start) is None
                              else f"missing expression before '{self.word(start)}'", start)
        items = [node]
        while True:
            if self.word(pos) in ("and", "&&"):
                node, npos = self.factor(pos + 1)
                if node is None:
                    raise FilterError(f"missing expression after '{self.word(pos)}'", pos + 1)
            else:
                node, npos = self.factor(pos)
                if node is None:
                    return _simplify(And, items), pos
            items.append(node)
            pos = npos

    def factor(self, pos):
        w = self.word(pos)
        if w in ("not", "!"):
            node, npos = self.factor(pos + 1)
            if node is None:
                raise FilterError(f"missing expression after '{w}'", pos + 1)
            return (node.child if isinstance(node, Not) else Not(node)), npos
        if w == "(":
            if self.word(pos + 1) == ")":
                raise FilterError("missing expression after '('", pos + 1)
            node, npos = self.expr(pos + 1)
            if self.word(npos) != ")":
                raise FilterError("missing ')'", npos)
            return node, npos + 1
        return self.test(pos)

    # --- one primitive ---------------------------------------------------------------

    def test(self, pos):
        """(Test or Const or Not(Test), new pos); (None, pos) if nothing is here."""
        n = self.n
        if pos >= n:
            return None, pos
        first = self.word(pos)
        if first in (")", "||", "or", "?", ":", "and", "&&"):
            return None, pos
        if first in ("true", "false"):
            return Const(first == "true"), pos + 1

        first_pos = pos
        prim = Primitive()
        prim.col = self.t[pos].col
        header = 0
        negated = False
        while pos < n:
            wd = self.word(pos)
            try:
                wt, wdata = lookup(wd, 0, UNKNOWN, self.context)
            except FilterError:
                break                   # a name with several meanings: it is data
            if wt == TYPE_TYPE:
                prim.set_type(wdata, pos)
                if wdata & TYPE_FIELD and wdata & FIELD_PROTO_MASK:
                    prim.set_transp_proto((wdata & FIELD_PROTO_MASK) >> FIELD_PROTO_SHIFT, pos)
            elif wt == TYPE_PROTO:
                prim.set_transp_proto(wdata, pos)
            elif wt != -1:
                break
            elif wd == "src":
                if pos < n - 2 and self.word(pos + 2) in ("dst", "dest"):
                    if self.word(pos + 1) in ("and", "&&"):
                        prim.set_srcdst(SD_AND, pos)
                        pos += 2
                    elif self.word(pos + 1) in ("or", "||"):
                        prim.set_srcdst(SD_OR, pos)
                        pos += 2
                    else:
                        prim.set_srcdst(SD_SRC, pos)
                else:
                    prim.set_srcdst(SD_SRC, pos)
            elif wd in ("dst", "dest"):
                prim.set_srcdst(SD_DST, pos)
            elif wd in ("ip", "ether"):
                if header:
                    break
                header = wd[0]
            elif wd in ("not", "!"):
                negated = not negated
            else:
                break
            pos += 1

        if pos != first_pos:
            self.prev.clear()
        if self.prev.data == TYPE_ETHER:
            header = "e"

        wd = self.word(pos) if pos < n - 1 else None
        if wd == "[" and pos > first_pos and prim.type == TYPE_NONE:
            pos = self._brackets(prim, pos)
            wd = self.word(pos) if pos < n - 1 else None

        mask_dt = 0
        provided_mask = 0
        if wd == "&" and pos < n - 1:
            mword = self.word(pos + 1)
            v = _parse_uint(mword)
            if v is not None:
                mask_dt, provided_mask = TYPE_INT, v
            elif header != "e" and (ip := self._ip(mword)) is not None:
                mask_dt, provided_mask = TYPE_HOST, ip
            elif header != "i" and (eth := self._ether(mword)) is not None:
                mask_dt, provided_mask = TYPE_ETHER, eth
            else:
                raise FilterError(f"bad mask '{mword}'", pos + 1)
            if mask_dt != TYPE_ETHER and not provided_mask:
                raise FilterError("zero mask", pos + 1)
            pos += 2
            wd = self.word(pos) if pos < n - 1 else None

        relop_pos = pos
        pos += 1
        if wd in ("=", "=="):
            pass
        elif wd == "!=":
            prim.op_negated = True
        elif wd == ">":
            prim.op = OP_GT
        elif wd == "<":
            prim.op = OP_LT
        elif wd == ">=":
            prim.op, prim.op_negated = OP_LT, True
        elif wd == "<=":
            prim.op, prim.op_negated = OP_GT, True
        else:
            pos -= 1
        has_op = pos != relop_pos

        data_pos = pos
        data_word = None
        if pos < n:
            wd = self.word(pos)
            try:
                wt, wdata = lookup(wd, prim.type, prim.transp_proto, self.context)
            except FilterError as e:
                e.pos = pos
                raise
            pos += 1
            if wt not in (-1, TYPE_TYPE):
                prim.data, prim.u = wt, wdata
            elif (v := _parse_value(wd)) is not None:
                prim.data, prim.u = TYPE_INT, v
            elif header != "e" and (ip := self._ip(wd)) is not None:
                if (pos < n - 1 and self.word(pos) == "mask"
                        and (m := self._ip(self.word(pos + 1))) is not None):
                    pos += 2
                    prim.data, prim.u, prim.mask = TYPE_NET, ip, m
                elif prim.type == TYPE_NET and (pfx := self._prefix(wd)) is not None:
                    prim.data, (prim.u, prim.mask) = TYPE_NET, pfx
                else:
                    prim.data, prim.u = TYPE_HOST, ip
            elif header != "e" and (pfx := self._prefix(wd)) is not None:
                prim.data, (prim.u, prim.mask) = TYPE_NET, pfx
            elif header != "i" and (eth := self._ether(wd)) is not None:
                prim.data, prim.u = TYPE_ETHER, eth
            else:
                data_word = wd
                if has_op:
                    if wd in _CONNECTIVES or not wd[:1].isalnum():
                        raise FilterError(f"dangling operator near '{wd}'", data_pos)
                pos -= 1
        elif has_op:
            raise FilterError(f"dangling operator '{self.word(relop_pos)}'", relop_pos)

        if pos == first_pos:
            if first[:1].isalpha():
                raise FilterError(f"unknown name '{first}'", pos)
            raise FilterError(f"syntax error near '{first}'", pos)

        # the text this primitive prints as, from what the user wrote
        snapshot = (prim.op, prim.op_negated, prim.u, prim.mask, mask_dt, provided_mask)
        prim.check(self.prev, header, mask_dt, provided_mask, self.warn, first_pos, data_pos,
                   data_word)
        if prim.type & TYPE_FIELD:
            self._check_offsets(prim, first_pos)
        prim.text = _primitive_text(prim, snapshot)
        self.prev = prim.copy()
        node = Test(prim)
        return (Not(node) if negated else node), pos

    def _check_offsets(self, prim, pos):
        t = prim.type
        if t & TYPE_FIELD and not t & FIELD_PROTO_MASK:
            offset = (t & FIELD_OFFSET_MASK) >> FIELD_OFFSET_SHIFT
            if ((offset >> 3) & ~3) + 4 > OFFSET_TRANSP - OFFSET_NET:
                raise FilterError("ip[POS]: POS out of range (0-255)", pos)

    def _brackets(self, prim, pos):
        """Parse [POS], [POS:LEN] or [POS,END]; returns the position after ']'."""
        first = pos + 1
        pos += 1
        combination = ""
        while pos < self.n and self.word(pos) != "]":
            combination += self.word(pos)
            pos += 1
        if pos >= self.n:
            raise FilterError("missing ']'", first - 1)
        pos += 1
        fieldpos = length = None
        colon = combination.find(":")
        comma = combination.find(",")
        if 0 <= colon < len(combination) - 1:
            fieldpos = _parse_int(combination[:colon])
            length = _parse_int(combination[colon + 1:])
        elif 0 <= comma < len(combination) - 1:
            fieldpos = _parse_int(combination[:comma])
            end = _parse_int(combination[comma + 1:])
            if fieldpos is not None and end is not None:
                length = end - fieldpos + 1
        else:
            fieldpos = _parse_int(combination)
            length = 1
        if fieldpos is None or length is None:
            raise FilterError("syntax error after '[', expected '[POS]' or '[POS:LEN]'", first)
        if fieldpos < 0:
            raise FilterError("POS in '[POS:LEN]' out of range", first)
        bitpos, bitlen = fieldpos * 8, length * 8
        if not 1 <= bitlen <= 32:
            raise FilterError("LEN in '[POS:LEN]' out of range, should be between 1 and 4", first)
        if (bitpos & ~31) != ((bitpos + bitlen - 1) & ~31):
            raise FilterError(f"field [{fieldpos}:{length}] does not fit in a single word", first)
        if bitpos > 0xFFFF - 31:
            raise FilterError("POS in '[POS:LEN]' out of range", first)
        transp = prim.transp_proto if prim.transp_proto != UNKNOWN else 0
        prim.set_type(TYPE_FIELD | (transp << FIELD_PROTO_SHIFT) | (bitpos << FIELD_OFFSET_SHIFT)
                      | (bitlen - 1), first - 1)
        return pos

    def _ip(self, word):
        try:
            return IPAddress(word, self.context)
        except ArgError:
            return None

    def _prefix(self, word):
        try:
            return IPPrefixOnly(word, self.context)
        except ArgError:
            return None

    def _ether(self, word):
        try:
            return bytes(EtherAddress(word, self.context))
        except (ArgError, ValueError):
            return None


def _ether_text(b):
    return ":".join(f"{x:02x}" for x in b)


def _op_text(op, negated):
    if op == OP_GT:
        return "<=" if negated else ">"
    if op == OP_LT:
        return ">=" if negated else "<"
    return "!=" if negated else ""


def _primitive_text(prim, snapshot):
    """Fully qualified text for a checked primitive, which parses back to it.

    An equality prints the resolved value and mask; a relation prints what
    was written (it was reduced to a mask comparison since).
    """
    op, negated, u, _, mask_dt, provided_mask = snapshot
    t = prim.type
    sd = {SD_SRC: "src ", SD_DST: "dst ", SD_OR: "src or dst ", SD_AND: "src and dst "}.get(prim.srcdst, "")

    def value_text(name, full):
        if op == OP_EQ:
            m = f" & {prim.mask}" if prim.mask != full else ""
            o = "!=" if prim.op_negated else ("==" if m else "")
            return f"{name}{m} {o + ' ' if o else ''}{prim.u}"
        m = f" & {provided_mask}" if mask_dt else ""
        return f"{name}{m} {_op_text(op, negated)} {u & _M32}"

    if t == TYPE_HOST:
        o = "!= " if prim.op_negated else ""
        if prim.mask == _M32:
            return f"{sd}host {o}{unparse_ip(prim.u & _M32)}"
        return f"{sd}net {o}{unparse_ip(prim.u & _M32)} mask {unparse_ip(prim.mask & _M32)}"
    if t == TYPE_ETHER:
        o = "!= " if prim.op_negated else ""
        m = f" & {_ether_text(prim.mask)}" if prim.mask != b"\xff" * 6 else ""
        return f"{sd}ether host{m} {o}{_ether_text(prim.u)}"
    if t == TYPE_PROTO:
        if prim.u >= 256 and op == OP_EQ:
            return f"ip proto {'!= ' if prim.op_negated else ''}{_PROTO_WORDS[prim.u]}"
        return value_text("ip proto", 0xFF)
    if t == TYPE_PORT:
        return value_text(f"{sd}{unparse_transp_proto(prim.transp_proto)} port", 0xFFFF)
    if t == TYPE_TCPOPT:
        return f"tcp opt {prim.u}"
    if t == TYPE_IPFRAG:
        return "ip unfrag" if prim.op_negated else "ip frag"
    if t & TYPE_FIELD:
        nbits = (t & FIELD_LENGTH_MASK) + 1
        full = _M32 if nbits == 32 else (1 << nbits) - 1
        if t in _FIELD_NAMES:
            name = _FIELD_NAMES[t]
        else:
            offset = (t & FIELD_OFFSET_MASK) >> FIELD_OFFSET_SHIFT
            proto = (t & FIELD_PROTO_MASK) >> FIELD_PROTO_SHIFT
            name = f"{unparse_transp_proto(proto) if proto else 'ip'}[{offset >> 3}:{nbits >> 3}]"
        return value_text(name, full)
    return prim.unparse_type()


# --- stage 3: whole configurations ------------------------------------------------------------

def parse_rule(text, context=None, start=0):
    """(tree, warnings) for one rule's text from token start on (raises FilterError)."""
    tokens = tokenize(text)
    parser = Parser(tokens, context)
    try:
        tree = parser.parse(start)
    except FilterError as e:
        _locate(e, tokens, text)
        raise
    return tree, [(m, _column(tokens, p, text)) for m, p in parser.warnings]


def _column(tokens, pos, text):
    if pos is None:
        return None
    if 0 <= pos < len(tokens):
        return tokens[pos].col
    return len(text.rstrip()) + 1


def _locate(e, tokens, text):
    if e.col is None:
        e.col = _column(tokens, e.pos, text)


class Rule:
    """One rule: where its packets go (output, or J_NEVER's negation for drop) and its tree."""
    __slots__ = ("number", "slot", "tree", "text")

    def __init__(self, number, slot, tree, text):
        self.number = number
        self.slot = slot
        self.tree = tree
        self.text = text


def parse_rules(args, noutputs, context, errh, classifier=False):
    """Rules from configuration arguments (IPFilter's 'ACTION PATTERN', or
    IPClassifier's 'PATTERN' for output N). Errors and warnings go to errh,
    each naming the rule and the column; returns the list of Rules (those
    that parsed)."""
    rules = []
    for number, arg in enumerate(args):
        text = rule_text(arg)
        tokens = tokenize(text)
        where = f'{"pattern" if classifier else "rule"} {number} "{text.strip()}"'

        def fail(message, col=None):
            errh.error(f"{where}, column {col}: {message}" if col else f"{where}: {message}")

        if classifier:
            slot = number
            body = 0
        else:
            if not tokens:
                fail("empty rule")
                continue
            word = tokens[0].text
            body = 1
            slot = -J_NEVER
            if word == "allow":
                slot = 0
                if noutputs == 0:
                    fail("'allow' is meaningless, element has zero outputs", 1)
                    continue
            elif word in ("deny", "drop"):
                pass
            elif (v := _parse_int(word)) is not None:
                if not 0 <= v < noutputs:
                    fail(f"output {v} out of range (the element has {noutputs})", 1)
                    continue
                slot = v
            else:
                fail(f"unknown action '{word}' (expected 'allow', 'deny', 'drop' or an output number)", 1)
                continue
        rest = [t.text for t in tokens[body:]]
        if not rest or (len(rest) == 1 and rest[0] in ("-", "any", "all")):
            rules.append(Rule(number, slot, Const(True), text))
            continue
        parser = Parser(tokens, context)
        try:
            tree = parser.parse(body)
        except FilterError as e:
            _locate(e, tokens, text)
            fail(str(e), e.col)
            continue
        for message, pos in parser.warnings:
            col = _column(tokens, pos, text)
            errh.warning(f"{where}, column {col}: {message}" if col else f"{where}: {message}")
        rules.append(Rule(number, slot, tree, text))
    return rules


def build_program(rules, program_class=Program):
    """The optimized Program for parsed rules, merged as Click merges them."""
    progs = []
    for rule in rules:
        prog = program_class()
        tree = prog.init_subtree()
        prog.start_subtree(tree)
        rule.tree.compile(prog, tree)
        prog.finish_subtree(tree, C_AND, -rule.slot, J_FAILURE)
        progs.append(prog)
    step = 1
    while step < len(progs):
        for i in range(0, len(progs) - step, 2 * step):
            progs[i].add_or_program(progs[i + step])
            progs[i].optimize(_OFFSET_MAP, OFFSET_MAX)
        step *= 2
    if not progs:
        progs.append(program_class())
    if len(progs) == 1:
        progs[0].optimize(_OFFSET_MAP, OFFSET_MAX)
    prog = progs[0]
    prog.set_failure(J_NEVER)
    prog.bubble_sort_and_exprs(_OFFSET_MAP, OFFSET_MAX)
    return prog


def compress(prog):
    """Click's compact form of an optimized program (what the program handler prints)."""
    return CompressedProgram().compile(prog, PERFORM_BINARY_SEARCH, MIN_BINARY_SEARCH)


def exact_program(rules, program_class=Program):
    """The rules' program exactly as compiled: merged, never optimized.

    Click's optimizer is exact for packets that hold every word its program
    loads, but two of its rewrites (merging a step into the one on its yes
    branch, and judging an implication with the packet length known at
    another copy of the same step) can change the answer for a packet that
    ends before some word. The documented meaning is the one this program
    has: a primitive whose bytes are missing is false, and 'not' flips it.
    IPFilter walks this program for such short packets, so they get the
    documented answer rather than Click's accidental one (the ``program``
    handler still prints Click's optimized program).
    """
    progs = []
    for rule in rules:
        prog = program_class()
        tree = prog.init_subtree()
        prog.start_subtree(tree)
        rule.tree.compile(prog, tree)
        prog.finish_subtree(tree, C_AND, -rule.slot, J_FAILURE)
        progs.append(prog)
    if not progs:
        prog = program_class()
        prog.set_failure(J_NEVER)
        return prog
    whole = progs[0]
    for prog in progs[1:]:
        whole.add_or_program(prog)
    whole.set_failure(J_NEVER)
    return whole


class ProgramWords:
    """A Program in CompressedProgram's word layout, one value per step (no
    merging, so every step keeps its own short-packet branch)."""

    def __init__(self, prog):
        self.output_everything = prog.output_everything
        self.align_offset = prog.align_offset
        self.safe_length = prog.safe_length
        z = self.words = []
        for i, e in enumerate(prog.insns):
            z.append(e.offset + (0x10000 if e.short_output else 0) + 0x20000)
            for j in (e.no, e.yes):
                z.append((j - i) * 5 if j > 0 else j)
            z += [e.mask, e.value]


# --- the fast walk's program: tests specialized along each path ---------------------------

SPECIALIZE_MAX_INSNS = 2000     # programs larger than this are walked as Click's
SPECIALIZE_GROWTH = 4           # a specialized program may have this many times the steps


def _decide(facts, e):
    """What facts (word offset, mask, value, equal) say about step e: True,
    False, or None when they do not decide it. Every word is in the packet
    (this is for the fast walk), so a step's answer is exact knowledge."""
    mask, value = e.mask, e.value
    if not mask:
        return True
    known = known_value = 0
    for off, m, v, eq in facts:
        if off != e.offset:
            continue
        if eq:
            known |= m
            known_value |= v
        elif (m & mask) == m and (value & m) == v:
            return False            # e would need the bits a failed test ruled out
    if (known_value & mask & known) != (value & known):
        return False
    if mask & ~known == 0:
        return True
    return None


def specialize(prog, max_insns=None, growth=None):
    """A copy of an optimized Program where no path tests what its earlier
    steps already decided, for packets that hold every word it loads.

    Click's optimizer shares a step between paths that know different
    things, so a packet can be asked 'is it UDP?' three times on its way.
    Here each step is copied per distinct set of relevant facts (the
    answers so far that could decide a test its subtree still makes), and a
    test the facts decide is skipped. Copies with the same relevant facts
    are shared. Once the copies reach ``growth`` times the original steps,
    the remaining steps are taken as they are (knowing nothing, so they
    test again what they need), which bounds the result by about (growth +
    1) times the original. Not for short packets: a
    test that cannot see its bytes gives no fact (IPFilter walks the exact
    program for those).
    """
    if max_insns is None:
        max_insns = SPECIALIZE_MAX_INSNS
    if growth is None:
        growth = SPECIALIZE_GROWTH
    insns = prog.insns
    n = len(insns)
    if n == 0 or n > max_insns:
        return prog
    # the tests (offset, mask, value) each step's subtree still makes
    # (jumps only go forward)
    reach = [None] * n
    for i in range(n - 1, -1, -1):
        e = insns[i]
        r = {(e.offset, e.mask, e.value)}
        for j in e.j:
            if j > 0:
                r |= reach[j]
        reach[i] = frozenset(r)
    reach_offsets = [frozenset(t[0] for t in r) for r in reach]

    def relevant(i, fact):
        """Whether fact could decide a test the subtree of step i makes: a
        known value decides tests of its word; a failed test only decides
        tests that need the bits it ruled out."""
        off, m, v, eq = fact
        if off not in reach_offsets[i]:
            return False
        if eq:
            return True
        return any(o == off and (m & mask) == m and (value & m) == v for o, mask, value in reach[i])
    limit = max(growth * n, 64)
    nodes = []              # (original step, no target, yes target), targets: node id or ('out', j)
    memo = {}

    def target(i, facts):
        """The node for jump target i (> 0 a step, else an output) given facts."""
        while i > 0:
            d = _decide(facts, insns[i])
            if d is None:
                return build(i, facts)
            i = insns[i].j[1 if d else 0]
        return ("out", i)

    def build(i, facts):
        if len(nodes) >= limit:
            facts = ()              # over budget: share Click's step (and re-test)
        key = (i, frozenset(f for f in facts if relevant(i, f)))
        got = memo.get(key)
        if got is not None:
            return got
        e = insns[i]
        no = target(e.j[0], facts + ((e.offset, e.mask, e.value, False),))
        yes = target(e.j[1], facts + ((e.offset, e.mask, e.value, True),))
        if no == yes:
            node = no               # both answers lead to the same place
        else:
            node = len(nodes)
            nodes.append((i, no, yes))
        memo[key] = node
        return node

    import sys
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 4 * n + 1000))
    try:
        root = build(0, ())
    finally:
        sys.setrecursionlimit(old_limit)
    if isinstance(root, tuple):
        out = Program(prog.align_offset)
        out.output_everything = -root[1]
        return out
    # number the nodes in a topological order (reverse postorder, 'no'
    # first so a miss usually goes on to the next step)
    order, seen = [], set()

    def visit(x):
        if isinstance(x, tuple) or x in seen:
            return
        seen.add(x)
        _, no, yes = nodes[x]
        visit(yes)
        visit(no)
        order.append(x)

    visit(root)
    order.reverse()
    number = {x: k for k, x in enumerate(order)}
    out = Program(prog.align_offset)
    out.output_everything = prog.output_everything
    out.safe_length = prog.safe_length
    for x in order:
        i, no, yes = nodes[x]
        c = insns[i].copy()
        c.j = [no[1] if isinstance(no, tuple) else number[no],
               yes[1] if isinstance(yes, tuple) else number[yes]]
        out.insns.append(c)
    return out


class CompiledRules:
    """What IPFilter runs: Click's optimized program (``program``, printed by
    the ``program`` handler), the same specialized per path (``fast``,
    walked for packets that hold every word either program loads), the
    exact program for the others (``exact``, a ProgramWords) and the parsed
    rules."""

    def __init__(self, program, fast, exact, rules):
        self.program = program
        self.fast = fast
        self.exact = exact
        self.rules = rules


def compile_rules(args, noutputs, context, errh, classifier=False):
    """The CompiledRules for a configuration, or None if it has errors."""
    nerrors = errh.nerrors
    rules = parse_rules(args, noutputs, context, errh, classifier)
    if errh.nerrors != nerrors:
        return None
    prog = build_program(rules)
    return CompiledRules(compress(prog), compress(specialize(prog)),
                         ProgramWords(exact_program(rules)), rules)
