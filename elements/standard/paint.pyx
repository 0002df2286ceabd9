# cython: language_level=3
"""Paint: sets a one-byte annotation (the paint colour) of every packet."""
from libc.stdint cimport uint8_t

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport PAINT_ANNO_OFFSET, Packet

from clickpy.runtime.args import Annotation, Arg, ArgError, Unsigned
from clickpy.runtime.handlers import HandlerError, ReadWrite

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
        Arg("ANNO", Annotation(1), PAINT_ANNO_OFFSET, positional=True),
    )
    handlers = (ReadWrite("color", lambda e: e.color, write_color),)

    cdef public uint8_t color
    cdef public int anno

    cdef Packet *simple_action(self, Packet *p) noexcept:
        p.anno[self.anno] = self.color
        return p
