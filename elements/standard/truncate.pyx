# cython: language_level=3
"""Truncate: cuts packets down to a maximum length."""
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport (EXTRA_LENGTH_ANNO_OFFSET, Packet, pkt_anno_u32, pkt_set_anno_u32,
                                     pkt_take)

from clickpy.runtime.args import Arg, ArgError, Bool, Unsigned
from clickpy.runtime.handlers import HandlerError, ReadWrite


def _write_nbytes(e, value):
    try:
        e.length = Unsigned(value)
    except ArgError as err:
        raise HandlerError(f"nbytes: {err}") from None


cdef class Truncate(SimpleElement):
    """=c
    Truncate(LENGTH [, I<keyword> EXTRA_LENGTH])

    =s basicmod
    limits packet length

    =d
    Removes bytes from the end of packets longer than LENGTH so they are
    LENGTH bytes long. If EXTRA_LENGTH is true (the default), the number of
    bytes removed is added to the packet's extra length annotation, which
    Pad and the dump writers use to remember the original length.

    =h nbytes read/write
    LENGTH.

    =e
    ... -> Truncate(68) -> ToDump(headers.pcap);
    """
    port_count = "1/1"
    processing = "a"
    arguments = (
        Arg("LENGTH", Unsigned, None, positional=True, mandatory=True),
        Arg("EXTRA_LENGTH", Bool, True),
    )
    handlers = (ReadWrite("nbytes", lambda e: e.length, _write_nbytes),)

    cdef public unsigned length
    cdef public bint extra_length

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef unsigned cut
        if p.length > self.length:
            cut = p.length - self.length
            if self.extra_length:
                pkt_set_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET,
                                 pkt_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET) + cut)
            pkt_take(p, cut)
        return p
