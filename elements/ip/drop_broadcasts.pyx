# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DropBroadcasts: drops packets that arrived as link-level broadcasts or multicasts."""
import sys

from libc.stdint cimport uint32_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport PACKET_BROADCAST, PACKET_MULTICAST, Batch, Packet

from clickpy.runtime.handlers import Read


cdef class DropBroadcasts(Element):
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

    cdef inline bint is_broadcast(self, Packet *p) noexcept:
        if p.packet_type != PACKET_BROADCAST and p.packet_type != PACKET_MULTICAST:
            return False
        if self.drops == 0:
            try:
                sys.stderr.write("DropBroadcasts: dropped a packet\n")
            except BaseException:
                pass
        self.drops += 1
        return True

    cdef void push(self, int port, Packet *p) noexcept:
        if self.is_broadcast(p):
            self.checked_output_push(1, p)
        else:
            self.output_push(0, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        # Output 0 gets runs, each sent before the next output-1 packet, so
        # both outputs see the per-packet order.
        cdef Batch run
        cdef int i
        cdef int n = b.count
        run.count = 0
        b.count = 0
        for i in range(n):
            if self.is_broadcast(b.p[i]):
                if run.count:
                    self.output_push_batch(0, &run)
                    run.count = 0
                self.checked_output_push(1, b.p[i])
            else:
                run.p[run.count] = b.p[i]
                run.count += 1
        if run.count:
            self.output_push_batch(0, &run)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = self.input_pull(0)
        if p != NULL and self.is_broadcast(p):
            self.checked_output_push(1, p)
            return NULL
        return p
