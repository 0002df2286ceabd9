# cython: language_level=3
"""Classifier's compiled decision program, for cimport by other classifiers.

A program is an array of steps. Each step loads the 4 packet bytes at
``offset`` (from the data start), ANDs them with ``mask`` and compares the
result with ``value``; ``j[1]`` is the next step when they are equal and
``j[0]`` when not. A jump that is not positive ends the walk at output
``-j``. Steps only jump forward, so a walk always ends.

Words are compared in memory order (mask and value hold the pattern's bytes
as they lie in the packet), so a step costs one load, one AND and one
compare. Packets shorter than ``safe_length`` (the end of the last word any
step loads) take a checked walk that never reads past the packet: a step
whose masked bytes lie past the end takes branch ``j[short_output]``
without looking at the data, as Click's does; one whose masked bytes are
all there compares them.

``Program`` (the Python class in classifier.pyx) builds and optimizes the
decision DAG; ``CompiledProgram.build(program)`` turns it into this form.
"""
from libc.stdint cimport int32_t, uint8_t, uint32_t
from libc.string cimport memcpy

from clickpy.runtime.element cimport Element


cdef struct WordInsn:
    uint32_t offset         # byte offset of the word from the data start
    uint32_t mask           # memory-order mask
    uint32_t value          # memory-order value (already masked)
    int32_t j[2]            # j[0] on mismatch, j[1] on match; <= 0 means output -j
    uint8_t short_output    # branch taken when the masked bytes are past the end
    uint8_t need            # bytes of the word the mask touches (0..4)


cdef class CompiledProgram:
    cdef WordInsn *insn
    cdef readonly int ninsn
    cdef readonly int output_everything   # >= 0: every packet goes to this output
    cdef readonly uint32_t safe_length    # packets at least this long hold every word the walk loads

    # The walk as straight-line C made for this program by a specialised
    # module (clickpy.specialize), or NULL; it gets base[0] = the data start.
    cdef int (*fast)(const unsigned char **base) noexcept nogil

    cdef int checked_match(self, const unsigned char *data, uint32_t length) noexcept nogil

    cdef inline int match(self, const unsigned char *data, uint32_t length) noexcept nogil:
        """The output for a packet's data (a large value means 'no output': drop)."""
        cdef const WordInsn *ex
        cdef int pos = 0
        cdef uint32_t w
        if self.output_everything >= 0:
            return self.output_everything
        if length < self.safe_length:
            return self.checked_match(data, length)
        if self.fast != NULL:
            return self.fast(&data)
        ex = self.insn
        while True:
            memcpy(&w, data + ex[pos].offset, 4)
            pos = ex[pos].j[(w & ex[pos].mask) == ex[pos].value]
            if pos <= 0:
                return -pos


cdef class Classifier(Element):
    cdef CompiledProgram _prog
    cdef public object program      # the optimized Program (Python form)
