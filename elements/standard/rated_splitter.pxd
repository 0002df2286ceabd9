# cython: language_level=3
from clickpy.runtime.element cimport Element
from clickpy.runtime.scheduler cimport Scheduler

from clickpy.elements.standard.token_bucket cimport TokenBucket


cdef class RatedSplitter(Element):
    cdef TokenBucket _tb            # tokens are packets (bytes for BandwidthRatedSplitter)
    cdef Scheduler _sched
