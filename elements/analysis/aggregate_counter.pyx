# cython: language_level=3
"""AggregateCounter: counts packets (or bytes) per aggregate annotation."""
import struct
import sys

from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport free, malloc

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport (AGGREGATE_ANNO_OFFSET, Batch, EXTRA_LENGTH_ANNO_OFFSET,
                                     EXTRA_PACKETS_ANNO_OFFSET, Packet, pkt_anno_u32)

from clickpy.runtime.args import AnyArg, Arg, ArgError, Bool, String, Unsigned, Unsigned64
from clickpy.runtime.handlers import HandlerCall, HandlerError, Read, ReadWrite, Write
from clickpy.lang.confstring import shift_word, uncomment, unquote

cdef extern from *:
    int __builtin_clz(unsigned int x) nogil


cdef struct Node:
    uint32_t aggregate
    uint32_t count
    Node *child[2]


cdef enum:
    BLOCK_SIZE = 1024
    WR_TEXT = 0
    WR_TEXT_IP = 1
    WR_TEXT_PDF = 2
    WR_BINARY = 3

cdef struct Block:
    Block *next                 # blocks are freed together
    Node nodes[1024]


cdef uint32_t NO_CALL32 = 0xFFFFFFFF
cdef uint64_t NO_CALL64 = 0xFFFFFFFFFFFFFFFF


cdef void _free_chain(Block *b) noexcept nogil:
    cdef Block *next
    while b != NULL:
        next = b.next
        free(b)
        b = next


cdef inline int ffs_msb(uint32_t x) noexcept nogil:
    """1-based index of the most significant set bit, counting from the top (0 if none)."""
    return 0 if x == 0 else __builtin_clz(x) + 1


def _bool_writer(attr):
    def write(e, value):
        try:
            setattr(e, attr, Bool(uncomment(value)))
        except ArgError:
            raise HandlerError("type mismatch") from None
    return write


def _write_file(fmt_code):
    def write(e, value):
        from clickpy.runtime.args import Filename

        try:
            name = Filename(uncomment(value))
        except ArgError:
            raise HandlerError("argument should be filename") from None
        e.write_file(name, fmt_code)
    return write


def _write_banner(e, value):
    if value and not value.endswith("\n"):
        value += "\n"
    elif value and len(value) == 1:
        value = ""
    e.banner = value


def _call_writer(which):
    def write(e, value):
        e.set_call(which, uncomment(value), errh=None)
    return write


cdef class AggregateCounter(Element):
    """=c
    AggregateCounter([I<keywords> BYTES, IP_BYTES, MULTIPACKET, EXTRA_LENGTH, AGGREGATE_STOP,
    AGGREGATE_FREEZE, AGGREGATE_CALL, COUNT_STOP, COUNT_FREEZE, COUNT_CALL, BANNER])

    =s aggregates
    counts packets per aggregate annotation

    =d
    Keeps a count for each aggregate annotation value it sees: packets
    (plus their extra packets annotations when MULTIPACKET, the default),
    or bytes when BYTES (plus extra length annotations when EXTRA_LENGTH,
    the default; without the link header when IP_BYTES). The write_*_file
    handlers dump the counts.

    A frozen AggregateCounter only counts aggregates it already has; its
    second input is always frozen. With two outputs, counted packets leave
    on output 0 and the others on output 1.

    AGGREGATE_STOP, AGGREGATE_FREEZE and AGGREGATE_CALL ('N HANDLER
    [VALUE]') stop the driver, freeze, or call a write handler once N
    distinct aggregates have been seen; COUNT_STOP, COUNT_FREEZE and
    COUNT_CALL do the same once the total count reaches N. BANNER is
    written at the head of output files.

    =h write_text_file, write_ascii_file write-only: write 'AGG COUNT' lines to a file ('-': standard output)
    =h write_ip_file write-only: the same with aggregates as IP addresses
    =h write_pdf_file write-only: the same with counts as fractions of the total
    =h write_file write-only: packed binary records (host byte order)
    =h freeze, active read/write
    =h stop write-only: deactivate and stop the driver
    =h counts_pdf, reaggregate_counts write-only: replace the counts by how often each count occurs
    =h clear write-only: forget every count
    =h banner, aggregate_call, count_call read/write
    =h count, nagg read-only: total count, number of aggregates seen

    =e
    FromIPSummaryDump(-, STOP true) -> AggregateIP(ip dst) -> ac :: AggregateCounter -> Discard;
    DriverManager(wait_pause, write ac.write_text_file -);
    """
    port_count = "1-2/1-2"
    processing = "a"
    arguments = (
        Arg("BYTES", Bool, False),
        Arg("IP_BYTES", Bool, False),
        Arg("MULTIPACKET", Bool, True),
        Arg("EXTRA_LENGTH", Bool, True),
        Arg("AGGREGATE_FREEZE", Unsigned, None),
        Arg("COUNT_FREEZE", Unsigned64, None),
        Arg("AGGREGATE_STOP", Unsigned, None),
        Arg("COUNT_STOP", Unsigned64, None),
        Arg("AGGREGATE_CALL", AnyArg, None),
        Arg("COUNT_CALL", AnyArg, None),
        Arg("BANNER", String, ""),
    )
    handlers = (
        Write("write_text_file", _write_file(WR_TEXT)),
        Write("write_ascii_file", _write_file(WR_TEXT)),
        Write("write_file", _write_file(WR_BINARY)),
        Write("write_ip_file", _write_file(WR_TEXT_IP)),
        Write("write_pdf_file", _write_file(WR_TEXT_PDF)),
        ReadWrite("freeze", lambda e: e.frozen, _bool_writer("frozen")),
        ReadWrite("active", lambda e: e.active, _bool_writer("active")),
        Write("stop", lambda e, v: e.stop(), button=True),
        Write("reaggregate_counts", lambda e, v: e.reaggregate_counts()),
        Write("counts_pdf", lambda e, v: e.reaggregate_counts()),
        ReadWrite("banner", lambda e: e.banner, _write_banner, raw=True),
        Write("clear", lambda e, v: e.clear()),
        ReadWrite("aggregate_call", lambda e: e.call_text("aggregate"), _call_writer("aggregate")),
        ReadWrite("count_call", lambda e: e.call_text("count"), _call_writer("count")),
        Read("count", lambda e: e.count),
        Read("nagg", lambda e: e.nagg),
    )

    cdef public bint bytes, ip_bytes, multipacket, extra_length
    cdef public object aggregate_freeze, count_freeze, aggregate_stop, count_stop, aggregate_call, count_call
    cdef public str banner
    cdef public bint frozen, active
    cdef public uint64_t count
    cdef public uint32_t nagg              # aggregates with a nonzero count
    cdef uint32_t _call_nnz
    cdef uint64_t _call_count
    cdef object _nnz_handler
    cdef object _count_handler
    cdef Node *_root
    cdef Node *_free
    cdef Block *_blocks                     # every block of nodes allocated

    def __cinit__(self):
        self._root = NULL
        self._free = NULL
        self._blocks = NULL
        self._call_nnz = NO_CALL32
        self._call_count = NO_CALL64

    def __dealloc__(self):
        self._free_blocks()

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        self._call_nnz, self._nnz_handler = NO_CALL32, None
        self._call_count, self._count_handler = NO_CALL64, None
        nnz = [x is not None for x in (self.aggregate_freeze, self.aggregate_stop, self.aggregate_call)]
        if sum(nnz) > 1:
            return errh.error("'AGGREGATE_FREEZE', 'AGGREGATE_STOP', and 'AGGREGATE_CALL' are mutually exclusive")
        if self.aggregate_freeze is not None:
            self._call_nnz, self._nnz_handler = self.aggregate_freeze, HandlerCall(f"{self.name}.freeze true")
        elif self.aggregate_stop is not None:
            self._call_nnz, self._nnz_handler = self.aggregate_stop, HandlerCall(f"{self.name}.stop")
        elif self.aggregate_call is not None:
            n, rest = shift_word(self.aggregate_call)
            try:
                self._call_nnz = Unsigned(n)
            except ArgError:
                return errh.error("AGGREGATE_CALL first word should be unsigned (number of aggregates)")
            self._nnz_handler = HandlerCall(rest)
        cnt = [x is not None for x in (self.count_freeze, self.count_stop, self.count_call)]
        if sum(cnt) > 1:
            return errh.error("'COUNT_FREEZE', 'COUNT_STOP', and 'COUNT_CALL' are mutually exclusive")
        if self.count_freeze is not None:
            self._call_count, self._count_handler = self.count_freeze, HandlerCall(f"{self.name}.freeze true")
        elif self.count_stop is not None:
            self._call_count, self._count_handler = self.count_stop, HandlerCall(f"{self.name}.stop")
        elif self.count_call is not None:
            n, rest = shift_word(self.count_call)
            try:
                self._call_count = Unsigned64(n)
            except ArgError:
                return errh.error("COUNT_CALL first word should be unsigned (count)")
            self._count_handler = HandlerCall(rest)
        return True

    def initialize(self, errh):
        for h in (self._nnz_handler, self._count_handler):
            if h is not None:
                try:
                    h.initialize(self)
                except HandlerError as err:
                    return errh.error(str(err))
        self.clear()
        self.frozen = False
        self.active = True
        return True

    def cleanup(self, stage):
        self._free_blocks()

    # --- the trie (a PATRICIA trie on aggregate bits, as Click's) ----------------------------

    cdef void _free_blocks(self) noexcept:
        _free_chain(self._blocks)
        self._blocks = NULL
        self._root = NULL
        self._free = NULL

    cdef Node *_new_node(self) noexcept:
        cdef Block *block
        cdef Node *n
        cdef int i
        if self._free == NULL:
            block = <Block *> malloc(sizeof(Block))
            if block == NULL:
                return NULL
            block.next = self._blocks
            self._blocks = block
            for i in range(BLOCK_SIZE - 1):
                block.nodes[i].child[0] = &block.nodes[i + 1]
            block.nodes[BLOCK_SIZE - 1].child[0] = NULL
            self._free = &block.nodes[0]
        n = self._free
        self._free = n.child[0]
        return n

    cdef inline void _free_node(self, Node *n) noexcept:
        n.child[0] = self._free
        self._free = n

    cdef Node *_make_peer(self, uint32_t a, Node *n, bint frozen) noexcept:
        cdef Node *down[2]
        cdef int swivel, bit
        cdef uint32_t mask
        if frozen:
            return NULL
        down[0] = self._new_node()
        if down[0] == NULL:
            return NULL
        down[1] = self._new_node()
        if down[1] == NULL:
            self._free_node(down[0])
            return NULL
        swivel = ffs_msb(a ^ n.aggregate)
        bit = (a >> (32 - swivel)) & 1
        mask = 0 if swivel == 1 else (NO_CALL32 << (33 - swivel))
        down[bit].aggregate = a
        down[bit].count = 0
        down[bit].child[0] = down[bit].child[1] = NULL
        down[1 - bit][0] = n[0]
        n.aggregate = down[0].aggregate & mask
        if down[0].aggregate == n.aggregate:
            n.count = down[0].count
            down[0].count = 0
        else:
            n.count = 0
        n.child[0] = down[0]
        n.child[1] = down[1]
        return n if n.aggregate == a else down[bit]

    cdef Node *_find_node(self, uint32_t a, bint frozen) noexcept:
        cdef Node *n = self._root
        cdef int swivel
        while n != NULL:
            if n.aggregate == a:
                return n if (n.count or not frozen) else NULL
            if n.child[0] == NULL:
                n = self._make_peer(a, n, frozen)
            else:
                swivel = ffs_msb(n.child[0].aggregate ^ n.child[1].aggregate)
                if ffs_msb(a ^ n.aggregate) < swivel:
                    n = self._make_peer(a, n, frozen)
                elif a & (<uint32_t> 1 << (32 - swivel)):
                    n = n.child[1]
                else:
                    n = n.child[0]
        if not frozen:
            try:
                print("AggregateCounter: out of memory!", file=sys.stderr)
            except BaseException:
                pass
        return NULL

    def clear(self):
        self._free_blocks()
        self._root = self._new_node()
        if self._root == NULL:
            raise HandlerError("out of memory!")
        self._root.aggregate = 0
        self._root.count = 0
        self._root.child[0] = self._root.child[1] = NULL
        self.nagg = 0
        self.count = 0

    # --- counting -----------------------------------------------------------------------

    cdef bint _update(self, Packet *p, bint frozen) noexcept:
        cdef uint32_t agg, amount
        cdef Node *n
        if not self.active:
            return False
        agg = pkt_anno_u32(p, AGGREGATE_ANNO_OFFSET)
        n = self._find_node(agg, frozen)
        if n == NULL:
            return False
        if not self.bytes:
            amount = 1 + (pkt_anno_u32(p, EXTRA_PACKETS_ANNO_OFFSET) if self.multipacket else 0)
        else:
            amount = p.length + (pkt_anno_u32(p, EXTRA_LENGTH_ANNO_OFFSET) if self.extra_length else 0)
            if self.ip_bytes and p.network >= 0:
                amount -= <uint32_t> (p.network - <int> p.data)
        if amount and not n.count:
            if self.nagg >= self._call_nnz:
                self._call_nnz = NO_CALL32
                self._call(self._nnz_handler)
                # the handler may have changed our state: count again
                return self._update(p, frozen or self.frozen)
            self.nagg += 1
        n.count += amount
        self.count += amount
        if self.count >= self._call_count:
            self._call_count = NO_CALL64
            self._call(self._count_handler)
        return True

    cdef void _call(self, object h) noexcept:
        try:
            if h is not None:
                h.call_write()
        except BaseException:
            pass

    cdef void push(self, int port, Packet *p) noexcept:
        cdef int out = 0 if self._update(p, self.frozen or port == 1) else 1
        self.checked_output_push(0 if self.noutputs == 1 else out, p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef int i
        cdef bint frozen = self.frozen or port == 1
        if self.noutputs == 1 and self._call_nnz == NO_CALL32 and self._call_count == NO_CALL64:
            # no handler can run between packets and all leave on output 0
            for i in range(b.count):
                self._update(b.p[i], frozen)
            self.checked_output_push_batch(0, b)
        else:
            Element.push_batch(self, port, b)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = self.input_pull(0 if self.ninputs == 1 else port)
        if p != NULL and self.active:
            self._update(p, self.frozen or port == 1)
        return p

    # --- handlers -------------------------------------------------------------------------

    def stop(self):
        self.active = False
        self.router.please_stop_driver()

    def nodes(self):
        """(aggregate, count) for every nonzero count, in the trie's order (ascending)."""
        out = []
        self._collect(self._root, out)
        return out

    cdef void _collect(self, Node *n, list out):
        cdef Node *stack[80]
        cdef int sp = 0
        # preorder: node, then child 0's subtree, then child 1's
        if n == NULL:
            return
        stack[0] = n
        sp = 1
        while sp:
            sp -= 1
            n = stack[sp]
            if n.count:
                out.append((n.aggregate, n.count))
            if n.child[0] != NULL:
                stack[sp] = n.child[1]
                stack[sp + 1] = n.child[0]
                sp += 2

    def write_file(self, str where, int fmt_code):
        nodes = self.nodes()
        head = [f"!IPAggregate 1.0\n", self.banner]
        if self.banner and not self.banner.endswith("\n"):
            head.append("\n")
        head.append(f"!num_nonzero {self.nagg}\n")
        if fmt_code == WR_BINARY:
            head.append("!packed_le\n" if sys.byteorder == "little" else "!packed_be\n")
        elif fmt_code == WR_TEXT_IP:
            head.append("!ip\n")
        if fmt_code == WR_BINARY:
            body = b"".join(struct.pack("=II", a, c) for a, c in nodes)
        elif fmt_code == WR_TEXT_IP:
            body = "".join(f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255} {c}\n" for a, c in nodes)
        elif fmt_code == WR_TEXT_PDF:
            total = self.count or 1
            body = "".join(f"{a} {c / total:.12g}\n" for a, c in nodes)
        else:
            body = "".join(f"{a} {c}\n" for a, c in nodes)
        text = "".join(head)
        try:
            if where == "-":
                if fmt_code == WR_BINARY:
                    sys.stdout.flush()
                    sys.stdout.buffer.write(text.encode("latin-1") + body)
                    sys.stdout.buffer.flush()
                else:
                    sys.stdout.write(text + body)
                    sys.stdout.flush()
            elif fmt_code == WR_BINARY:
                with open(where, "wb") as f:
                    f.write(text.encode("latin-1") + body)
            else:
                with open(where, "w", encoding="latin-1") as f:
                    f.write(text + body)
        except OSError as e:
            raise HandlerError(f"{where}: {e.strerror}") from None

    def reaggregate_counts(self):
        """Replace the counts by the number of times each count occurs (Click's counts_pdf)."""
        cdef Node *old_root = self._root
        cdef Block *old_blocks = self._blocks
        cdef list counts = []
        cdef Node *stack[80]
        cdef Node *n
        cdef int sp
        # Click visits every trie node, including the empty ones inner nodes
        # leave behind: they count as occurrences of count 0.
        if old_root != NULL:
            stack[0] = old_root
            sp = 1
            while sp:
                sp -= 1
                n = stack[sp]
                counts.append(n.count)
                if n.child[0] != NULL:
                    stack[sp] = n.child[1]
                    stack[sp + 1] = n.child[0]
                    sp += 2
        self._blocks = NULL
        self._root = NULL
        self._free = NULL
        self.clear()
        for c in counts:
            n = self._find_node(c, False)
            if n != NULL:
                if not n.count:
                    self.nagg += 1
                n.count += 1
                self.count += 1
        _free_chain(old_blocks)

    def call_text(self, which):
        if which == "aggregate":
            return "" if self._call_nnz == NO_CALL32 else f"{self._call_nnz} {self._nnz_handler}"
        return "" if self._call_count == NO_CALL64 else f"{self._call_count} {self._count_handler}"

    def set_call(self, which, str text, errh=None):
        if not text.strip():
            if which == "aggregate":
                self._call_nnz = NO_CALL32
            else:
                self._call_count = NO_CALL64
            return
        n, rest = shift_word(text)
        try:
            value = Unsigned(n) if which == "aggregate" else Unsigned64(n)
            call = HandlerCall(rest)
            call.initialize(self)
        except (ArgError, HandlerError):
            raise HandlerError(f"argument to '{which}_call' should be 'N HANDLER [VALUE]'") from None
        if which == "aggregate":
            self._call_nnz, self._nnz_handler = value, call
        else:
            self._call_count, self._count_handler = value, call
