# cython: language_level=3
"""InputSwitch: forwards packets from one input, chosen by a handler, and drops the rest."""
from clickpy.runtime.element cimport Element, kill_batch
from clickpy.runtime.packet cimport Batch, Packet, packet_kill

from clickpy.runtime.args import Arg, ArgError, Int
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite


def _write_switch(e, value):
    try:
        v = Int(value)
    except ArgError:
        raise HandlerError("InputSwitch input must be integer") from None
    e.set_input(v)


cdef class InputSwitch(Element):
    """=c
    InputSwitch([INPUT])

    =s classification
    accepts packet stream from settable input

    =d
    Pushes packets that arrive on input INPUT (default 0) out of its output
    and drops packets arriving on any other input. The 'switch' handler
    changes the input while the router runs; writing a number not less than
    the number of inputs sets it to -1 (every packet is dropped).

    (As in Click, the positional argument's keyword is OUTPUT.)

    =h switch read/write
    The input in use (-1: none).

    =h config read-only
    Same as 'switch'.

    =e
    a -> [0] s :: InputSwitch(0) -> Queue -> ToDevice(eth0);
    b -> [1] s;
    """
    port_count = "-/1"
    processing = "h"
    arguments = (Arg("OUTPUT", Int, 0, positional=True, attr="input"),)
    handlers = (
        ReadWrite("switch", lambda e: e.input, _write_switch),
        Read("config", lambda e: e.input, calm=True),
    )

    cdef public int input

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        if self.input >= self.ninputs:
            errh.error(f"input must be < {self.ninputs}")

    def set_input(self, int input):
        self.input = -1 if input >= self.ninputs else input

    cdef void push(self, int port, Packet *p) noexcept:
        if port == self.input:
            self.output_push(0, p)
        else:
            packet_kill(p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        if port == self.input:
            self.output_push_batch(0, b)
        else:
            kill_batch(b)
