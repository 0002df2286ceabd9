# cython: language_level=3
from clickpy.runtime.element cimport Element, OutputRun
from clickpy.runtime.packet cimport Batch, Packet


cdef class BranchElement(Element):
    cdef OutputRun *_pending    # while push_batch runs: packets not yet sent; else NULL

    # Decide one packet: return it (or its replacement) with *out set to the
    # output it leaves on, or NULL if the element consumed it. Subclasses
    # override this only.
    cdef Packet *classify(self, Packet *p, int *out) noexcept

    # From classify: send p out of port now, after every packet classified
    # before (a copy sent ahead of the packet it was made from, as Click's
    # PaintTee does).
    cdef void emit(self, int port, Packet *p) noexcept
