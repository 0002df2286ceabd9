# cython: language_level=3
# The random number source every element shares (see random_seed.pyx).
# Cython elements draw from it without the GIL:
#
#     from clickpy.elements.standard.random_seed cimport click_random, click_random_below
from libc.stdint cimport uint32_t

# 32 random bits.
cdef uint32_t click_random() noexcept nogil
# A uniform integer in [0, n) (0 if n is 0).
cdef uint32_t click_random_below(uint32_t n) noexcept nogil
# A uniform real in [0, 1).
cdef double click_random_double() noexcept nogil
