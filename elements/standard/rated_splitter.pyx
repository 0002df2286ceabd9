# cython: language_level=3
"""RatedSplitter: sends packets up to a rate to output 0, the rest to output 1."""
from libc.stdint cimport uint32_t

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet

from clickpy.elements.standard.token_bucket cimport (
    tb_assign, tb_init, tb_jiffies, tb_rate, tb_refill, tb_remove_if, tb_swap_content,
)

from clickpy.runtime.handlers import ReadWrite, write_config, write_keyword

from clickpy.elements.standard.rate_args import (
    parse_token_bucket, token_bucket_arguments, unparse_bandwidth,
)


def _read_rate(e):
    return e.rate_text()


cdef class RatedSplitter(Element):
    """=c
    RatedSplitter(RATE, [keywords BURST_DURATION, BURST_SIZE])

    =s shaping
    splits flow of packets at specified rate

    =d
    Pushes packets out of output 0 up to RATE packets per second, and the
    rest out of output 1 (dropped if there is none). Unlike Meter, RATE
    packets per second still leave on output 0 when more arrive. The rate is
    Click's token bucket (see RatedUnqueue): 20 milliseconds' worth of
    tokens, at least one, unless BURST_DURATION (a time) or BURST_SIZE (a
    number of packets) says otherwise -- not both.

    =h rate read/write: the rate; writing it reconfigures RATE
    =h config read-only: the rate, as Click prints it

    =e
    rs :: RatedSplitter(2000);
    rs [0] -> sampled :: Counter -> Discard;
    rs [1] -> Discard;
    """
    port_count = "1/1-2"
    processing = "h"
    live_reconfigure = True
    arguments = token_bucket_arguments(bandwidth=False)
    bandwidth = False
    handlers = (
        ReadWrite("rate", _read_rate, write_keyword("RATE", 0)),
        ReadWrite("config", _read_rate, write_config, calm=True),
    )

    def __cinit__(self):
        tb_init(&self._tb)

    def configure(self, conf, errh):
        r = parse_token_bucket(self, conf, errh, type(self).bandwidth)
        if r is None:
            return False
        tb_assign(&self._tb, r[0], r[1])
        return True

    def initialize(self, errh):
        self._sched = self.router.scheduler

    def take_state(self, old, errh):
        """Carry on old's bucket in a reload (token_bucket.pxd, tb_take_content: no
        burst is granted); swapped, so a rollback restores it."""
        cdef RatedSplitter o
        if type(old) is not type(self):     # (the Bandwidth class counts bytes, not packets)
            return None
        o = old
        tb_swap_content(&self._tb, &o._tb)
        return {"counts": 1}

    def rate_text(self):
        cdef uint32_t r = tb_rate(&self._tb)
        return unparse_bandwidth(r) if type(self).bandwidth else str(r)

    cdef void push(self, int port, Packet *p) noexcept:
        tb_refill(&self._tb, tb_jiffies(self._sched.now()))
        if tb_remove_if(&self._tb, 1):
            self.output_push(0, p)
        else:
            self.checked_output_push(1, p)
