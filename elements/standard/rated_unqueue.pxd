# cython: language_level=3
from libc.stdint cimport uint32_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.scheduler cimport Scheduler, Task, Timer

from clickpy.elements.standard.token_bucket cimport TokenBucket


cdef class RatedUnqueue(Element):
    cdef TokenBucket _tb            # the rate: tokens are packets (bytes for BandwidthRatedUnqueue)
    cdef public Task task
    cdef Timer _timer               # wakes the task when the bucket will hold enough
    cdef NotifierSignal _signal     # upstream queues have packets
    cdef Scheduler _sched
    cdef public bint active
    cdef public uint32_t runs       # run_task calls
    cdef public uint32_t pushes
    cdef public uint32_t failed_pulls
    cdef public uint32_t empty_runs # runs that moved no packet

    cdef void _wait_for(self, uint32_t tokens) noexcept
