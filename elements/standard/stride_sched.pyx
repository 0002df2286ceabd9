# cython: language_level=3
"""StrideSched: answers pulls from its inputs in proportion to their tickets (stride scheduling)."""
from libc.stdlib cimport calloc, free

from clickpy.runtime.element cimport Element
from clickpy.runtime.notifier cimport NotifierSignal
from clickpy.runtime.packet cimport Packet

from clickpy.runtime.args import Arg, ArgError, Int, Warned, parse_arguments
from clickpy.runtime.handlers import HandlerError, ReadWrite

# Click's constants: a client's stride is STRIDE1 / tickets.
cdef unsigned STRIDE1 = 1 << 16
MAX_TICKETS = 1 << 15


cdef inline bint pass_gt(unsigned a, unsigned b) noexcept:
    # Passes wrap around; compare them as Click does, by signed difference.
    return <int> (a - b) > 0


def _read_tickets(port):
    return lambda e: e.tickets(port)


def _write_tickets(port):
    def write(e, value):
        try:
            t = Int(value)
        except ArgError:
            raise HandlerError("tickets value must be integer") from None
        e.set_tickets(port, t)
    return write


def _write_config(e, value):
    from clickpy.runtime.router import reconfigure_element

    reconfigure_element(e, value)


def _ticket_counts(texts, element):
    """StrideSched's arguments, one number of tickets per input -> [tickets]."""
    n = element.ninputs
    if len(texts) != n:
        raise ArgError(f"need {n} arguments, one per input port")
    values, errors, warnings = [], [], []
    for i, text in enumerate(texts):
        try:
            v = Int(text)
        except ArgError:
            errors.append(f"argument {i} should be number of tickets (integer)")
            continue
        if v < 0:
            errors.append(f"argument {i} (number of tickets) must be >= 0")
            continue
        if v > MAX_TICKETS:
            warnings.append(f"input {i}'s tickets reduced to {MAX_TICKETS}")
            v = MAX_TICKETS
        values.append(v)
    if errors:
        raise ArgError(*errors, warnings=warnings)
    return Warned(values, warnings)


cdef class StrideSched(Element):
    """=c
    StrideSched(TICKETS0, ..., TICKETSN-1)

    =s scheduling
    pulls from stride-scheduled inputs

    =d
    Shares pulls among its inputs with stride scheduling: input I gets a
    share proportional to TICKETSI (one argument per input, each from 0 to
    32768; 0 never pulls that input). Each pull visits the inputs in order of
    their pass value, pulling from each until one gives a packet; every
    input visited advances by its stride (65536 / tickets). Inputs whose
    upstream queues are known to be empty (their notifier signals are off)
    are visited without being pulled.

    StrideSched keeps no packets, so it is transparent to notification: the
    pullers downstream find the notifiers upstream of its inputs. A batch
    pull is a series of single pulls.

    =h tickets0...ticketsN-1 read/write
    An input's tickets. Writing 0 takes the input out of the rotation.

    =h config read/write
    The tickets of every input, separated by commas; writing it changes
    them all at once (passes are kept).

    =e
    q0 :: Queue; q1 :: Queue;
    q0 -> [0] s :: StrideSched(3, 1) -> ToDevice(eth0);   // 3 pulls of q0 for each of q1
    q1 -> [1] s;
    """
    port_count = "1-/1"
    processing = "l"
    flags = "S0"
    arguments = (Arg("TICKETS", _ticket_counts, rest=True, doc="one per input port"),)
    live_reconfigure = True

    cdef int _n
    cdef int *_tickets
    cdef unsigned *_stride
    cdef unsigned *_pass
    cdef int *_next            # linked list by pass: next client, -1 at the end
    cdef int _head             # first client of the list, -1 if empty
    cdef list _signals
    cdef public list extra_handlers

    def __cinit__(self):
        self._n = 0
        self._tickets = NULL
        self._stride = NULL
        self._pass = NULL
        self._next = NULL
        self._head = -1
        self._signals = []
        self.extra_handlers = []

    def __dealloc__(self):
        free(self._tickets)
        free(self._stride)
        free(self._pass)
        free(self._next)

    def configure(self, conf, errh):
        cdef int i, n = self.ninputs
        parsed = parse_arguments(self, conf, type(self).arguments, errh)
        if parsed is None:
            return False
        values = parsed["tickets"]
        first = self._tickets == NULL
        if first:
            self._n = n
            self._tickets = <int *> calloc(max(n, 1), sizeof(int))
            self._stride = <unsigned *> calloc(max(n, 1), sizeof(unsigned))
            self._pass = <unsigned *> calloc(max(n, 1), sizeof(unsigned))
            self._next = <int *> calloc(max(n, 1), sizeof(int))
            if not (self._tickets and self._stride and self._pass and self._next):
                raise MemoryError()
        for i in range(n):
            self._set(i, values[i])
            if first:
                self._pass[i] += self._stride[i]
        self._head = -1
        for i in range(n - 1, -1, -1):
            if self._tickets[i]:
                self._insert(i)
        self.extra_handlers = [ReadWrite(f"tickets{i}", _read_tickets(i), _write_tickets(i))
                               for i in range(n)]
        self.extra_handlers.append(ReadWrite("config", lambda e: e.tickets_text(), _write_config, calm=True))

    def initialize(self, errh):
        self._signals = [self.router.upstream_empty_signal(self, i, None) for i in range(self.ninputs)]

    cdef void _set(self, int i, int tickets) noexcept:
        self._tickets[i] = tickets
        self._stride[i] = STRIDE1 // <unsigned> tickets if tickets else 0

    cdef void _insert(self, int i) noexcept:
        # Before the first client whose pass is not smaller (Click's order).
        cdef int prev = -1
        cdef int cur = self._head
        while cur >= 0 and pass_gt(self._pass[i], self._pass[cur]):
            prev = cur
            cur = self._next[cur]
        self._next[i] = cur
        if prev < 0:
            self._head = i
        else:
            self._next[prev] = i

    cdef void _remove(self, int i) noexcept:
        cdef int prev = -1
        cdef int cur = self._head
        while cur >= 0 and cur != i:
            prev = cur
            cur = self._next[cur]
        if cur < 0:
            return
        if prev < 0:
            self._head = self._next[i]
        else:
            self._next[prev] = self._next[i]

    def tickets(self, int port):
        return self._tickets[port] if 0 <= port < self._n else -1

    def tickets_text(self):
        return ", ".join(str(self._tickets[i]) for i in range(self._n))

    def set_tickets(self, int port, int tickets):
        if not 0 <= port < self._n:
            raise HandlerError(f"port {port} out of range")
        if tickets < 0:
            raise HandlerError("number of tickets must be >= 0")
        if tickets > MAX_TICKETS:
            tickets = MAX_TICKETS
        old = self._tickets[port]
        self._set(port, tickets)
        if tickets == 0 and old != 0:
            self._remove(port)
        elif tickets != 0 and old == 0:
            self._pass[port] = self._pass[self._head] + self._stride[port] if self._head >= 0 else 0
            self._insert(port)

    cdef Packet *pull(self, int port) noexcept:
        cdef int stridden = self._head
        cdef int c = self._head
        cdef int nxt
        cdef Packet *p = NULL
        while c >= 0 and p == NULL:
            if (<NotifierSignal> self._signals[c]).active():
                p = self.input_pull(c)
            self._pass[c] += self._stride[c]
            c = self._next[c]
        # The clients visited, each a stride further, go back into the rest of the list.
        self._head = c
        while stridden != c:
            nxt = self._next[stridden]
            self._insert(stridden)
            stridden = nxt
        return p
