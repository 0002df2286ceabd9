# cython: language_level=3
"""StaticSwitch: sends every packet out of the one output fixed by its configuration."""
from clickpy.runtime.element cimport Element, kill_batch
from clickpy.runtime.packet cimport Batch, Packet, packet_kill

from clickpy.runtime.args import Arg, Int


cdef class StaticSwitch(Element):
    """=c
    StaticSwitch(OUTPUT)

    =s classification
    sends packet stream to fixed output

    =d
    Pushes every packet out of output OUTPUT, which cannot change while the
    router runs. A negative OUTPUT, or one not less than the number of
    outputs, drops every packet.

    =e
    src -> StaticSwitch(1) => (-> Discard; -> Counter -> Discard);
    """
    port_count = "1/-"
    processing = "h"
    arguments = (Arg("OUTPUT", Int, 0, positional=True, mandatory=True),)

    cdef public int output

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        if self.output >= self.noutputs:
            self.output = -1

    cdef void push(self, int port, Packet *p) noexcept:
        if self.output < 0:
            packet_kill(p)
        else:
            self.output_push(self.output, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        if self.output < 0:
            kill_batch(b)
        else:
            self.output_push_batch(self.output, b)
