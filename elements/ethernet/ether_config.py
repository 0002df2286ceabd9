"""Argument types and handlers the Ethernet elements share (slow path only).

* Argument types in the ``(text, element) -> value`` form of
  ``clickpy.runtime.args``: bounded integers, Ethernet types, and the
  VLAN_TCI word (a number, or ``ANNO`` to take the TCI from the annotation).
* Click's "data" handlers for a header field: an Ethernet address printed
  ``00-1B-21-44-04-F0`` and a 16-bit number.
"""
from __future__ import annotations

from clickpy.runtime.args import ArgError, EtherAddress, Int, String
from clickpy.runtime.handlers import HandlerError

ANNO = "ANNO"


def bounded_int(lo: int, hi: int):
    """An argument type: an integer in [lo, hi] (Click's BoundedIntArg)."""
    def parse(text, element=None):
        v = Int(text, element)
        if not lo <= v <= hi:
            raise ArgError(f"out of range, bound {lo if v < lo else hi}")
        return v

    parse.__name__ = f"integer {lo}..{hi}"
    return parse


def EtherType(text, element=None) -> int:
    """A 16-bit Ethernet type, in host order (0x0800, 2048, ...)."""
    try:
        v = Int(text, element)
    except ArgError:
        raise ArgError("expected integer") from None
    if not 0 <= v <= 0xFFFF:
        raise ArgError("out of range, bound 65535")
    return v


_TCI = bounded_int(0, 0xFFFF)


def VLANTci(text, element=None):
    """VLAN_TCI: a 16-bit TCI, or the word ANNO (read the packet's annotation)."""
    word = String(text, element)
    if word == ANNO:
        return ANNO
    return _TCI(word, element)


VLAN_PCP = bounded_int(0, 7)
VLAN_ID = bounded_int(0, 0xFFF)
NATIVE_VLAN = bounded_int(-1, 0xFFF)


def unparse_ether(b: bytes) -> str:
    """Click's EtherAddress::unparse: upper-case hex joined by dashes."""
    return "-".join(f"{x:02X}" for x in b)


# --- header field ("data") handlers ----------------------------------------------------------


def parse_ether_handler(e, value) -> bytes:
    try:
        return EtherAddress(value.strip(), e)
    except ArgError:
        raise HandlerError("expected Ethernet address") from None


def parse_u16_handler(value) -> int:
    try:
        v = Int(value.strip())
    except ArgError:
        raise HandlerError("expected uint16_t") from None
    if not 0 <= v <= 0xFFFF:
        raise HandlerError("expected uint16_t")
    return v
