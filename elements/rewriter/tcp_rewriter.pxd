# cython: language_level=3
"""TCPRewriter (see tcp_rewriter.pyx): IPRewriter subclasses it; FTPPortMapper uses it."""
from clickpy.elements.rewriter.rewriter_base cimport IPRewriterBase


cdef class TCPRewriter(IPRewriterBase):
    pass
