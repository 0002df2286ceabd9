# cython: language_level=3
"""Paint: sets a one-byte annotation (the paint colour) of every packet."""
from libc.stdint cimport uint8_t

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport PAINT_ANNO_OFFSET, Packet

from clickpy.runtime.args import Arg, ArgError, Int, Unsigned
from clickpy.runtime.handlers import HandlerError, ReadWrite

# Click's annotation names: (offset, size in bytes).
ANNOTATIONS = {
    "AGGREGATE": (20, 4), "DST_IP": (0, 4), "DST_IP6": (0, 16), "EXTRA_LENGTH": (28, 4),
    "EXTRA_PACKETS": (24, 4), "FIRST_TIMESTAMP": (32, 8), "FIX_IP_SRC": (19, 1),
    "FWD_RATE": (20, 4), "GRID_ROUTE_CB": (27, 1), "ICMP_PARAMPROB": (17, 1),
    "IPREASSEMBLER": (28, 4), "IPSEC_SPI": (32, 4), "MISC_IP": (20, 4),
    "PACKET_NUMBER": (32, 4), "PAINT": (16, 1), "PERFCTR": (40, 8), "REV_RATE": (24, 4),
    "SEQUENCE_NUMBER": (36, 4), "VLAN": (20, 2), "VLAN_TCI": (20, 2), "WIFI_EXTRA": (16, 24),
}
ANNO_SIZE = 48


def anno_arg(int size):
    """Argument type: an annotation of size bytes, by Click name or byte offset.

    A name must be an annotation of that size; an offset must leave room
    for size bytes in the 48-byte area (and be size-aligned for 2, 4 and 8,
    as Click requires). The value is the offset.
    """
    def parse(text, element=None):
        t = text.strip()
        if t in ANNOTATIONS:
            offset, asize = ANNOTATIONS[t]
            if size > 0 and asize != size:
                raise ArgError(f"expected {size}-byte annotation")
        else:
            try:
                offset = Int(t)
            except ArgError:
                raise ArgError("expected annotation") from None
            if offset < 0:
                raise ArgError("expected annotation")
        if size > 0:
            if size in (2, 4, 8) and offset % size:
                raise ArgError("expected annotation")
            if offset + size > ANNO_SIZE:
                raise ArgError("expected annotation")
        elif offset >= ANNO_SIZE:
            raise ArgError("expected annotation")
        return offset

    parse.__name__ = "anno_arg"
    return parse


def Byte(text, element=None):
    """An unsigned integer that fits in one byte."""
    try:
        v = Unsigned(text)
    except ArgError:
        raise ArgError("expected integer between 0 and 255") from None
    if v > 255:
        raise ArgError("expected integer between 0 and 255")
    return v


def write_color(e, value):
    try:
        e.color = Byte(value)
    except ArgError as err:
        raise HandlerError(f"color: {err}") from None


cdef class Paint(SimpleElement):
    """=c
    Paint(COLOR [, ANNO])

    =s paint
    sets packet paint annotations

    =d
    Sets each packet's paint annotation (one byte) to COLOR, an integer from
    0 to 255. ANNO names another one-byte annotation to set instead, by name
    (PAINT, FIX_IP_SRC, ...) or byte offset.

    =h color read/write
    The colour.

    =e
    FromDevice(eth0) -> Paint(1) -> ...;
    """
    port_count = "1/1"
    processing = "a"
    arguments = (
        Arg("COLOR", Byte, None, positional=True, mandatory=True),
        Arg("ANNO", anno_arg(1), PAINT_ANNO_OFFSET, positional=True),
    )
    handlers = (ReadWrite("color", lambda e: e.color, write_color),)

    cdef public uint8_t color
    cdef public int anno

    cdef Packet *simple_action(self, Packet *p) noexcept:
        p.anno[self.anno] = self.color
        return p
