# cython: language_level=3
"""Shaper: lets at most RATE packets per second through, in pull context."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet

from clickpy.elements.standard.gap_rate cimport (
    gr_init, gr_max_rate, gr_need_update, gr_reset, gr_set_rate, gr_swap_place, gr_update,
)

from clickpy.runtime.args import Arg, Unsigned, parse_arguments
from clickpy.runtime.handlers import ReadWrite, Write, write_config, write_keyword

from clickpy.elements.standard.rate_args import unparse_bandwidth


def _read_rate(e):
    return e.rate_text()


cdef class Shaper(Element):
    """=c
    Shaper(RATE)

    =s shaping
    shapes traffic to maximum rate (pkt/s)

    =d
    A pull element that lets at most RATE packets per second through output
    0: a pull there pulls from upstream only if the packets so far are behind
    an evenly spaced RATE per second. It shapes as well as it is pulled:
    sporadic pulls give sporadic packets, many evenly spaced pulls give RATE
    with little burstiness. The arithmetic is Click's GapRate (microseconds,
    scaled), so the counts match Click's.

    A pull on output 1, if present, pulls a packet only when output 0 would
    not: packets that do not meet the shaping condition, unshaped. Useful
    for sampling in pull context (see the example).

    =h rate read/write: the rate; writing it reconfigures RATE
    =h reset write-only: restart the rate's reckoning
    =h config read-only: the rate, as Click prints it

    =e
    Print at most 10 packets per second, in pull context:

      ... -> Shaper(10)
          => ( [0] -> Print -> [0];
               [1] -> [1] )
          => RoundRobinSched -> ...
    """
    port_count = "1/1-2"
    processing = "l"
    live_reconfigure = True
    arguments = (Arg("RATE", Unsigned, None, positional=True, mandatory=True),)
    bandwidth = False
    handlers = (
        ReadWrite("rate", _read_rate, write_keyword("RATE", 0)),
        ReadWrite("config", _read_rate, write_config, calm=True),
        Write("reset", lambda e, v: e.reset_rate(), button=True),
    )

    def __cinit__(self):
        gr_init(&self._rate, 0)

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        rate = values["rate"]
        if rate > gr_max_rate():
            errh.warning(f"rate too large; lowered to {gr_max_rate()}")
        # Before initialize there is no clock yet; the rate's state is fresh then anyway.
        now = self._sched.now() if self._sched is not None else 0
        gr_set_rate(&self._rate, min(rate, gr_max_rate()), now)
        return True

    def initialize(self, errh):
        self._sched = self.router.scheduler

    def take_state(self, old, errh):
        """Carry on old's place in its rate's second in a reload (gap_rate.pxd,
        gr_take_place: no burst is granted); swapped, so a rollback restores it."""
        cdef Shaper o
        if type(old) is not type(self):     # (the Bandwidth class counts bytes, not packets)
            return None
        o = old
        gr_swap_place(&self._rate, &o._rate, self._sched.now())
        return {"counts": 1}

    def reset_rate(self):
        gr_reset(&self._rate)

    def rate_text(self):
        r = self._rate.rate
        return unparse_bandwidth(r) if type(self).bandwidth else str(r)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = NULL
        cdef bint need = gr_need_update(&self._rate, self._sched.now())
        if port == 0:
            if need:
                p = self.input_pull(0)
                if p != NULL:
                    gr_update(&self._rate)
        elif not need:
            p = self.input_pull(0)
        return p
