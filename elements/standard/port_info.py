"""PortInfo: names for TCP and UDP ports, and the port lookup elements use.

``lookup_port(name, protocol, element)`` is the one port-name lookup (the
argument type ``clickpy.elements.ip.ip_args.IPPort`` and IPFilter use it). A
name is looked up, as in Click, in the PortInfo elements that the element can
see (a PortInfo inside a compound defines names only for that compound; an
inner definition hides an outer one), then in Click's table of well-known
ports (TCP and UDP), then in this host's services database (/etc/services;
TCP, UDP, SCTP and DCCP).
"""
from __future__ import annotations

import socket

from clickpy.lang.confstring import split_words, unquote
from clickpy.runtime.args import Arg, ArgError, Int, language, parse_arguments
from clickpy.runtime.element import Element
from clickpy.runtime.names import (
    IP_PROTO_DCCP, IP_PROTO_SCTP, IP_PROTO_TCP, IP_PROTO_TCP_OR_UDP, IP_PROTO_UDP, IP_PROTOS, KNOWN_PORTS,
)

CONFIGURE_PHASE_FIRST = 0
# The protocols /etc/services names ports for (Click's ServicesNameDB).
_SERVICE_PROTOCOLS = {IP_PROTO_TCP: "tcp", IP_PROTO_UDP: "udp", IP_PROTO_SCTP: "sctp", IP_PROTO_DCCP: "dccp"}


def _protocol_number(proto) -> int:
    if isinstance(proto, int):
        return proto
    return IP_PROTOS[str(proto).lower()]


def _compound_prefix(element) -> str:
    name = getattr(element, "name", "") or ""
    return name.rsplit("/", 1)[0] + "/" if "/" in name else ""


def _defined(name: str, proto: int, element) -> int | None:
    """name's PortInfo definition for proto, as element sees them (innermost compound first)."""
    router = getattr(element, "router", None)
    if router is None:
        return None
    cname = getattr(element, "name", "") or ""
    infos = [e for e in router.elements
             if isinstance(e, PortInfo) and cname.startswith(_compound_prefix(e))]
    infos.sort(key=lambda e: (-len(_compound_prefix(e)), -e.eindex))
    for e in infos:
        v = e.ports.get(proto, {}).get(name)
        if v is not None:
            return v
    return None


def lookup_port(name: str, proto, element=None) -> int | None:
    """The port number name stands for, for IP protocol proto (6, 17, 'tcp', 'udp'...).

    element is the element asking (its compound decides which PortInfo
    definitions it sees); None sees only the defaults.
    """
    name = name.strip()
    proto = _protocol_number(proto)
    try:
        v = Int(name)
        return v if 0 <= v <= 0xFFFF else None
    except ArgError:
        pass
    v = _defined(name, proto, element)
    if v is not None:
        return v
    if proto in (IP_PROTO_TCP, IP_PROTO_UDP):
        v = KNOWN_PORTS.get(name)
        if v is not None:
            return v
    service_protocol = _SERVICE_PROTOCOLS.get(proto)
    if service_protocol is not None:
        try:
            return socket.getservbyname(name, service_protocol)
        except (OSError, UnicodeError, ValueError):  # ValueError: a NUL in the name
            return None
    return None


def _define(texts, element, errh):
    """PortInfo's arguments, each 'NAME PORT[/PROTOCOL] [NAME...]': defines the names in element.ports."""
    for arg in texts:
        words = [unquote(w) for w in split_words(arg)]
        if not words or words[0].startswith("#"):
            continue
        names = [words[0]]
        port_text = words[1] if len(words) > 1 else ""
        number, slash, proto_text = port_text.partition("/")
        try:
            port = Int(number) if number else None
        except ArgError:
            port = None
        if port is None or not 0 <= port <= 0xFFFF:
            errh.error("expected 'NAME PORT/PROTO'")
            continue
        proto = IP_PROTO_TCP_OR_UDP
        if slash:
            if not proto_text:
                continue  # no protocol named: ignored, as in Click
            if proto_text.lower() in IP_PROTOS:
                proto = IP_PROTOS[proto_text.lower()]
            else:
                try:
                    proto = Int(proto_text)
                except ArgError:
                    continue  # an unknown protocol: the argument is ignored, as in Click
        for w in words[2:]:
            if w.startswith("#"):
                break
            names.append(w)
        for name in names:
            for p in (IP_PROTO_TCP, IP_PROTO_UDP) if proto == IP_PROTO_TCP_OR_UDP else (proto,):
                element.ports.setdefault(p, {})[name] = port
    return element.ports


class PortInfo(Element):
    """=c
    PortInfo(NAME PORT[/PROTOCOL], ...)

    =s information
    stores named TCP/UDP port information

    =d
    Gives names to TCP and UDP ports for the other elements' configurations.
    Each argument is 'NAME PORT/PROTOCOL'; without /PROTOCOL (tcp, udp, or
    another protocol name or number) the name is for both TCP and UDP. More
    names may follow the port ('NAME PORT/PROTOCOL NAME...'), and '#' starts
    a comment to the end of the argument, so lines of /etc/services can be
    used as they are. An argument whose protocol is unknown is ignored.

    Names defined inside a compound element are visible only inside it.
    Names nobody defines fall back on Click's well-known ports and this
    host's services database. PortInfo is configured before the elements
    that use its names.

    =e
    PortInfo(ssh 22, http 80, dns 53/udp);
    ... -> UDPIPEncap(1.0.0.1, dns, 1.0.0.2, dns) -> ...;
    """
    port_count = "0/0"
    processing = "a"
    defines_names = True  # a hot reload re-resolves the elements that use its names
    configure_phase = CONFIGURE_PHASE_FIRST
    arguments = (Arg("NAME", language(_define), rest=True, doc="'NAME PORT[/PROTOCOL]', any number"),)

    def __init__(self, *args, **kwargs):
        self.ports: dict[int, dict[str, int]] = {}

    def configure(self, conf, errh):
        return parse_arguments(self, conf, type(self).arguments, errh) is not None
