# cython: language_level=3
"""The element base class: ports, the push/pull/batch entry points, lifecycle.

An element class declares, once, as class attributes:

* ``port_count``  -- Click's notation, e.g. ``"1/1-2"``;
* ``processing``  -- e.g. ``"a/ah"`` (h push, l pull, a agnostic);
* ``flow_code``   -- optional, e.g. ``"#/#"``;
* ``arguments``   -- a tuple of ``Arg`` (see args.py);
* ``handlers``    -- a tuple of handler declarations (see handlers.py).

Data-path methods are ``cdef ... noexcept`` and work on ``Packet*`` and
``Batch*``. A Cython element overrides what it needs:

* ``simple_action`` for a one-in, one-out element that edits or drops a
  packet (subclass ``SimpleElement``);
* ``push``/``push_batch`` for push inputs, ``pull``/``pull_batch`` for pull
  outputs, ``run_task``/``run_timer`` for scheduled work.

A Python element subclasses ``Element`` in plain Python and defines the same
names as ordinary methods taking ``PacketObject``; the base class dispatches
to them (the slow path, in the same graph).
"""
from cpython.object cimport PyObject
from libc.stdint cimport uint32_t, uint64_t

from clickpy.runtime.packet cimport Batch, Packet


cdef class Element:
    cdef public str name
    cdef public object router
    cdef public int eindex
    cdef public object landmark
    cdef public str config
    cdef readonly int ninputs
    cdef readonly int noutputs
    cdef list _out_element      # per output: downstream Element, or None (pull/unconnected)
    cdef int *_out_port         # per output: the downstream element's input port
    cdef list _in_element       # per input: upstream Element for pull inputs, or None
    cdef int *_in_port
    # The same peers as C arrays of borrowed pointers (the lists hold the
    # references), NULL where the list has None: a hop is one indexed load
    # and one vtable call, with no bounds check and no reference count.
    cdef PyObject **_out_el
    cdef PyObject **_in_el
    cdef char *_in_pull         # per input: 1 if pull
    cdef char *_out_push        # per output: 1 if push
    # Which data-path methods a Python subclass supplies (slow path).
    cdef object _py_simple_action
    cdef object _py_push
    cdef object _py_pull
    cdef object _py_push_batch
    cdef object _py_run_task
    cdef object _py_run_timer
    cdef public uint64_t dropped    # packets this element dropped because of an error

    cdef void _connect(self, list out_element, list out_port, list in_element, list in_port,
                       list in_pull, list out_push) except *

    # --- the data path -----------------------------------------------------
    cdef void push(self, int port, Packet *p) noexcept
    cdef void push_batch(self, int port, Batch *b) noexcept
    cdef Packet *pull(self, int port) noexcept
    cdef int pull_batch(self, int port, Batch *b, int max) noexcept
    cdef Packet *simple_action(self, Packet *p) noexcept
    cdef Packet *_call_python_action(self, Packet *p) noexcept
    cdef bint run_task(self, object task) noexcept
    cdef void run_timer(self, object timer) noexcept
    # simple_action on every packet of b, keeping what it returns, in order
    # (an element that can do a batch at once overrides it: Counter).
    cdef void simple_action_batch(self, Batch *b) noexcept
    # Whether, as configured now, the element must see a batch's packets one
    # at a time, each going all the way downstream before the next (a
    # Counter that calls a handler at a count): a fused batch then runs
    # packet by packet (clickpy.specialize).
    cdef bint wants_packet_order(self) noexcept

    # --- helpers for subclasses ---------------------------------------------
    cdef inline void output_push(self, int port, Packet *p) noexcept:
        """Push p out of output port (which must be a connected push output)."""
        (<Element> self._out_el[port]).push(self._out_port[port], p)

    cdef inline void output_push_batch(self, int port, Batch *b) noexcept:
        if b.count:
            (<Element> self._out_el[port]).push_batch(self._out_port[port], b)

    cdef void checked_output_push(self, int port, Packet *p) noexcept
    cdef void checked_output_push_batch(self, int port, Batch *b) noexcept

    cdef inline Packet *input_pull(self, int port) noexcept:
        return (<Element> self._in_el[port]).pull(self._in_port[port])

    cdef inline int input_pull_batch(self, int port, Batch *b, int max) noexcept:
        return (<Element> self._in_el[port]).pull_batch(self._in_port[port], b, max)

    cdef void drop(self, Packet *p) noexcept


cdef class SimpleElement(Element):
    """One input, one output: every entry point applies simple_action."""
    pass


cdef void kill_batch(Batch *b) noexcept


# Sending a batch's packets to several outputs in per-packet order. An element
# adds each packet, in input order, to an OutputRun with the output it chose:
# consecutive packets for one output stay together as one batch, which leaves
# as soon as a packet for another output comes (or at run_flush). So each
# output, and the order across outputs, is what pushing one packet at a time
# gives, and a batch that goes one way leaves as one batch.
cdef struct OutputRun:
    int port                # the output the packets in batch are for
    Batch batch


cdef inline void run_start(OutputRun *r) noexcept:
    r.port = -1
    r.batch.count = 0


cdef inline void run_flush(Element e, OutputRun *r) noexcept:
    """Send the packets waiting in r (to a port that is not a connected
    output: drop them)."""
    if r.batch.count:
        e.checked_output_push_batch(r.port, &r.batch)
        r.batch.count = 0


cdef inline void run_add(Element e, OutputRun *r, int port, Packet *p) noexcept:
    """Queue p for output port, after everything added before it. At most
    MAX_BATCH packets may be added between two flushes (one input batch)."""
    if port != r.port:
        run_flush(e, r)
        r.port = port
    r.batch.p[r.batch.count] = p
    r.batch.count += 1


cdef inline int batch_of_one(Batch *b, Packet *p) noexcept:
    """Make b hold just p (nothing if p is NULL), for a pull_batch that must
    hand on one packet per call; returns the count."""
    b.count = 0 if p == NULL else 1
    b.p[0] = p
    return b.count
