"""Names and argument types of the IP family (slow path: configuration, printing).

The names themselves are Click's NameInfo tables, in clickpy.runtime.names.
Arguments look a name up first (protocols: elements answering through the
router, the built-in table, /etc/protocols; ports: port_info.lookup_port),
then read a number, as Click's ``NameInfo::query_int`` does.
"""
from __future__ import annotations

import socket

from clickpy.runtime.args import ArgError, Bool, Int, String, Unsigned
from clickpy.runtime.names import IP_PROTOS

from clickpy.elements.standard.port_info import lookup_port


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
