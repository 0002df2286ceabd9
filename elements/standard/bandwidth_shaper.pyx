# cython: language_level=3
"""BandwidthShaper: lets at most RATE bytes per second through, in pull context."""
from clickpy.runtime.packet cimport Packet

from clickpy.elements.standard.gap_rate cimport gr_need_update, gr_update_with
from clickpy.elements.standard.shaper cimport Shaper

from clickpy.runtime.args import Arg

from clickpy.elements.standard.rate_args import BandwidthArg


cdef class BandwidthShaper(Shaper):
    """=c
    BandwidthShaper(RATE)

    =s shaping
    shapes traffic to maximum rate (bytes/s)

    =d
    A pull element that lets at most the bandwidth RATE (such as "1Mbps";
    a bare number is bytes per second) through: a pull pulls from upstream
    only while the bytes so far are behind RATE. Many evenly spaced pulls
    give RATE with little burstiness. Both outputs, if there are two, are
    shaped alike (as in Click).

    =h rate read/write: the rate, as Click prints bandwidths
    =h reset write-only: restart the rate's reckoning
    =h config read-only: the rate

    =e
    ... -> Queue -> BandwidthShaper(384kbps) -> ToDevice(eth0);
    """
    arguments = (Arg("RATE", BandwidthArg, None, positional=True, mandatory=True),)
    bandwidth = True

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = NULL
        if gr_need_update(&self._rate, self._sched.now()):
            p = self.input_pull(0)
            if p != NULL:
                gr_update_with(&self._rate, <int> p.length)
        return p
