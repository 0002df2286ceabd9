# cython: language_level=3
"""PullSwitch: passes pull requests to one input, and tells pullers when that input has packets."""
from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport ActiveNotifier, NotifierSignal
from clickpy.runtime.packet cimport Batch, Packet

from clickpy.runtime.args import Arg, ArgError, Int
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite
from clickpy.runtime.notifier import SEARCH_STOP


def _write_switch(e, value):
    try:
        v = Int(value)
    except ArgError:
        raise HandlerError("syntax error") from None
    e.set_input(v)


class _InputWoke:
    """Listener on the inputs' notifiers: a notifier that becomes active
    calls reschedule(), which here re-checks the selected input."""
    __slots__ = ("element",)

    def __init__(self, element):
        self.element = element

    def reschedule(self):
        self.element.input_woke()


cdef class PullSwitch(Element):
    """=c
    PullSwitch([INPUT])

    =s scheduling
    forwards pull requests to settable input

    =d
    A pull on the output pulls from input INPUT (default 0) and returns what
    it gets. A negative INPUT, or one not less than the number of inputs,
    returns nothing.

    PullSwitch is an empty notifier for the pullers downstream: its signal is
    on while the selected input may have packets (it listens to the signals
    of the queues upstream of every input), so a puller downstream sleeps
    while the selected input is empty or none is selected, and wakes when
    the selected input gets a packet or a handler selects an input that has
    packets. The search for notifiers stops here.

    =h switch read/write
    The input in use (-1: none).

    =h config read-only
    Same as 'switch'.

    =e
    q0 :: Queue; q1 :: Queue;
    q0 -> [0] s :: PullSwitch(0) -> ToDevice(eth0);
    q1 -> [1] s;
    """
    port_count = "-/1"
    processing = "l"
    arguments = (Arg("INPUT", Int, 0, positional=True),)
    handlers = (
        ReadWrite("switch", lambda e: e.input, _write_switch),
        Read("config", lambda e: e.input, calm=True),
    )

    cdef public int input
    cdef ActiveNotifier _notifier
    cdef list _signals          # per input: NotifierSignal of the queues upstream
    cdef bint _initialized

    def __cinit__(self):
        self._notifier = ActiveNotifier("empty", SEARCH_STOP, False)
        self._signals = []
        self._initialized = False

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return
        self.input = -1 if self.input < 0 or self.input >= self.ninputs else self.input

    def initialize(self, errh):
        self._notifier.set_active(self.input >= 0, False)
        listener = _InputWoke(self)
        self._signals = [self.router.upstream_empty_signal(self, i, listener)
                         for i in range(self.ninputs)]
        self._initialized = True

    def port_notifier(self, isoutput, port, kind):
        return self._notifier if isoutput and kind == "empty" else None

    def input_woke(self):
        if (self.input >= 0 and not self._notifier.active
                and (<NotifierSignal> self._signals[self.input]).active()):
            self._notifier.wake()

    def set_input(self, int input):
        self.input = -1 if input < 0 or input >= self.ninputs else input
        if not self._initialized:
            return
        if self.input < 0:
            self._notifier.set_active(False, False)
        elif (<NotifierSignal> self._signals[self.input]).active():
            self._notifier.set_active(True, True)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p
        if self.input < 0:
            self._notifier.active = False
            return NULL
        p = self.input_pull(self.input)
        if p != NULL:
            self._notifier.active = True
        elif not (<NotifierSignal> self._signals[self.input]).active():
            self._notifier.active = False
        return p

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        cdef int n
        if self.input < 0:
            self._notifier.active = False
            b.count = 0
            return 0
        n = self.input_pull_batch(self.input, b, max)
        if n > 0:
            self._notifier.active = True
        elif not (<NotifierSignal> self._signals[self.input]).active():
            self._notifier.active = False
        return n
