# cython: language_level=3
"""Strip: removes bytes from the front of every packet."""
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, pkt_pull

from clickpy.runtime.args import Arg, Unsigned


cdef class Strip(SimpleElement):
    """=c
    Strip(LENGTH)

    =s basicmod
    strips bytes from front of packets

    =d
    Removes LENGTH bytes from the front of each packet (all of a shorter
    packet). Nothing is copied: the data start moves forward, and Unstrip
    can bring the bytes back.

    =e
    FromDevice(eth0) -> Strip(14) -> CheckIPHeader -> ...;   // drop the Ethernet header
    """
    port_count = "1/1"
    processing = "a"
    arguments = (Arg("LENGTH", Unsigned, None, positional=True, mandatory=True),)

    cdef public unsigned length

    cdef Packet *simple_action(self, Packet *p) noexcept:
        pkt_pull(p, self.length)
        return p
