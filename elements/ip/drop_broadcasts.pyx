# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DropBroadcasts: drops packets that arrived as link-level broadcasts or multicasts."""
import sys

from libc.stdint cimport uint32_t

from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport PACKET_BROADCAST, PACKET_MULTICAST, Packet

from clickpy.runtime.handlers import Read


cdef class DropBroadcasts(BranchElement):
    """=c
    DropBroadcasts

    =s annotations
    drops link-level broadcast and multicast packets

    =d
    Drops packets whose packet type annotation (set by FromDevice or
    HostEtherFilter) says they arrived as link-level broadcasts or
    multicasts, as IP routers must not forward those. With two outputs, such
    packets leave on output 1 instead. The first drop is reported.

    =h drops read-only: packets dropped (or sent to output 1)

    =a FromDevice, HostEtherFilter
    """
    port_count = "1/1-2"
    processing = "a/ah"
    arguments = ()
    handlers = (Read("drops", lambda e: e.drops),)

    cdef public uint32_t drops

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        out[0] = 0
        if p.packet_type != PACKET_BROADCAST and p.packet_type != PACKET_MULTICAST:
            return p
        if self.drops == 0:
            try:
                sys.stderr.write("DropBroadcasts: dropped a packet\n")
            except BaseException:
                pass
        self.drops += 1
        out[0] = 1
        return p
