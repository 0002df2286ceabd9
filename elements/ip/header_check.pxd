# cython: language_level=3
from libc.stdint cimport uint64_t

from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport Packet

cdef enum:
    HEADER_OK = -1          # a good packet, as a subclass's check says
    MAX_REASONS = 8


cdef class HeaderCheck(BranchElement):
    cdef public bint verbose        # a message for every bad packet, not just the first
    cdef public bint details        # count bad packets per reason (drop_details)
    cdef public uint64_t drops      # bad packets seen
    cdef uint64_t _reason_drops[8]  # per reason, with DETAILS

    # A subclass's classify is ``return self.verdict(self.check(p), p, out)``,
    # its check returning HEADER_OK or the index of the packet's fault in the
    # class's REASONS (the subclass is final, so check is called directly).
    cdef inline Packet *verdict(self, int reason, Packet *p, int *out) noexcept:
        out[0] = 0
        if reason == HEADER_OK:
            return p
        return self.bad(reason, p, out)

    cdef Packet *bad(self, int reason, Packet *p, int *out) noexcept
