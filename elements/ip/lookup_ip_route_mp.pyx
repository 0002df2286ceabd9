# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""LookupIPRouteMP: a small static routing table with a two-entry lookup cache."""
import sys

from libc.stdint cimport int32_t, uint32_t
from libc.stdlib cimport free, malloc

from clickpy.elements.ip.ip_route_table cimport anno_dst_ip, set_anno_dst_ip
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport Packet

from clickpy.elements.ip.ip_route_table import parse_ip_address, parse_ip_prefix
from clickpy.lang.confstring import split_words
from clickpy.runtime.args import Arg, ArgError, Int, each_argument, parse_arguments, unparse_ip


cdef struct MPRoute:
    uint32_t dst        # host order, masked
    uint32_t mask
    uint32_t gw
    int32_t port


def _route(str arg, int i, element):
    """One of LookupIPRouteMP's arguments, 'DADDR/MASK [GATEWAY] OUTPUT' -> (dst, mask, gw, output)."""
    words = split_words(arg)
    if len(words) in (2, 3):
        pm = parse_ip_prefix(words[0], element)
        try:
            out = Int(words[len(words) - 1])
        except ArgError:
            out = None
        gw = parse_ip_address(words[1], element) if len(words) == 3 else 0
        if pm is not None and out is not None and gw is not None and out >= 0:
            return (pm[0] & pm[1], pm[1], gw, out)
    raise ArgError(f"argument {i + 1} should be `DADDR/MASK [GATEWAY] OUTPUT'")


cdef class LookupIPRouteMP(Element):
    """=c
    LookupIPRouteMP(DST1/MASK1 [GW1] OUT1, DST2/MASK2 [GW2] OUT2, ...)

    =s threads
    simple static IP routing table

    =d
    Routes packets like StaticIPLookup: the destination IP annotation is
    looked up by longest prefix (of equally long matches, the later route
    wins), replaced by the route's gateway if it has one, and the packet
    leaves on the route's output. Packets without a route are dropped with a
    message. The last two destinations looked up are remembered (Click keeps
    this cache per CPU, which is what the MP is for). There are no handlers.

    =a StaticIPLookup, LinearIPLookup
    """
    port_count = "1/-"
    processing = "a"
    arguments = (Arg("ROUTE", each_argument(_route), rest=True, doc="'DADDR/MASK [GATEWAY] OUTPUT', any number"),)

    cdef MPRoute *_t
    cdef int _n
    cdef uint32_t _addr1, _gw1, _addr2, _gw2
    cdef int _out1, _out2

    def __cinit__(self, *args, **kwargs):
        self._t = NULL
        self._n = 0

    def __dealloc__(self):
        free(self._t)

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        routes = values["route"]
        maxout = max((r[3] for r in routes), default=-1)
        if maxout < 0:
            errh.warning("no routes")
        if maxout >= self.noutputs:
            errh.error(f"need {maxout + 1} or more output ports")
            return False
        cdef MPRoute *t = <MPRoute *> malloc(max(len(routes), 1) * sizeof(MPRoute))
        if t == NULL:
            raise MemoryError("LookupIPRouteMP: no memory")
        for i, (d, m, g, o) in enumerate(routes):
            t[i].dst = d
            t[i].mask = m
            t[i].gw = g
            t[i].port = o
        free(self._t)
        self._t = t
        self._n = len(routes)
        return True

    def initialize(self, errh):
        self._addr1 = 0
        self._addr2 = 0

    def routes(self):
        cdef int i
        return [(unparse_ip(self._t[i].dst), unparse_ip(self._t[i].mask), unparse_ip(self._t[i].gw),
                 self._t[i].port) for i in range(self._n)]

    cdef int lookup(self, uint32_t a, uint32_t *gw) noexcept:
        cdef int i, best = -1
        for i in range(self._n):
            if (a & self._t[i].mask) == self._t[i].dst:
                if best < 0 or (self._t[i].mask & self._t[best].mask) == self._t[best].mask:
                    best = i
        if best < 0:
            return -1
        gw[0] = self._t[best].gw
        return self._t[best].port

    cdef void push(self, int port, Packet *p) noexcept:
        cdef uint32_t a = anno_dst_ip(p)
        cdef uint32_t gw = 0
        cdef int out
        if a:
            if a == self._addr1:
                if self._gw1:
                    set_anno_dst_ip(p, self._gw1)
                self.checked_output_push(self._out1, p)
                return
            if a == self._addr2:
                if self._gw2:
                    set_anno_dst_ip(p, self._gw2)
                self.checked_output_push(self._out2, p)
                return
        out = self.lookup(a, &gw)
        if out < 0:
            try:
                sys.stderr.write(f"LookupIPRouteMP: no gw for {a:x}\n")
            except BaseException:
                pass
            self.drop(p)
            return
        self._addr2, self._gw2, self._out2 = self._addr1, self._gw1, self._out1
        self._addr1, self._gw1, self._out1 = a, gw, out
        if gw:
            set_anno_dst_ip(p, gw)
        self.checked_output_push(out, p)
