# cython: language_level=3
"""Idle: never sends a packet; drops whatever is pushed to it."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport ActiveNotifier
from clickpy.runtime.packet cimport Packet, packet_kill


cdef class Idle(Element):
    """=c
    Idle

    =s basicsources
    discards packets

    =d
    Has any number of agnostic inputs and outputs. Never pushes or pulls a
    packet; drops any packet pushed to it. Pullers downstream of an Idle know
    it will never have a packet, so they sleep.
    """
    port_count = "-/-"
    processing = "a/a"
    # Inputs and outputs are unrelated ('x' never meets 'y'): an Idle in a
    # pull path does not tie its push and pull sides together.
    flow_code = "x/y"
    flags = "S0"
    cdef ActiveNotifier _never

    def __cinit__(self):
        self._never = ActiveNotifier("empty", 0, False)

    def port_notifier(self, isoutput, port, kind):
        return self._never if isoutput and kind == "empty" else None

    cdef void push(self, int port, Packet *p) noexcept:
        packet_kill(p)

    cdef Packet *pull(self, int port) noexcept:
        return NULL
