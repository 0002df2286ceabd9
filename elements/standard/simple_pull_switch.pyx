# cython: language_level=3
"""SimplePullSwitch: passes pull requests to one input, chosen by a handler."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet

from clickpy.runtime.args import Arg, ArgError, Int
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite


def _write_switch(e, value):
    try:
        v = Int(value)
    except ArgError:
        raise HandlerError("syntax error") from None
    e.set_input(v)


cdef class SimplePullSwitch(Element):
    """=c
    SimplePullSwitch([INPUT])

    =s scheduling
    forwards pull requests to settable input

    =d
    A pull on the output pulls from input INPUT (default 0) and returns what
    it gets. A negative INPUT, or one not less than the number of inputs,
    returns nothing. Unlike PullSwitch, it is no notifier itself: pullers
    downstream listen to the queues upstream of all its inputs, so they wake
    (and pull in vain) when an unselected input gets a packet, and keep
    pulling while one holds packets.

    =h switch read/write
    The input in use (-1: none).

    =h config read-only
    Same as 'switch'.
    """
    port_count = "-/1"
    processing = "l"
    arguments = (Arg("INPUT", Int, 0, positional=True),)
    handlers = (
        ReadWrite("switch", lambda e: e.input, _write_switch),
        Read("config", lambda e: e.input, calm=True),
    )

    cdef public int input

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        self.set_input(self.input)

    def set_input(self, int input):
        self.input = -1 if input < 0 or input >= self.ninputs else input

    cdef Packet *pull(self, int port) noexcept:
        if self.input < 0:
            return NULL
        return self.input_pull(self.input)

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        if self.input < 0:
            b.count = 0
            return 0
        return self.input_pull_batch(self.input, b, max)
