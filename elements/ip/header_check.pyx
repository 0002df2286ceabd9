# cython: language_level=3
"""HeaderCheck: the base of CheckIPHeader, CheckTCPHeader, CheckUDPHeader and
CheckICMPHeader, which differ only in what they check.

A subclass gives a ``check`` that returns HEADER_OK or a reason, a one-line
``classify`` that hands that to ``verdict``, and, as class data, ``REASONS``
(the drop reasons, indexed by what check returns) and ``FAILURE`` (the
message's format, with ``{name}`` and ``{reason}``). The base does the rest once: a bad packet is
counted and leaves on output 1 if there is one, else is dropped, in
per-packet order in a batch too (BranchElement); the first bad packet prints
a message, every one with VERBOSE; DETAILS counts them per reason, read from
the ``drop_details`` handler.
"""
from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport Packet, packet_kill

import sys

from clickpy.runtime.args import Arg, Bool
from clickpy.runtime.handlers import Read


def _drop_details(e):
    return "".join(f"{n}\t{reason}\n" for n, reason in zip(e.reason_drops, type(e).REASONS))


cdef class HeaderCheck(BranchElement):
    abstract = True
    port_count = "1/1-2"
    processing = "a/ah"
    arguments = (Arg("VERBOSE", Bool, False), Arg("DETAILS", Bool, False))
    handlers = (Read("drops", lambda e: e.drops),)
    REASONS = ()
    FAILURE = "{name}: header check failed: {reason}"

    @property
    def extra_handlers(self):
        return (Read("drop_details", _drop_details),) if self.details else ()

    @property
    def reason_drops(self):
        return [self._reason_drops[i] for i in range(len(type(self).REASONS))]

    cdef Packet *bad(self, int reason, Packet *p, int *out) noexcept:
        if self.drops == 0 or self.verbose:
            try:
                cls = type(self)
                sys.stderr.write(cls.FAILURE.format(name=self.name, reason=cls.REASONS[reason]) + "\n")
            except BaseException:
                pass
        self.drops += 1
        if self.details and reason < MAX_REASONS:
            self._reason_drops[reason] += 1
        if self.noutputs == 2:
            out[0] = 1
            return p
        packet_kill(p)
        return NULL
