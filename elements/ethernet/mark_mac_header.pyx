# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""MarkMACHeader: sets the MAC header annotation."""
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet

from clickpy.runtime.args import Arg, Unsigned


cdef class MarkMACHeader(SimpleElement):
    """=c
    MarkMACHeader([OFFSET, LENGTH])

    =s ip
    sets MAC header annotation

    =d
    Marks the MAC header as starting OFFSET bytes into the packet (default
    0). A nonzero LENGTH makes the MAC header LENGTH bytes long: the network
    header annotation then starts OFFSET+LENGTH bytes in. Packets shorter
    than OFFSET are dropped.

    =e
      MarkMACHeader(0, 14)

    =a MarkIPHeader
    """
    port_count = "1/1"
    processing = "a"
    live_reconfigure = True
    arguments = (
        Arg("OFFSET", Unsigned, 0, positional=True),
        Arg("LENGTH", Unsigned, 0, positional=True),
    )

    cdef public unsigned int offset
    cdef public unsigned int length

    cdef Packet *simple_action(self, Packet *p) noexcept:
        if self.offset > p.length:
            self.drop(p)
            return NULL
        p.mac = <int> (p.data + self.offset)
        if self.length:
            p.network = p.mac + <int> self.length
        return p
