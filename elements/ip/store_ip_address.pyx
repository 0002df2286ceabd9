# cython: language_level=3
"""StoreIPAddress: writes an IP address (or the destination annotation) into the packet."""
from libc.stdint cimport uint32_t
from libc.string cimport memcpy

from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport (DST_IP_ANNO_OFFSET, Packet, packet_uniqueify, pkt_data,
                                     pkt_anno_u32)
from clickpy.elements.ip.ip_header cimport (IP_HEADER_LEN, IP_PROTO_TCP, IP_PROTO_UDP,
                                            TCP_HEADER_LEN, UDP_HEADER_LEN, ip_first_frag, ip_p,
                                            load_u16_raw, load_u32_raw, pkt_ip_header_length,
                                            pkt_transport_length, store_u32_raw,
                                            update_in_cksum_u32)

from clickpy.runtime.args import Arg, ArgError, Int, IPAddress, Word, ip_packed, parse_arguments


cdef class StoreIPAddress(BranchElement):
    """=c
    StoreIPAddress(OFFSET)
    StoreIPAddress(ADDR, OFFSET)

    =s ip
    stores IP address in packet

    =d
    The one-argument form writes the destination IP address annotation into
    the packet at byte OFFSET, unless the annotation is zero. The two-argument
    form writes ADDR (which may be zero).

    OFFSET may be 'src' or 'dst': the address then goes into the IP header's
    source or destination field (the IP header annotation must be set), and
    the IP checksum, and a TCP or UDP checksum of a first fragment, are
    updated incrementally.

    Packets where the address does not fit (or that have no IP header for
    'src'/'dst') leave on output 1 if it exists, else are dropped. Integer
    offsets change no checksum (see SetIPChecksum).

    =a SetIPChecksum, SetTCPChecksum, SetUDPChecksum, IPAddrRewriter
    """
    port_count = "1/1-2"
    processing = "a/ah"
    # With one argument there is no ADDR: StoreIPAddress(OFFSET) stores the
    # destination address annotation.
    arguments = (
        Arg("ADDR", IPAddress, None, positional=True, mandatory=True),
        Arg("OFFSET", Word, None, positional=True, mandatory=True, doc="a byte offset, 'src' or 'dst'"),
    )

    cdef public int offset          # >= 0 bytes, -12 source, -16 destination
    cdef public bint use_address
    cdef public object address      # an int (clickpy.runtime.args' IPv4 form), or None
    cdef uint32_t _addr             # memory order

    def configure(self, conf, errh):
        use_address = len(conf) > 1
        spec = type(self).arguments
        values = parse_arguments(self, conf, spec if use_address else spec[1:], errh)
        if values is None:
            return False
        word = values["offset"].lower()
        if word == "src":
            offset = -12
        elif word == "dst":
            offset = -16
        else:
            try:
                offset = Int(values["offset"])
            except ArgError:
                offset = -1
            if offset < 0 or offset >= (1 << 31):
                return errh.error("type mismatch: OFFSET requires integer")
        self.use_address = use_address
        self.address = values.get("addr")
        cdef bytes raw = ip_packed(self.address or 0)
        memcpy(&self._addr, <const char *> raw, 4)
        self.offset = offset
        return True

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        cdef uint32_t addr = self._addr if self.use_address else pkt_anno_u32(p, DST_IP_ANNO_OFFSET)
        cdef unsigned char *field
        cdef unsigned char *iph
        cdef uint32_t old
        out[0] = 0
        if self.offset >= 0:
            if (addr or self.use_address) and <unsigned> self.offset + 4 <= p.length:
                p = packet_uniqueify(p)
                if p != NULL:
                    store_u32_raw(pkt_data(p) + self.offset, addr)
                return p
        elif (p.network >= 0 and pkt_ip_header_length(p) >= IP_HEADER_LEN
              and p.network + IP_HEADER_LEN <= <int> (p.data + p.length)):
            p = packet_uniqueify(p)
            if p == NULL:
                return NULL
            iph = p.buffer + p.network
            field = iph - self.offset
            old = load_u32_raw(field)
            store_u32_raw(field, addr)
            update_in_cksum_u32(iph + 10, old, addr)
            if ip_first_frag(iph):
                if ip_p(iph) == IP_PROTO_TCP and pkt_transport_length(p) >= TCP_HEADER_LEN:
                    update_in_cksum_u32(p.buffer + p.transport + 16, old, addr)
                elif (ip_p(iph) == IP_PROTO_UDP and pkt_transport_length(p) >= UDP_HEADER_LEN
                      and load_u16_raw(p.buffer + p.transport + 6) != 0):
                    update_in_cksum_u32(p.buffer + p.transport + 6, old, addr)
            return p
        out[0] = 1
        return p
