# cython: language_level=3
"""Switch: sends every packet out of one output, chosen by a handler."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet

from clickpy.runtime.args import Arg, ArgError, Int
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite


# Click's LLRPC numbers (ioctl encoding: direction, 4-byte argument, 0xC0 | n).
LLRPC_GET_SWITCH = 0x4004C005
LLRPC_SET_SWITCH = 0x80044006


def _write_switch(e, value):
    try:
        v = Int(value)
    except ArgError:
        raise HandlerError("Switch output must be integer") from None
    e.set_output(v)


cdef class Switch(Element):
    """=c
    Switch([OUTPUT])

    =s classification
    sends packet stream to one output

    =d
    Pushes every packet out of output OUTPUT (default 0). A negative OUTPUT
    drops every packet. The 'switch' handler changes the output while the
    router runs; writing a number not less than the number of outputs sets it
    to -1 (drop).

    A batch moves on whole to the selected output.

    =h switch read/write
    The output in use (-1: packets are dropped).

    =h config read-only
    Same as 'switch'.

    =e
    s :: Switch(0);
    src -> s;
    s[0] -> Discard;
    s[1] -> Print(on) -> Discard;
    // write s.switch 1 to turn printing on
    """
    port_count = "1/-"
    processing = "h"
    arguments = (Arg("OUTPUT", Int, 0, positional=True),)
    handlers = (
        ReadWrite("switch", lambda e: e.output, _write_switch),
        Read("config", lambda e: e.output, calm=True),
    )

    cdef public int output

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        if self.output >= self.noutputs:
            errh.error(f"output must be < {self.noutputs}")

    def set_output(self, int output):
        self.output = -1 if output >= self.noutputs else output

    def llrpc(self, command, data):
        """Click's CLICK_LLRPC_GET_SWITCH / SET_SWITCH, a native-endian int (ControlSocket LLRPC)."""
        import struct
        from clickpy.runtime.handlers import HandlerError

        if command == LLRPC_GET_SWITCH:
            return struct.pack("=i", self.output)
        if command == LLRPC_SET_SWITCH:
            self.set_output(struct.unpack("=i", data[:4])[0])
            return b""
        raise HandlerError(f"unknown LLRPC {command:#x}")

    cdef void push(self, int port, Packet *p) noexcept:
        self.checked_output_push(self.output, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        self.checked_output_push_batch(self.output, b)
