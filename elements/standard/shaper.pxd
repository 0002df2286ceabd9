# cython: language_level=3
from clickpy.runtime.element cimport Element
from clickpy.runtime.scheduler cimport Scheduler

from clickpy.elements.standard.gap_rate cimport GapRate


cdef class Shaper(Element):
    cdef GapRate _rate              # events are packets (bytes for BandwidthShaper)
    cdef Scheduler _sched
