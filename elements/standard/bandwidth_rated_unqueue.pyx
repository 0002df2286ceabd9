# cython: language_level=3
"""BandwidthRatedUnqueue: pulls packets at a fixed bandwidth and pushes them on."""
from clickpy.runtime.packet cimport Packet

from clickpy.elements.standard.rated_unqueue cimport RatedUnqueue
from clickpy.elements.standard.token_bucket cimport (
    tb_contains, tb_jiffies, tb_refill, tb_remove,
)

from clickpy.elements.standard.rate_args import token_bucket_arguments

# Pull while the bucket holds this many bytes (rate_args.BANDWIDTH_THRESHOLD).
cdef unsigned THRESHOLD = 131072


cdef class BandwidthRatedUnqueue(RatedUnqueue):
    """=c
    BandwidthRatedUnqueue(RATE, [keywords BURST_DURATION, BURST_BYTES])

    =s shaping
    pull-to-push converter

    =d
    Pulls packets at the bandwidth RATE (such as "2000Bps" or "1Mbps"; a bare
    number is bytes per second) and pushes them out. The token bucket is
    Click's, counting bytes: a packet may go while the bucket holds 131072
    bytes beyond the burst, and then costs its length. The burst is 20
    milliseconds' worth of bytes unless BURST_DURATION (a time) or
    BURST_BYTES says otherwise -- not both. Sleeps while the queues upstream
    are empty and while the bucket refills.

    =h rate read/write: the rate, as Click prints bandwidths ('16kbps')
    =h active read/write
    =h calls read-only
    =h config read-only: the rate

    =e
    ... -> Queue -> BandwidthRatedUnqueue(384kbps) -> ...
    """
    arguments = token_bucket_arguments(bandwidth=True)
    bandwidth = True

    cdef bint run_task(self, object task) noexcept:
        cdef Packet *p
        self.runs += 1
        if not self.active:
            return False
        tb_refill(&self._tb, tb_jiffies(self._sched.now()))
        if not tb_contains(&self._tb, THRESHOLD):
            self._wait_for(THRESHOLD)
            return False
        p = self.input_pull(0)
        if p == NULL:
            self.failed_pulls += 1
            if not self._signal.active():
                return False
            self.empty_runs += 1
            self.task.fast_reschedule()
            return False
        tb_remove(&self._tb, p.length)
        self.pushes += 1
        self.output_push(0, p)
        self.task.fast_reschedule()
        return True
