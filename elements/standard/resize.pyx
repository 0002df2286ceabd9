# cython: language_level=3
"""Resize: adds or removes bytes at the front and the end of every packet."""
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, pkt_pull, pkt_push, pkt_put, pkt_tailroom, pkt_take

from clickpy.runtime.args import Arg, ArgError, Int
from clickpy.runtime.handlers import HandlerError, ReadWrite


def _setter(attr):
    def write(e, value):
        try:
            setattr(e, attr, Int(value))
        except ArgError as err:
            raise HandlerError(f"{attr}: {err}") from None
    return write


cdef class Resize(SimpleElement):
    """=c
    Resize([HEAD, TAIL])

    =s basicmod
    adjusts packet length

    =d
    Adds HEAD bytes at the front of each packet and TAIL bytes at the end
    (both default 0); a negative number removes that many bytes instead (at
    most the whole packet). Added bytes are undefined; no copy is made when
    they fit in the headroom or tailroom, even of a buffer shared with
    clones (bytes put back at the front are those that were there).

    =h head, tail read/write
    HEAD and TAIL.

    =e
    ... -> Resize(-14, 4) -> ...;
    """
    port_count = "1/1"
    processing = "a"
    flags = "S0"
    arguments = (
        Arg("HEAD", Int, 0, positional=True),
        Arg("TAIL", Int, 0, positional=True),
    )
    handlers = (
        ReadWrite("head", lambda e: e.head, _setter("head")),
        ReadWrite("tail", lambda e: e.tail, _setter("tail")),
    )

    cdef public int head
    cdef public int tail

    cdef Packet *simple_action(self, Packet *p) noexcept:
        if self.head > 0:
            # Click's nonunique push: a shared buffer is not copied (the
            # bytes are not written here), so the headroom keeps its bytes.
            if <unsigned> self.head <= p.data:
                p.data -= self.head
                p.length += self.head
            else:
                p = pkt_push(p, self.head)
            if p == NULL:
                self.dropped += 1   # no buffer big enough
                return NULL
        elif self.head < 0:
            pkt_pull(p, -<long long> self.head if -<long long> self.head < p.length else p.length)
        if self.tail > 0:
            if <unsigned> self.tail <= pkt_tailroom(p):
                p.length += self.tail
            else:
                p = pkt_put(p, self.tail)
            if p == NULL:
                self.dropped += 1   # no buffer big enough
                return NULL
        elif self.tail < 0:
            pkt_take(p, -<long long> self.tail if -<long long> self.tail < p.length else p.length)
        return p
