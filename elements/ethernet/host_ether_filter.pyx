# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""HostEtherFilter: a network card's address filter, in software."""
from libc.string cimport memcmp, memcpy

from clickpy.elements.ethernet.ether_header cimport ETHER_HEADER_LEN
from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport (
    PACKET_BROADCAST, PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST, Packet, pkt_data)

from clickpy.elements.ethernet.ether_config import parse_ether_handler, unparse_ether
from clickpy.runtime.args import Arg, Bool, EtherAddress, Unsigned, parse_arguments
from clickpy.runtime.handlers import ReadWrite


def _write_ether(e, value):
    e.set_ether(parse_ether_handler(e, value))


cdef class HostEtherFilter(BranchElement):
    """=c
    HostEtherFilter(ETHER [, DROP_OWN, DROP_OTHER, keywords OFFSET])

    =s ethernet
    drops Ethernet packets sent to other machines

    =d
    Acts like the receive filter of an Ethernet card with address ETHER:
    sets each packet's packet type annotation to HOST, BROADCAST, MULTICAST
    or OTHERHOST from its destination address, and emits it on output 0.
    DROP_OWN (default false) filters packets whose source is ETHER;
    DROP_OTHER (default true) filters packets for other hosts (unicast to
    another address). Filtered packets leave on output 1 if there is one,
    else they are dropped. The Ethernet header starts OFFSET bytes into the
    packet (default 0); packets too short for it are dropped.

    =h ether read/write: the ETHER address
    """
    port_count = "1/1-2"
    processing = "a/ah"
    live_reconfigure = True
    arguments = (
        Arg("ETHER", EtherAddress, positional=True, mandatory=True),
        Arg("DROP_OWN", Bool, False, positional=True),
        Arg("DROP_OTHER", Bool, True, positional=True),
        Arg("OFFSET", Unsigned, 0),
    )
    handlers = (ReadWrite("ether", lambda e: e.ether, _write_ether),)

    cdef unsigned char _addr[6]
    cdef public bint drop_own
    cdef public bint drop_other
    cdef public unsigned int offset

    def configure(self, conf, errh):
        v = parse_arguments(self, conf, type(self).arguments, errh)
        if v is None:
            return False
        self.set_ether(v["ether"])
        self.drop_own = v["drop_own"]
        self.drop_other = v["drop_other"]
        self.offset = v["offset"]
        return True

    def set_ether(self, bytes eth):
        memcpy(self._addr, <const char *> eth, 6)

    @property
    def ether(self):
        return unparse_ether(bytes(self._addr[:6]))

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        """Annotate p and choose its output (0 or 1); NULL if it was dropped."""
        cdef const unsigned char *e
        out[0] = 0
        if self.offset > p.length or p.length - self.offset < ETHER_HEADER_LEN:
            self.drop(p)
            return NULL
        e = pkt_data(p) + self.offset
        if self.drop_own and memcmp(e + 6, self._addr, 6) == 0:
            out[0] = 1
        elif memcmp(e, self._addr, 6) == 0:
            p.packet_type = PACKET_HOST
        elif e[0] == 0xFF and e[1] == 0xFF and e[2] == 0xFF and e[3] == 0xFF and e[4] == 0xFF and e[5] == 0xFF:
            p.packet_type = PACKET_BROADCAST
        elif e[0] & 1:
            p.packet_type = PACKET_MULTICAST
        else:
            p.packet_type = PACKET_OTHERHOST
            if self.drop_other:
                out[0] = 1
        return p
