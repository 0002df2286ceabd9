# cython: language_level=3
"""Bypass: a switchable detour (output 1 and back through input 1) around a path."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet

from clickpy.runtime.args import Arg, ArgError, Bool
from clickpy.runtime.handlers import HandlerError, ReadWrite


def _write_active(e, value):
    try:
        e.active = Bool(value)
    except ArgError:
        raise HandlerError("syntax error") from None


cdef class Bypass(Element):
    """=c
    Bypass([ACTIVE, I<keyword> INLINE])

    =s classification
    sends packet stream through an optional detour

    =d
    Normally passes packets from input 0 to output 0, like Null. While ACTIVE
    is true, a push Bypass sends packets arriving on input 0 out of output 1
    instead (if it has two outputs), and a pull Bypass answers pulls on output
    0 by pulling from input 1 (if it has two inputs). The second input (push)
    or output (pull) joins the detour back to the normal path: a push Bypass
    sends what arrives on input 1 out of output 0, a pull Bypass answers
    pulls on output 1 by pulling from input 0. So

      src -> b :: Bypass -> sink;  b[1] -> Print(Debug) -> [1] b;

    prints packets only while b.active is true, and the same detour works in
    a pull context.

    Click's Bypass rewires its neighbours' ports so that it costs nothing
    when inactive; this one forwards each packet or batch itself (what
    Click's INLINE true does). What reaches each element is the same either
    way. INLINE is accepted for compatibility.

    =h active read/write
    Whether the detour is taken.

    =e
    src -> print_bypass :: Bypass -> Discard;
    print_bypass [1] -> Print(Debug) -> [1] print_bypass;
    """
    port_count = "1-2/1-2"
    processing = "a"
    flow_code = "xy/[xy]x"
    arguments = (
        Arg("ACTIVE", Bool, False, positional=True),
        Arg("INLINE", Bool, False),
    )
    handlers = (ReadWrite("active", lambda e: e.active, _write_active),)

    cdef public bint active
    cdef public bint inline

    cdef void push(self, int port, Packet *p) noexcept:
        self.output_push(1 if self.active and port == 0 and self.noutputs > 1 else 0, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        self.output_push_batch(1 if self.active and port == 0 and self.noutputs > 1 else 0, b)

    cdef Packet *pull(self, int port) noexcept:
        return self.input_pull(1 if self.active and port == 0 and self.ninputs > 1 else 0)

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        return self.input_pull_batch(1 if self.active and port == 0 and self.ninputs > 1 else 0, b, max)
