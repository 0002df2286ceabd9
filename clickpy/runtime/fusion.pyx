# cython: language_level=3
"""Fused push chains: what a specialised module needs from the runtime.

clickpy.specialize writes, for each push path of a graph as far as the next
element it cannot see into, one C function that runs the whole path: each
one-in-one-out element's ``simple_action`` and each branch's ``classify``
called in turn, and each classifier's walk inlined. A second function does
the same for a batch: each packet runs the path in turn, and packets leaving
it are gathered per exit, in order, so that what follows the path still gets
batches (see ``specialize``). Such a pair enters
the graph through a ``ChainEntry`` put in the upstream element's output in
place of the first element of the path: the upstream's ``output_push`` then
calls the chain, and the path's elements are no longer called one by one.

Only the output's C pointer changes (the Python-visible peer, and each
element's own outputs, stay as they are), so ``restore_output`` or the
router's next ``connect_ports`` puts the generic path back.

Which elements may be fused is decided by what their ``push`` is, read from
the class's vtable: an element whose push is still the one of Element,
SimpleElement or BranchElement does exactly "act, then push the result on",
so calling its action directly and moving on is the same thing. Any other
push (Queue, Tee, Discard, a Python element) is called as it is, and the
chain stops there.
"""
from cpython.object cimport PyObject
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from libc.stdlib cimport calloc, free

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Batch, Packet

cdef extern from *:
    """
    /* The push entry of a Cython vtable of Element or of a subclass (a
       subclass's vtable starts with its base's). */
    #define CLICKPY_VTAB_PUSH(vtab) \
        ((void *) ((struct __pyx_vtabstruct_7clickpy_7runtime_7element_Element *) (vtab))->push)
    #define CLICKPY_VTAB_PACKET_ORDER(vtab) \
        ((void *) ((struct __pyx_vtabstruct_7clickpy_7runtime_7element_Element *) (vtab))->wants_packet_order)
    """
    void *CLICKPY_VTAB_PUSH(void *vtab)
    void *CLICKPY_VTAB_PACKET_ORDER(void *vtab)

CHAIN_CAPSULE = "clickpy.chain"
cdef const char *_CHAIN_CAPSULE = b"clickpy.chain"
CHAIN_BATCH_CAPSULE = "clickpy.chain_batch"
cdef const char *_CHAIN_BATCH_CAPSULE = b"clickpy.chain_batch"


def push_function(cls) -> int:
    """The address of the C push method of a Cython element class (a
    Python subclass: of its nearest Cython base)."""
    cdef void *vtab = PyCapsule_GetPointer(cls.__pyx_vtable__, NULL)
    return <size_t> CLICKPY_VTAB_PUSH(vtab)


def packet_order_function(cls) -> int:
    """The address of the C wants_packet_order method of a Cython element class."""
    cdef void *vtab = PyCapsule_GetPointer(cls.__pyx_vtable__, NULL)
    return <size_t> CLICKPY_VTAB_PACKET_ORDER(vtab)


def has_python_methods(Element e) -> bool:
    """Whether e's data path is Python code (the slow path: never fused)."""
    return (e._py_simple_action is not None or e._py_push is not None or e._py_pull is not None
            or e._py_push_batch is not None)


cdef class ChainEntry(Element):
    """Stands in an upstream output for the first element of a fused chain:
    a packet runs the chain's C function, a batch its batch function (or,
    without one, the element's own push_batch)."""
    def __dealloc__(self):
        free(self._els)

    cdef void push(self, int port, Packet *p) noexcept:
        self._fn(self._els, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        if self._batch_fn != NULL:
            self._batch_fn(self._els, b)
        else:
            self._target.push_batch(self._target_port, b)


cdef ChainEntry _entry(object capsule, object batch_capsule, list elements, Element target, int target_port):
    cdef ChainEntry entry = ChainEntry.__new__(ChainEntry)
    cdef int i
    if not PyCapsule_IsValid(capsule, _CHAIN_CAPSULE):
        raise ValueError("not a fused chain's capsule")
    if batch_capsule is not None and not PyCapsule_IsValid(batch_capsule, _CHAIN_BATCH_CAPSULE):
        raise ValueError("not a fused chain's batch capsule")
    entry._fn = <chain_fn> PyCapsule_GetPointer(capsule, _CHAIN_CAPSULE)
    entry._capsule = capsule
    if batch_capsule is not None:
        entry._batch_fn = <chain_batch_fn> PyCapsule_GetPointer(batch_capsule, _CHAIN_BATCH_CAPSULE)
        entry._batch_capsule = batch_capsule
    entry._refs = list(elements)
    entry._els = <PyObject **> calloc(max(len(elements), 1), sizeof(PyObject *))
    if entry._els == NULL:
        raise MemoryError()
    for i in range(len(elements)):
        entry._els[i] = <PyObject *> (<Element?> elements[i])
    entry._target = target
    entry._target_port = target_port
    entry.name = f"<chain into {target.name}>"
    return entry


def install_chain(Element upstream, int port, capsule, batch_capsule, list elements):
    """Make upstream's push output port run the chain in capsule (and, for
    batches, the one in batch_capsule, if not None), whose functions reach
    elements[i] as their els[i]. Returns the entry (the caller keeps it: the
    output only borrows it)."""
    if not 0 <= port < upstream.noutputs or not upstream._out_push[port] or upstream._out_el[port] == NULL:
        raise ValueError(f"{upstream.name}[{port}] is not a connected push output")
    cdef Element target = <Element> upstream._out_el[port]
    if isinstance(target, ChainEntry):
        target = (<ChainEntry> target)._target
    cdef ChainEntry entry = _entry(capsule, batch_capsule, elements, target, upstream._out_port[port])
    upstream._out_el[port] = <PyObject *> entry
    return entry


def reinstall(Element upstream, int port, ChainEntry entry):
    """Put entry (from install_chain, then taken out) back in upstream's output port."""
    if 0 <= port < upstream.noutputs and upstream._out_element[port] is entry._target:
        upstream._out_el[port] = <PyObject *> entry


def restore_output(Element upstream, int port):
    """Put the generic path back in upstream's output port (the element
    the router connected it to)."""
    if 0 <= port < upstream.noutputs and upstream._out_element[port] is not None:
        upstream._out_el[port] = <PyObject *> (<Element> upstream._out_element[port])


def output_is_fused(Element upstream, int port) -> bool:
    return (0 <= port < upstream.noutputs and upstream._out_el[port] != NULL
            and isinstance(<object> upstream._out_el[port], ChainEntry))
