"""Names and argument types of the IP family (slow path: configuration, printing).

Click keeps these in its NameInfo databases: IP protocol names, ICMP types
and codes, well-known port names and annotation names. Arguments look names
up first (PortInfo / AddressInfo elements, through the router, then the
built-in tables and /etc/services), then read a number, as Click's
``NameInfo::query_int`` does.
"""
from __future__ import annotations

import socket

from clickpy.runtime.args import ArgError, Bool, Int, String, Unsigned

IP_PROTOS = {
    "dccp": 33, "gre": 47, "icmp": 1, "igmp": 2, "ipip": 4, "payload": 259, "sctp": 132,
    "tcp": 6, "tcpudp": 256, "transp": 258, "udp": 17,
}

ICMP_TYPES = {
    "echo": 8, "echo-reply": 0, "inforeq": 15, "inforeq-reply": 16, "maskreq": 17,
    "maskreq-reply": 18, "parameterproblem": 12, "redirect": 5, "routeradvert": 9,
    "routersolicit": 10, "sourcequench": 4, "timeexceeded": 11, "timestamp": 13,
    "timestamp-reply": 14, "unreachable": 3,
}

ICMP_CODES = {
    3: {"filterprohibited": 13, "host": 1, "hostprecedence": 14, "hostprohibited": 10,
        "hostunknown": 7, "isolated": 8, "needfrag": 4, "net": 0, "netprohibited": 9,
        "netunknown": 6, "port": 3, "precedencecutoff": 15, "protocol": 2, "srcroutefail": 5,
        "toshost": 12, "tosnet": 11},
    5: {"host": 1, "net": 0, "toshost": 3, "tosnet": 2},
    11: {"reassembly": 1, "transit": 0},
    12: {"erroratptr": 0, "length": 2, "missingopt": 1},
}

KNOWN_PORTS = {
    "auth": 113, "bootpc": 68, "bootps": 67, "chargen": 19, "daytime": 13, "discard": 9,
    "dns": 53, "domain": 53, "echo": 7, "finger": 79, "ftp": 21, "ftp-data": 20, "https": 443,
    "imap3": 220, "imaps": 993, "irc": 194, "netbios-dgm": 138, "netbios-ns": 137,
    "netbios-ssn": 139, "nntp": 119, "ntp": 123, "pop3": 110, "pop3s": 995, "pptp": 1723,
    "rip": 520, "route": 520, "smtp": 25, "snmp": 161, "snmp-trap": 162, "ssh": 22,
    "sunrpc": 111, "telnet": 23, "tftp": 69, "www": 80,
}

_PROTO_NAMES = {v: k for k, v in IP_PROTOS.items() if v < 256}
_ICMP_TYPE_NAMES = {v: k for k, v in ICMP_TYPES.items()}
_ICMP_CODE_NAMES = {t: {v: k for k, v in codes.items()} for t, codes in ICMP_CODES.items()}


def ip_proto_name(proto: int) -> str | None:
    return _PROTO_NAMES.get(proto)


def icmp_type_name(t: int) -> str | None:
    return _ICMP_TYPE_NAMES.get(t)


def icmp_code_name(t: int, code: int) -> str | None:
    return _ICMP_CODE_NAMES.get(t, {}).get(code)


def _router_lookup(element, name: str, kinds) -> object | None:
    router = getattr(element, "router", None)
    if router is None:
        return None
    for kind in kinds:
        try:
            v = router.address_info(name, kind, element)
        except Exception:  # a name database that cannot answer this kind
            v = None
        if v is not None:
            return v
    return None


def IPProto(text: str, element=None) -> int:
    """An IP protocol: a name (tcp, udp, icmp, ...) or a number 0-255."""
    t = String(text, element)
    v = IP_PROTOS.get(t)
    if v is None:
        v = _router_lookup(element, t, ("ipproto", "ip_proto"))
    if v is None:
        try:
            v = socket.getprotobyname(t)
        except (OSError, UnicodeError, ValueError):  # ValueError: a NUL in the name
            v = None
    if v is None:
        try:
            v = Int(t)
        except ArgError:
            raise ArgError("expected IP protocol") from None
    if not 0 <= int(v) <= 255:
        raise ArgError("bad IP protocol")
    return int(v)


_PROTO_WORDS = {6: "tcp", 17: "udp", 132: "sctp", 33: "dccp"}


def lookup_port(name: str, proto: int, element=None) -> int | None:
    """A port name for IP protocol proto: PortInfo, Click's table, /etc/services."""
    word = _PROTO_WORDS.get(proto, "")
    v = _router_lookup(element, name, (f"port/{word}", f"{word}port", "port"))
    if v is not None:
        if isinstance(v, tuple):
            v = v[0]
        return int(v)
    if name in KNOWN_PORTS and proto in (6, 17):
        return KNOWN_PORTS[name]
    if word:
        try:
            return socket.getservbyname(name, word)
        except (OSError, UnicodeError, ValueError):  # ValueError: a NUL in the name
            pass
    return None


def IPPort(proto: int):
    """Argument type: a port number 0-65535 or a port name for protocol proto."""
    def parse(text: str, element=None) -> int:
        t = String(text, element)
        v = lookup_port(t, proto, element)
        if v is None:
            try:
                v = Int(t)
            except ArgError:
                raise ArgError("expected port number") from None
            if v < 0:
                raise ArgError("expected port number")
        if v > 0xFFFF:
            raise ArgError("overflow, range 0-65535")
        return v
    parse.__name__ = "IPPort"
    return parse


def Byte(text: str, element=None) -> int:
    v = Unsigned(text, element)
    if v > 255:
        raise ArgError("expected byte")
    return v


def BoolOrTwo(text: str, element=None) -> int:
    """IPEncap's ECT: a boolean (1 for true) or "2"."""
    t = text.strip()
    if t == "2":
        return 2
    try:
        return 1 if Bool(t, element) else 0
    except ArgError:
        raise ArgError(f"bad ECT value '{t}'") from None


def ip_aton(addr: str) -> bytes:
    return socket.inet_aton(addr)
