# cython: language_level=3
"""FTPPortMapper: rewrites FTP PORT commands to match a rewriter's mappings."""
from libc.stdint cimport int32_t, uint16_t, uint32_t
from libc.stdio cimport snprintf
from libc.string cimport memcpy, memmove

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, packet_uniqueify, pkt_data, pkt_put, pkt_take

from clickpy.elements.ip.ip_header cimport (IP_PROTO_TCP, htonl, htons, in_cksum, in_cksum_pseudohdr,
                                            ip_header_ok, load_u16_raw, load_u32_raw, ntohl, ntohs,
                                            store_u16_raw, wr16)
from clickpy.elements.rewriter.flow_table cimport (NOREF, FlowKey, RWFlow, entry_rewritten, flow_at,
                                                   tcp_update_seqno_delta, transport_length)
from clickpy.elements.rewriter.rewriter_base cimport GET_ENTRY_CHECK, IPRewriterBase
from clickpy.elements.rewriter.tcp_rewriter cimport TCPRewriter

from clickpy.runtime.args import Arg, ArgError, Int, String


def _element_of(cls, what):
    def parse(text, element=None):
        name = String(text, element)
        router = getattr(element, "router", None)
        e = router.find(name, element) if router is not None else None
        if e is None:
            raise ArgError(f"no element named '{name}'")
        if not isinstance(e, cls):
            raise ArgError(f"element type mismatch, expected {what}")
        return e
    parse.__name__ = what
    return parse


cdef inline bint _letter(unsigned char c, unsigned char upper) noexcept nogil:
    return c == upper or c == upper + 32


cdef class FTPPortMapper(SimpleElement):
    """=c
    FTPPortMapper(CONTROL_REWRITER, DATA_REWRITER, DATA_REWRITER_INPUT)

    =s nat
    manipulates IPRewriter for FTP

    =d
    Expects FTP control packets (IP and TCP headers annotated; CheckIPHeader
    and CheckTCPHeader do that). A packet whose payload starts with a PORT
    command 'PORT h1,h2,h3,h4,p1,p2' naming the data connection's address
    and port gets a mapping for that data connection in DATA_REWRITER, as if
    a data packet from that address and port to the server's port 20 (the
    control port minus one) had arrived on DATA_REWRITER_INPUT; the command
    is rewritten to name the mapped address and port, the IP length and
    checksums are fixed, and CONTROL_REWRITER, the TCPRewriter that carries
    the control connection downstream, is told to shift the connection's
    sequence numbers by the change in length. The packet's addresses and
    ports are left alone. Replies to the data mapping get the control
    connection's REPLY_ANNO value.

    The PORT command must be the first in the packet and complete, ending in
    a carriage return or newline; anything else passes unchanged, as do
    packets of connections CONTROL_REWRITER has no mapping for. Packets
    without a usable IP and TCP header are dropped and counted.

    =e
    rw :: TCPRewriter(pattern 1.0.0.1 1024-65535# - - 0 1, drop);
    ftp_control -> CheckIPHeader -> CheckTCPHeader -> FTPPortMapper(rw, rw, 0) -> [0]rw;

    =a TCPRewriter, IPRewriter, IPRewriterPatterns
    """
    port_count = "1/1"
    processing = "a"
    live_reconfigure = True
    arguments = (
        Arg("CONTROL_REWRITER", _element_of(TCPRewriter, "TCPRewriter"), None, positional=True, mandatory=True),
        Arg("DATA_REWRITER", _element_of(IPRewriterBase, "IPRewriterBase"), None, positional=True,
            mandatory=True),
        Arg("DATA_REWRITER_INPUT", Int, None, positional=True, mandatory=True),
    )

    cdef public object control_rewriter
    cdef public object data_rewriter
    cdef public int data_rewriter_input
    cdef TCPRewriter _control
    cdef IPRewriterBase _data
    cdef int _data_input

    def configure(self, conf, errh):
        from clickpy.runtime.args import parse_arguments

        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        if not 0 <= values["data_rewriter_input"] < values["data_rewriter"].ninputs:
            errh.error("DATA_REWRITER_INPUT out of range")
            return False
        self.control_rewriter = values["control_rewriter"]
        self.data_rewriter = values["data_rewriter"]
        self.data_rewriter_input = values["data_rewriter_input"]
        self._control = <TCPRewriter> self.control_rewriter
        self._data = <IPRewriterBase> self.data_rewriter
        self._data_input = self.data_rewriter_input
        return True

    def initialize(self, errh):
        # the control rewriter should see the packets this element changes
        seen = set()
        work = [(e, port) for e, port in self.router.output_connections(self, 0)]
        found = False
        while work:
            e, _ = work.pop()
            if e.eindex in seen:
                continue
            seen.add(e.eindex)
            if e is self.control_rewriter:
                found = True
                break
            for o in range(e.noutputs):
                work.extend(self.router.output_connections(e, o))
        if not found:
            errh.warning(f"control packet rewriter '{self.control_rewriter.declaration()}' is not downstream")

    cdef Packet *simple_action(self, Packet *p) noexcept:
        cdef unsigned char *iph
        cdef unsigned char *tcph
        cdef unsigned char *data
        cdef int tlen, th_off
        cdef uint32_t data_offset, length, pos, port_arg_offset, port_arg_len, i
        cdef uint32_t nums[6]
        cdef int which_num = 0
        cdef FlowKey control_flow, flow, new_flow
        cdef uint32_t control_ref, forward_ref, new_saddr, trigger
        cdef uint16_t new_sport, old_hw, new_hw
        cdef char buf[32]
        cdef int buflen
        cdef uint32_t sum
        cdef RWFlow *pf
        cdef int tcp_len
        if not ip_header_ok(p) or (p.buffer[p.network] & 0xF0) != 0x40 or (p.buffer[p.network] & 0x0F) < 5:
            self.drop(p)
            return NULL
        iph = p.buffer + p.network
        if iph[9] != IP_PROTO_TCP:
            return p
        tlen = transport_length(p)
        if tlen < 20 or ((p.buffer + p.transport)[12] >> 4) * 4 > tlen:
            self.drop(p)
            return NULL
        tcph = p.buffer + p.transport
        th_off = (tcph[12] >> 4) * 4
        data_offset = <uint32_t> (p.transport - <int> p.data) + th_off
        data = pkt_data(p) + data_offset
        length = p.length - data_offset
        if (length < 5 or not _letter(data[0], c'P') or not _letter(data[1], c'O')
                or not _letter(data[2], c'R') or not _letter(data[3], c'T') or data[4] != c' '):
            return p
        control_flow.saddr = load_u32_raw(iph + 12)
        control_flow.daddr = load_u32_raw(iph + 16)
        control_flow.sport = load_u16_raw(tcph)
        control_flow.dport = load_u16_raw(tcph + 2)
        control_ref = self._control.get_entry(IP_PROTO_TCP, &control_flow, GET_ENTRY_CHECK)
        if control_ref == NOREF:
            return p
        # the PORT command: six decimal numbers separated by commas
        pos = 5
        while pos < length and data[pos] == c' ':
            pos += 1
        port_arg_offset = pos
        for i in range(6):
            nums[i] = 0
        while pos < length and which_num < 6:
            if c'0' <= data[pos] <= c'9':
                nums[which_num] = nums[which_num] * 10 + data[pos] - c'0'
                if nums[which_num] > 0xFFFFFF:
                    return p
            elif data[pos] == c',':
                which_num += 1
            else:
                break
            pos += 1
        if which_num != 5 or pos >= length or (data[pos] != c'\r' and data[pos] != c'\n'):
            return p
        for i in range(6):
            if nums[i] >= 256:
                return p
        # the data connection: from the named address and port to the server's port 20
        flow.saddr = htonl((nums[0] << 24) | (nums[1] << 16) | (nums[2] << 8) | nums[3])
        flow.sport = htons(<uint16_t> ((nums[4] << 8) | nums[5]))
        flow.daddr = load_u32_raw(iph + 16)
        flow.dport = htons(<uint16_t> (ntohs(load_u16_raw(tcph + 2)) - 1))
        forward_ref = self._data.get_entry(IP_PROTO_TCP, &flow, self._data_input)
        if forward_ref == NOREF:
            return p
        entry_rewritten(self._data._store, forward_ref, &new_flow)
        new_saddr = ntohl(new_flow.saddr)
        new_sport = ntohs(new_flow.sport)
        buflen = snprintf(buf, sizeof(buf), "%u,%u,%u,%u,%u,%u", (new_saddr >> 24) & 255,
                          (new_saddr >> 16) & 255, (new_saddr >> 8) & 255, new_saddr & 255,
                          (new_sport >> 8) & 255, new_sport & 255)
        port_arg_len = pos - port_arg_offset
        if port_arg_len < <uint32_t> buflen:
            p = pkt_put(p, buflen - port_arg_len)
        else:
            p = packet_uniqueify(p)
            if p != NULL:
                pkt_take(p, port_arg_len - buflen)
        if p == NULL:
            self.dropped += 1
            return NULL
        data = pkt_data(p) + data_offset
        memmove(data + port_arg_offset + buflen, data + port_arg_offset + port_arg_len, length - pos)
        memcpy(data + port_arg_offset, buf, buflen)
        # the IP length, and its checksum incrementally
        iph = p.buffer + p.network
        old_hw = load_u16_raw(iph + 2)
        wr16(iph + 2, <uint16_t> (<int> (p.data + p.length) - p.network))
        new_hw = load_u16_raw(iph + 2)
        sum = (~load_u16_raw(iph + 10) & 0xFFFF) + (~old_hw & 0xFFFF) + new_hw
        while sum >> 16:
            sum = (sum & 0xFFFF) + (sum >> 16)
        store_u16_raw(iph + 10, <uint16_t> ~sum)
        # later sequence numbers of the control connection move by the change
        tcph = p.buffer + p.transport
        trigger = ntohl(load_u32_raw(tcph + 4)) + length
        pf = flow_at(self._control._store, control_ref >> 1)
        tcp_update_seqno_delta(pf, control_ref & 1, trigger, buflen - <int32_t> port_arg_len)
        flow_at(self._data._store, forward_ref >> 1).reply_anno = pf.reply_anno
        # the TCP checksum, afresh
        tcph[16] = 0
        tcph[17] = 0
        tcp_len = <int> (p.data + p.length) - p.transport
        store_u16_raw(tcph + 16, in_cksum_pseudohdr(in_cksum(tcph, tcp_len), iph, tcp_len))
        return p
