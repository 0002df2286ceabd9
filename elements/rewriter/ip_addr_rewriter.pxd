# cython: language_level=3
"""IPAddrRewriter (see ip_addr_rewriter.pyx); the transport checksum fix it shares."""
from clickpy.runtime.packet cimport Packet

from clickpy.elements.rewriter.flow_table cimport RWFlow
from clickpy.elements.rewriter.rewriter_base cimport IPRewriterBase


cdef void addr_flow_transport_csum(RWFlow *f, Packet *p, int d) noexcept nogil


cdef class IPAddrRewriter(IPRewriterBase):
    pass
