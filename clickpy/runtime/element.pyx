# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The element base class (see element.pxd)."""
from libc.stdlib cimport calloc, free

from clickpy.runtime.packet cimport Batch, Packet, PacketObject, packet_kill

import traceback


cdef void kill_batch(Batch *b) noexcept:
    cdef int i
    for i in range(b.count):
        packet_kill(b.p[i])
    b.count = 0


# Counts the Python subclasses of Element ever defined, so the registry knows
# when its table of classes may be stale without walking every class.
subclasses_defined = [0]


def _count_subclass(cls, **kwargs):
    subclasses_defined[0] += 1


cdef class Element:
    __init_subclass__ = classmethod(_count_subclass)
    port_count = "0/0"
    processing = "a"
    flow_code = None
    arguments = ()
    handlers = ()
    # Elements that may be reconfigured while running keep a writable 'config'.
    live_reconfigure = False
    # A hot reload that changes the configuration of a live_reconfigure
    # element reconfigures it in place, inside the swap's pause; one whose
    # configuration compiles into a program (and which holds no state to lose)
    # says True here, so a new one is built beside it instead.
    replace_on_reload = False

    def __cinit__(self, *args, **kwargs):
        self.name = ""
        self.router = None
        self.eindex = -1
        self.landmark = None
        self.config = ""
        self.ninputs = 0
        self.noutputs = 0
        self._out_element = []
        self._in_element = []
        self._out_port = NULL
        self._in_port = NULL
        self._out_el = NULL
        self._in_el = NULL
        self._in_pull = NULL
        self._out_push = NULL
        self.dropped = 0
        cls = type(self)
        # A Python subclass supplies data-path methods as plain methods; the
        # cdef defaults below call them when present.
        self._py_simple_action = getattr(cls, "simple_action", None)
        self._py_push = getattr(cls, "push", None)
        self._py_pull = getattr(cls, "pull", None)
        self._py_push_batch = getattr(cls, "push_batch", None)
        self._py_run_task = getattr(cls, "run_task", None)
        self._py_run_timer = getattr(cls, "run_timer", None)

    def __dealloc__(self):
        free(self._out_port)
        free(self._in_port)
        free(self._out_el)
        free(self._in_el)
        free(self._in_pull)
        free(self._out_push)

    @classmethod
    def class_name(cls):
        return cls.__name__

    cdef void _connect(self, list out_element, list out_port, list in_element, list in_port,
                       list in_pull, list out_push) except *:
        cdef int i
        self.ninputs = len(in_element)
        self.noutputs = len(out_element)
        self._out_element = out_element
        self._in_element = in_element
        free(self._out_port)
        free(self._in_port)
        free(self._in_pull)
        free(self._out_push)
        free(self._out_el)
        free(self._in_el)
        self._out_port = <int *> calloc(max(self.noutputs, 1), sizeof(int))
        self._in_port = <int *> calloc(max(self.ninputs, 1), sizeof(int))
        self._in_pull = <char *> calloc(max(self.ninputs, 1), 1)
        self._out_push = <char *> calloc(max(self.noutputs, 1), 1)
        self._out_el = <PyObject **> calloc(max(self.noutputs, 1), sizeof(PyObject *))
        self._in_el = <PyObject **> calloc(max(self.ninputs, 1), sizeof(PyObject *))
        if not (self._out_port and self._in_port and self._in_pull and self._out_push
                and self._out_el and self._in_el):
            raise MemoryError()
        for i in range(self.noutputs):
            self._out_port[i] = out_port[i]
            self._out_push[i] = out_push[i]
            if out_element[i] is not None:
                self._out_el[i] = <PyObject *> (<Element> out_element[i])
        for i in range(self.ninputs):
            self._in_port[i] = in_port[i]
            self._in_pull[i] = in_pull[i]
            if in_element[i] is not None:
                self._in_el[i] = <PyObject *> (<Element> in_element[i])

    def connect_ports(self, out_element, out_port, in_element, in_port, in_pull, out_push):
        """Wire this element (the router calls this once, before configure)."""
        self._connect(list(out_element), list(out_port), list(in_element), list(in_port),
                      list(in_pull), list(out_push))

    def input_is_pull(self, int port):
        return bool(self._in_pull[port])

    def output_is_push(self, int port):
        return bool(self._out_push[port])

    def output_peer(self, int port):
        """(element, port) connected to a push output, or None."""
        e = self._out_element[port]
        return None if e is None else (e, self._out_port[port])

    def input_peer(self, int port):
        """(element, port) connected to a pull input, or None."""
        e = self._in_element[port]
        return None if e is None else (e, self._in_port[port])

    # --- lifecycle (slow path; Python methods) -------------------------------

    def configure(self, conf, errh):
        """Parse the configuration (a list of argument strings).

        The default reads the class's ``arguments`` declaration and sets one
        attribute per argument; it returns False if anything was wrong.
        Report problems with ``errh.error(...)``.
        """
        from clickpy.runtime.args import apply_arguments

        return apply_arguments(self, conf, errh)

    def initialize(self, errh):
        pass

    def cleanup(self, stage):
        pass

    def take_state(self, old, errh):
        """Take over state from old, the same-named element this one replaces in a reload.

        Called on the driver thread between batches, after this element was
        configured and initialized against the new configuration and before
        old is cleaned up. old usually has this class; an element may accept a
        compatible one (a queue takes any SimpleQueue). ``self.router.scheduler``
        is the live scheduler: register fds and timers there.

        It runs inside the reload's pause, so it is quick: state moves by
        reference (swap tables, pointers) or in one tight loop, never in time
        that grows with the graph, and does no avoidable I/O.

        It is symmetric, so a failed reload can roll back: after
        ``new.take_state(old, e1)``, ``old.take_state(new, e2)`` gives old its
        state back (a queue: its packets, less those that did not fit, and
        that loss is reported). So it works when this element is in the state
        a giver is left in (an emptied queue or table), and it leaves old
        without what it gave: no packet owned twice, nothing freed twice.

        Problems go to ``errh.error`` / ``errh.warning``; an error makes the
        reload roll back. Returns what was carried, for the reload's report,
        as a dict with keys from: ``packets`` (queued or pending packets
        moved), ``dropped`` (packets destroyed because they did not fit),
        ``mappings`` (rewriter flow mappings), ``entries`` (ARP or table
        entries), ``flows`` (aggregate flows), ``counts`` (1 when counters or
        rates were carried); None when nothing was.
        """
        return None

    def add_handlers(self):
        """Add handlers beyond the declared ones (rarely needed)."""
        pass

    # --- the data path -------------------------------------------------------

    cdef Packet *simple_action(self, Packet *p) noexcept:
        if self._py_simple_action is None:
            return p
        return self._call_python_action(p)

    cdef void simple_action_batch(self, Batch *b) noexcept:
        cdef int i, j = 0
        cdef Packet *p
        for i in range(b.count):
            p = self.simple_action(b.p[i])
            if p != NULL:
                b.p[j] = p
                j += 1
        b.count = j

    cdef bint wants_packet_order(self) noexcept:
        return False

    cdef Packet *_call_python_action(self, Packet *p) noexcept:
        cdef PacketObject po = PacketObject.wrap(p)
        cdef PacketObject result
        try:
            r = self._py_simple_action(self, po)
        except BaseException:
            self._python_error("simple_action")
            return NULL
        if r is None:
            return NULL
        result = <PacketObject?> r
        return result.release()

    cdef void push(self, int port, Packet *p) noexcept:
        if self._py_push is not None:
            try:
                self._py_push(self, port, PacketObject.wrap(p))
            except BaseException:
                self._python_error("push")
            return
        p = self.simple_action(p)
        if p != NULL:
            self.checked_output_push(0, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        # Exactly the per-packet behaviour: elements that can do better override this.
        cdef int i
        cdef int n = b.count
        b.count = 0
        if self._py_push_batch is not None:
            packets = [PacketObject.wrap(b.p[i]) for i in range(n)]
            try:
                self._py_push_batch(self, port, packets)
            except BaseException:
                self._python_error("push_batch")
            return
        for i in range(n):
            self.push(port, b.p[i])

    cdef Packet *pull(self, int port) noexcept:
        if self._py_pull is not None:
            try:
                r = self._py_pull(self, port)
            except BaseException:
                self._python_error("pull")
                return NULL
            return NULL if r is None else (<PacketObject?> r).release()
        if self.ninputs == 0 or self._in_element[0] is None:
            return NULL
        cdef Packet *p = self.input_pull(0)
        if p == NULL:
            return NULL
        return self.simple_action(p)

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        cdef Packet *p
        b.count = 0
        while b.count < max:
            p = self.pull(port)
            if p == NULL:
                break
            b.p[b.count] = p
            b.count += 1
        return b.count

    cdef bint run_task(self, object task) noexcept:
        if self._py_run_task is None:
            return False
        try:
            return bool(self._py_run_task(self, task))
        except BaseException:
            self._python_error("run_task")
            return False

    cdef void run_timer(self, object timer) noexcept:
        if self._py_run_timer is None:
            return
        try:
            self._py_run_timer(self, timer)
        except BaseException:
            self._python_error("run_timer")

    cdef void checked_output_push(self, int port, Packet *p) noexcept:
        if port < 0 or port >= self.noutputs or self._out_el[port] == NULL:
            packet_kill(p)
        else:
            (<Element> self._out_el[port]).push(self._out_port[port], p)

    cdef void checked_output_push_batch(self, int port, Batch *b) noexcept:
        if port < 0 or port >= self.noutputs or self._out_el[port] == NULL:
            kill_batch(b)
        elif b.count:
            (<Element> self._out_el[port]).push_batch(self._out_port[port], b)

    cdef void drop(self, Packet *p) noexcept:
        self.dropped += 1
        packet_kill(p)

    def _python_error(self, where):
        # A Python element's bug must not take the router down: report it
        # once per element and keep forwarding.
        self.dropped += 1
        if not getattr(self, "_reported_error", False):
            import sys

            print(f"{self.landmark}: {self.name} :: {type(self).__name__}: error in {where}:",
                  file=sys.stderr)
            traceback.print_exc()
            try:
                self._reported_error = True
            except AttributeError:
                pass

    # --- Python-facing data-path API (for Python elements and tests) ---------

    def output_push_packet(self, int port, PacketObject packet):
        """Push packet out of output port; it is no longer yours afterwards."""
        packet._live()                      # raises if it was already handed on
        self.checked_output_push(port, packet.release())

    def input_pull_packet(self, int port):
        """Pull a packet from input port, or None."""
        if port < 0 or port >= self.ninputs or self._in_element[port] is None:
            return None
        cdef Packet *p = self.input_pull(port)
        return None if p == NULL else PacketObject.wrap(p)

    def push_packet(self, int port, PacketObject packet):
        """Hand packet to this element's input port, as an upstream element would."""
        if port < 0 or port >= self.ninputs:
            raise ValueError(f"{self.name} has no input {port}")
        packet._live()                      # raises if it was already handed on
        self.push(port, packet.release())

    def pull_packet(self, int port):
        """Pull from this element's output port, as a downstream element would."""
        cdef Packet *p = self.pull(port)
        return None if p == NULL else PacketObject.wrap(p)

    def declaration(self):
        return f"{self.name} :: {type(self).__name__}"

    def __repr__(self):
        return f"<{self.declaration()}>"


cdef class SimpleElement(Element):
    port_count = "1/1"
    processing = "a"

    cdef void push(self, int port, Packet *p) noexcept:
        p = self.simple_action(p)
        if p != NULL:
            self.output_push(0, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        self.simple_action_batch(b)
        self.output_push_batch(0, b)

    cdef Packet *pull(self, int port) noexcept:
        # As in Click, a packet the action drops makes this pull return nothing.
        cdef Packet *p = self.input_pull(0)
        if p == NULL:
            return NULL
        return self.simple_action(p)

    cdef int pull_batch(self, int port, Batch *b, int max) noexcept:
        self.input_pull_batch(0, b, max)
        self.simple_action_batch(b)
        return b.count
