# cython: language_level=3
from libc.stdint cimport uint64_t

from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport Packet

cdef enum:
    HEADER_OK = -1          # what check returns for a good packet
    MAX_REASONS = 8


cdef class HeaderCheck(BranchElement):
    cdef public bint verbose        # a message for every bad packet, not just the first
    cdef public bint details        # count bad packets per reason (drop_details)
    cdef public uint64_t drops      # bad packets seen
    cdef uint64_t _reason_drops[8]  # per reason, with DETAILS

    # Check (and mark) one packet: HEADER_OK, or the index of the reason it
    # is bad in the class's REASONS. Subclasses override this only.
    cdef int check(self, Packet *p) noexcept
    cdef void _complain(self, int reason) noexcept
