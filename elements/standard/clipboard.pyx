# cython: language_level=3
"""Clipboard: copies byte ranges out of packets on one path into packets on another."""
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet, packet_uniqueify, pkt_data

from clickpy.runtime.args import Arg, ArgError, Unsigned, parse_arguments


def _ranges(texts, element):
    """Clipboard's arguments, each 'OFFSET/LENGTH' -> [(offset, length)]."""
    ranges = []
    for i, arg in enumerate(texts):
        arg = arg.strip()
        slash = arg.find("/")
        if slash <= 0 or slash >= len(arg) - 1:
            raise ArgError(f"range {i}: expected '/' between offset and length")
        try:
            ranges.append((Unsigned(arg[:slash]), Unsigned(arg[slash + 1:])))
        except ArgError:
            raise ArgError(f"range {i}: invalid offset or length") from None
    if sum(n for _, n in ranges) > (1 << 24):
        raise ArgError("ranges too long")
    return ranges


cdef class Clipboard(Element):
    """=c
    Clipboard(RANGE_1, ..., RANGE_N)

    =s basicmod
    copies data from one packet to another

    =d
    Each RANGE is 'OFFSET/LENGTH', a byte range. A packet arriving on input 0
    has the bytes of every range copied to the clipboard, and leaves
    unchanged on output 0. A packet arriving on input 1 has the clipboard
    written into the same ranges (after it is made unique), and leaves on
    output 1; a packet too short to hold every range leaves unchanged. Each
    input/output pair works in a push or a pull context. Batches are handled
    packet by packet (the clipboard may feed back into itself through a
    loop, as in copying within one packet).

    The clipboard starts zeroed. A packet on input 0 too short for some
    range updates only the ranges that lie wholly inside it.

    =e
    // copy the first 3 bytes of one stream's packets into the other's
    c :: Clipboard(0/3);
    a -> [0] c [0] -> Discard;
    b -> [1] c [1] -> Print -> Discard;
    """
    port_count = "2/2"
    processing = "a"
    flow_code = "#/#"
    flags = "S0"
    arguments = (Arg("RANGE", _ranges, rest=True, doc="'OFFSET/LENGTH', any number"),)

    cdef unsigned *_offset
    cdef unsigned *_length
    cdef int _nranges
    cdef unsigned char *_clip
    cdef unsigned _min_length

    def __cinit__(self):
        self._offset = NULL
        self._length = NULL
        self._clip = NULL
        self._nranges = 0
        self._min_length = 0

    def __dealloc__(self):
        free(self._offset)
        free(self._length)
        free(self._clip)

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        ranges = values["range"]
        total = sum(n for _, n in ranges)
        free(self._offset)
        free(self._length)
        free(self._clip)
        self._nranges = len(ranges)
        self._offset = <unsigned *> calloc(max(len(ranges), 1), sizeof(unsigned))
        self._length = <unsigned *> calloc(max(len(ranges), 1), sizeof(unsigned))
        self._clip = <unsigned char *> calloc(max(total, 1), 1)
        if not (self._offset and self._length and self._clip):
            raise MemoryError()
        self._min_length = 0
        for i, (off, n) in enumerate(ranges):
            self._offset[i] = off
            self._length[i] = n
            self._min_length = max(self._min_length, off + n)

    cdef void copy(self, Packet *p) noexcept:
        cdef unsigned char *dst = self._clip
        cdef int i
        for i in range(self._nranges):
            if <unsigned long long> self._offset[i] + self._length[i] <= p.length:
                memcpy(dst, pkt_data(p) + self._offset[i], self._length[i])
            dst += self._length[i]

    cdef Packet *paste(self, Packet *p) noexcept:
        cdef const unsigned char *src = self._clip
        cdef int i
        if p.length < self._min_length:
            return p
        p = packet_uniqueify(p)
        if p == NULL:
            self.dropped += 1
            return NULL
        for i in range(self._nranges):
            memcpy(pkt_data(p) + self._offset[i], src, self._length[i])
            src += self._length[i]
        return p

    cdef void push(self, int port, Packet *p) noexcept:
        if port == 0:
            self.copy(p)
        else:
            p = self.paste(p)
            if p == NULL:
                return
        self.output_push(port, p)

    cdef Packet *pull(self, int port) noexcept:
        cdef Packet *p = self.input_pull(port)
        if p == NULL:
            return NULL
        if port == 0:
            self.copy(p)
            return p
        return self.paste(p)
