# cython: language_level=3
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet


cdef class BranchElement(Element):
    # Decide one packet: return it (or its replacement) with *out set to 0 or
    # 1, or NULL if the element consumed it. Subclasses override this only.
    cdef Packet *classify(self, Packet *p, int *out) noexcept
