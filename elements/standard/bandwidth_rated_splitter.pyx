# cython: language_level=3
"""BandwidthRatedSplitter: sends packets up to a bandwidth to output 0, the rest to output 1."""
from clickpy.runtime.packet cimport Packet

from clickpy.elements.standard.rated_splitter cimport RatedSplitter
from clickpy.elements.standard.token_bucket cimport (
    tb_contains, tb_jiffies, tb_refill, tb_remove,
)

from clickpy.elements.standard.rate_args import token_bucket_arguments

# A packet may pass while the bucket holds this many bytes (rate_args.BANDWIDTH_THRESHOLD).
cdef unsigned THRESHOLD = 131072


cdef class BandwidthRatedSplitter(RatedSplitter):
    """=c
    BandwidthRatedSplitter(RATE, [keywords BURST_DURATION, BURST_BYTES])

    =s shaping
    splits flow of packets at specified bandwidth rate

    =d
    Pushes packets out of output 0 up to the bandwidth RATE (such as
    "384kbps"; a bare number is bytes per second), and the rest out of
    output 1 (dropped if there is none). Unlike BandwidthMeter, RATE still
    leaves on output 0 when more arrives. The token bucket is Click's,
    counting bytes (see BandwidthRatedUnqueue): 20 milliseconds' worth of
    bytes unless BURST_DURATION or BURST_BYTES says otherwise -- not both.

    =h rate read/write: the rate, as Click prints bandwidths
    =h config read-only: the rate

    =e
    ... -> s :: BandwidthRatedSplitter(1Mbps) -> ToDevice(eth0);
    s [1] -> Discard;
    """
    arguments = token_bucket_arguments(bandwidth=True)
    bandwidth = True

    cdef void push(self, int port, Packet *p) noexcept:
        tb_refill(&self._tb, tb_jiffies(self._sched.now()))
        if tb_contains(&self._tb, THRESHOLD):
            tb_remove(&self._tb, p.length)
            self.output_push(0, p)
        else:
            self.checked_output_push(1, p)
