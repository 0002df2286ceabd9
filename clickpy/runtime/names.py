"""Click's built-in name databases, one table each: IP protocols, ICMP types and
codes, well-known ports and packet annotations.

Every element and language that reads or prints one of these names uses these
tables (Click keeps them in its NameInfo databases, elements/ip/ipnameinfo.cc
and lib/args.cc). Names a configuration declares (AddressInfo, PortInfo) are
looked up through the router before these.
"""
from __future__ import annotations

# --- IP protocols (clicknet/ip.h; elements/ip/ip_header.pxd has the real ones for C code) -----------

IP_PROTO_ICMP, IP_PROTO_IGMP, IP_PROTO_IPIP, IP_PROTO_TCP, IP_PROTO_UDP = 1, 2, 4, 6, 17
IP_PROTO_DCCP, IP_PROTO_GRE, IP_PROTO_SCTP, IP_PROTO_UDPLITE = 33, 47, 132, 136
# Pseudo-protocols above 255, for matching: Click's values.
IP_PROTO_TCP_OR_UDP, IP_PROTO_NONE, IP_PROTO_TRANSP, IP_PROTO_PAYLOAD = 256, 257, 258, 259

IP_PROTOS = {
    "dccp": IP_PROTO_DCCP, "gre": IP_PROTO_GRE, "icmp": IP_PROTO_ICMP, "igmp": IP_PROTO_IGMP,
    "ipip": IP_PROTO_IPIP, "payload": IP_PROTO_PAYLOAD, "sctp": IP_PROTO_SCTP, "tcp": IP_PROTO_TCP,
    "tcpudp": IP_PROTO_TCP_OR_UDP, "transp": IP_PROTO_TRANSP, "udp": IP_PROTO_UDP,
}

# --- ICMP types and codes (clicknet/icmp.h) -------------------------------------------------------

ICMP_ECHOREPLY, ICMP_UNREACH, ICMP_SOURCEQUENCH, ICMP_REDIRECT, ICMP_ECHO = 0, 3, 4, 5, 8
ICMP_TIMXCEED, ICMP_PARAMPROB = 11, 12

ICMP_TYPES = {
    "echo": ICMP_ECHO, "echo-reply": ICMP_ECHOREPLY, "inforeq": 15, "inforeq-reply": 16, "maskreq": 17,
    "maskreq-reply": 18, "parameterproblem": ICMP_PARAMPROB, "redirect": ICMP_REDIRECT, "routeradvert": 9,
    "routersolicit": 10, "sourcequench": ICMP_SOURCEQUENCH, "timeexceeded": ICMP_TIMXCEED, "timestamp": 13,
    "timestamp-reply": 14, "unreachable": ICMP_UNREACH,
}

# Code names by type.
ICMP_CODES = {
    ICMP_UNREACH: {
        "filterprohibited": 13, "host": 1, "hostprecedence": 14, "hostprohibited": 10, "hostunknown": 7,
        "isolated": 8, "needfrag": 4, "net": 0, "netprohibited": 9, "netunknown": 6, "port": 3,
        "precedencecutoff": 15, "protocol": 2, "srcroutefail": 5, "toshost": 12, "tosnet": 11},
    ICMP_REDIRECT: {"host": 1, "net": 0, "toshost": 3, "tosnet": 2},
    ICMP_TIMXCEED: {"reassembly": 1, "transit": 0},
    ICMP_PARAMPROB: {"erroratptr": 0, "length": 2, "missingopt": 1},
}

# --- well-known ports (used before /etc/services) ------------------------------------------------

KNOWN_PORTS = {
    "auth": 113, "bootpc": 68, "bootps": 67, "chargen": 19, "daytime": 13, "discard": 9,
    "dns": 53, "domain": 53, "echo": 7, "finger": 79, "ftp": 21, "ftp-data": 20, "https": 443,
    "imap3": 220, "imaps": 993, "irc": 194, "netbios-dgm": 138, "netbios-ns": 137,
    "netbios-ssn": 139, "nntp": 119, "ntp": 123, "pop3": 110, "pop3s": 995, "pptp": 1723,
    "rip": 520, "route": 520, "smtp": 25, "snmp": 161, "snmp-trap": 162, "ssh": 22,
    "sunrpc": 111, "telnet": 23, "tftp": 69, "www": 80,
}

# --- packet annotations: name -> (offset in the annotation area, size in bytes) ------------------

ANNOTATIONS = {
    "AGGREGATE": (20, 4), "DST_IP": (0, 4), "DST_IP6": (0, 16), "EXTRA_LENGTH": (28, 4),
    "EXTRA_PACKETS": (24, 4), "FIRST_TIMESTAMP": (32, 8), "FIX_IP_SRC": (19, 1),
    "FWD_RATE": (20, 4), "GRID_ROUTE_CB": (27, 1), "ICMP_PARAMPROB": (17, 1),
    "IPREASSEMBLER": (28, 4), "IPSEC_SPI": (32, 4), "MISC_IP": (20, 4), "PACKET_NUMBER": (32, 4),
    "PAINT": (16, 1), "PERFCTR": (40, 8), "REV_RATE": (24, 4), "SEQUENCE_NUMBER": (36, 4),
    "VLAN": (20, 2), "VLAN_TCI": (20, 2), "WIFI_EXTRA": (16, 24),
}
ANNOTATION_AREA = 48

# --- numbers back to names, for printing ----------------------------------------------------------

_PROTO_NAMES = {v: k for k, v in IP_PROTOS.items()}
_ICMP_TYPE_NAMES = {v: k for k, v in ICMP_TYPES.items()}
_ICMP_CODE_NAMES = {t: {v: k for k, v in codes.items()} for t, codes in ICMP_CODES.items()}


def ip_proto_name(proto: int) -> str | None:
    """The name of a protocol number ('tcp' for 6, 'transp' for 258), or None."""
    return _PROTO_NAMES.get(proto)


def icmp_type_name(icmp_type: int) -> str | None:
    return _ICMP_TYPE_NAMES.get(icmp_type)


def icmp_code_name(icmp_type: int, code: int) -> str | None:
    return _ICMP_CODE_NAMES.get(icmp_type, {}).get(code)
