# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""ARPQuerier: puts Ethernet headers on IP packets, asking ARP for the addresses."""
import sys

from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.string cimport memcpy, memset

from clickpy.elements.ethernet.arp_table cimport (
    ARP_EAGAIN, ARP_PACKET_LEN, ARP_SHA, ARP_SPA, ARP_THA, ARP_TPA, ARPHRD_ETHER, ARPOP_REPLY,
    ARPOP_REQUEST, ETHERTYPE_ARP, ETHERTYPE_IP, JIFFIES_PER_SEC, ARPTable)
from clickpy.elements.ethernet.ether_header cimport ETHER_HEADER_LEN, rd16, set_mac_header, wr16
from clickpy.elements.ip.ip_route_table cimport anno_dst_ip
from clickpy.runtime.element cimport Element
from clickpy.runtime.packet cimport (
    DEFAULT_HEADROOM, VLAN_TCI_ANNO_OFFSET, Packet, packet_kill, packet_make, packet_uniqueify,
    pkt_data, pkt_push)

from clickpy.elements.ethernet.arp_table import (
    format_jiffies, timeout_jiffies, write_delete, write_insert)
from clickpy.elements.ethernet.ether_config import unparse_ether
from clickpy.runtime.args import (
    Arg, ArgError, Bool, ElementRef, EtherAddress, IPAddress, IPPrefix, Seconds,
    parse_arguments, unparse_ip)
from clickpy.runtime.handlers import HandlerError, Read, ReadWrite, Write

# What ARPQuerier hands to the ARPTable it makes for itself (Click's subconf).
_TABLE_KEYWORDS = tuple(a.keyword for a in ARPTable.arguments)


def _ip_handler(attr):
    def write(e, value):
        try:
            setattr(e, attr, IPAddress(value.strip(), e))
        except ArgError:
            raise HandlerError("expected IP address") from None
    return ReadWrite(attr, lambda e: unparse_ip(getattr(e, attr)), write)


def _table_insert(e, value):
    write_insert(e.arp_table, value)


def _table_delete(e, value):
    write_delete(e.arp_table, value)


def _clear(e, value):
    e.clear()


cdef class ARPQuerier(Element):
    """=c
    ARPQuerier(IP, ETH, keywords TABLE, CAPACITY, ENTRY_CAPACITY, ENTRY_PACKET_CAPACITY, TIMEOUT, POLL_TIMEOUT, BROADCAST, BROADCAST_POLL)
    ARPQuerier(NAME, keywords ...)

    =s arp
    encapsulates IP packets in Ethernet headers found via ARP

    =d
    IP is this host's address (a prefix IP/MASK also gives the local
    broadcast address), ETH its Ethernet address; NAME may stand for both
    (see AddressInfo). IP packets on input 0, with destination IP
    annotations, leave on output 0 in an Ethernet header for the
    destination's Ethernet address when it is known. Otherwise the packet
    waits in the ARP table and an ARP query goes out (on output 1 if there
    are two outputs, else output 0); ARP replies, with their Ethernet
    headers, arrive on input 1 and release the packets that waited.

    Packets for 255.255.255.255 and the BROADCAST address go to
    FF-FF-FF-FF-FF-FF, multicast packets to 01-00-5E and the address's low
    23 bits; packets for 0.0.0.0 are dropped. At most 10 queries a second go
    out for any address. Known entries are polled again POLL_TIMEOUT (default
    1 minute; 0 never) after their last answer, unicast unless BROADCAST_POLL.

    TABLE names an ARPTable (or another ARPQuerier) whose table to use;
    otherwise ARPQuerier keeps its own, set up by CAPACITY, ENTRY_CAPACITY,
    ENTRY_PACKET_CAPACITY, CAPACITY_SLIM_FACTOR and TIMEOUT as ARPTable's.

    Queries take the timestamp and VLAN TCI annotations of the packet that
    caused them.

    =h table read-only: the ARP table (see ARPTable)
    =h stats read-only: packets killed and queries sent
    =h queries read-only: queries sent
    =h responses read-only: responses received
    =h drops read-only: packets dropped
    =h count read-only: entries in the ARP table
    =h length read-only: packets waiting in the ARP table
    =h ipaddr read/write: this host's IP address
    =h broadcast read/write: the local broadcast address
    =h insert write-only: 'IP ETH' adds a mapping
    =h delete write-only: 'IP' invalidates a mapping
    =h clear write-only: empties the table and zeroes the counters

    =e
      c :: Classifier(12/0806 20/0002, 12/0800, ...);
      a :: ARPQuerier(18.26.4.24, 00:00:C0:AE:67:EF);
      c[0] -> [1]a;
      c[1] -> ... -> [0]a;
      a -> ToDevice(eth0);

    =a ARPTable, ARPResponder, AddressInfo
    """
    port_count = "2/1-2"
    processing = "h"
    flow_code = "xy/x"
    flags = "L2"
    live_reconfigure = True
    # Keywords first (its table's, handed to the table as written, then its
    # own), then IP and ETH from what is left (Click's consume); a single
    # NAME stands for both.
    arguments = ARPTable.arguments + (
        Arg("BROADCAST", IPAddress),
        Arg("TABLE", ElementRef),
        Arg("POLL_TIMEOUT", Seconds, 60.0),
        Arg("BROADCAST_POLL", Bool, False),
        Arg("IP", IPPrefix, positional=True, mandatory=True, stage=1),
        Arg("ETH", EtherAddress, positional=True, mandatory=True, stage=1, default_from="IP"),
    )
    handlers = (
        Read("table", lambda e: e.arp_table.table_text()),
        Read("stats", lambda e: f"{e.drops + e.arp_table.drops} packets killed\n"
                                f"{e.queries} ARP queries sent\n"),
        Read("count", lambda e: e.arp_table.entry_count),
        Read("length", lambda e: e.arp_table.packet_count),
        Read("queries", lambda e: e.queries),
        Read("responses", lambda e: e.responses),
        Read("drops", lambda e: e.drops),
        _ip_handler("broadcast"),
        _ip_handler("ipaddr"),
        Write("insert", _table_insert),
        Write("delete", _table_delete),
        Write("clear", _clear, button=True),
    )

    cdef ARPTable _arpt
    cdef bint _my_arpt          # the table is ours (made in configure)
    cdef object _table_ref      # TABLE, resolved in initialize
    cdef uint8_t _my_en[6]
    cdef uint32_t _my_ip        # host order; 0 means unconfigured: packets are dropped
    cdef uint32_t _my_bcast_ip
    cdef int64_t _poll_timeout_j
    cdef bint _broadcast_poll
    cdef bint _zero_warned
    cdef public uint32_t queries
    cdef public uint32_t responses
    cdef public uint32_t drops

    def __cinit__(self, *args, **kwargs):
        self._arpt = None
        self._my_arpt = False
        self._table_ref = None
        self._my_ip = 0
        self._my_bcast_ip = 0
        self._zero_warned = False
        self.queries = 0
        self.responses = 0
        self.drops = 0

    # --- configuration -----------------------------------------------------------

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        given = values["_given"]
        if values["_slim"] == 0:
            errh.error("CAPACITY_SLIM_FACTOR cannot be zero")
            return False
        my_ip, mask = values["ip"]
        eth = values["eth"]
        if "BROADCAST" in given:
            bcast = values["broadcast"]
        else:
            bcast = my_ip | (~mask & 0xFFFFFFFF)
            if bcast == my_ip:
                bcast = 0xFFFFFFFF
        # The table keywords go to our ARPTable as written.
        subconf = [f"{k} {given[k]}" for k in _TABLE_KEYWORDS if k in given]

        live = self.router is not None and self.router.initialized and self._arpt is not None
        if live:
            # Reconfiguring a running querier keeps its table (and TABLE).
            if self._my_arpt:
                if my_ip != self._my_ip or eth != bytes(self._my_en[:6]):
                    self._arpt.clear()
                self._arpt.configure_given(subconf, errh)
        elif "TABLE" in given:
            self._table_ref = values["table"]
            self._my_arpt = False
        else:
            self._arpt = ARPTable()
            self._arpt.name = f"{self.name}/arptable"
            self._arpt.router = self.router
            self._arpt.landmark = self.landmark
            if not self._arpt.configure(subconf, errh):
                return False
            self._my_arpt = True
        self._my_ip = my_ip
        memcpy(self._my_en, <const char *> eth, 6)
        self._my_bcast_ip = bcast
        self._broadcast_poll = values["broadcast_poll"]
        self._poll_timeout_j = timeout_jiffies(values["poll_timeout"])
        return True

    def initialize(self, errh):
        if self._table_ref is not None and not self._my_arpt:
            t = self._table_ref
            if isinstance(t, ARPQuerier):
                t = (<ARPQuerier> t)._arpt
            if not isinstance(t, ARPTable):
                errh.error(f"TABLE: '{self._table_ref.name}' is not an ARPTable")
                return
            self._arpt = <ARPTable> t
        elif self._my_arpt:
            self._arpt.attach(self.router)
        self.queries = 0
        self.drops = 0
        self.responses = 0

    def cleanup(self, stage):
        if self._my_arpt and self._arpt is not None:
            self._arpt.cleanup(stage)

    def take_state(self, old, errh):
        """Carry on old's table (when each has its own) and counters, as Click's,
        if old has the same IP, Ethernet and broadcast addresses; swapped, so
        ``old.take_state(self)`` gives them back."""
        if not isinstance(old, ARPQuerier):
            return None
        cdef ARPQuerier o = <ARPQuerier> old
        if (self._my_ip != o._my_ip or bytes(self._my_en[:6]) != bytes(o._my_en[:6])
                or self._my_bcast_ip != o._my_bcast_ip):
            return None
        carried = {}
        if self._my_arpt and o._my_arpt and self._arpt is not None and o._arpt is not None:
            carried = self._arpt.take_table(o._arpt, errh) or {}
        self.queries, o.queries = o.queries, self.queries
        self.drops, o.drops = o.drops, self.drops
        self.responses, o.responses = o.responses, self.responses
        carried["counts"] = 1
        return carried

    # --- Python-facing state ---------------------------------------------------------

    @property
    def arp_table(self):
        return self._arpt

    # Addresses are ints (clickpy.runtime.args' IPv4 form).
    @property
    def ipaddr(self):
        return self._my_ip

    @ipaddr.setter
    def ipaddr(self, value):
        self._my_ip = value

    @property
    def broadcast(self):
        return self._my_bcast_ip

    @broadcast.setter
    def broadcast(self, value):
        self._my_bcast_ip = value

    @property
    def eth(self):
        return unparse_ether(bytes(self._my_en[:6]))

    def clear(self):
        self.queries = 0
        self.drops = 0
        self.responses = 0
        if self._arpt is not None:
            self._arpt.clear_all()

    # --- the data path -----------------------------------------------------------------

    cdef void send_query_for(self, Packet *p, bint ether_dhost_valid) noexcept:
        """Send an ARP query for p's destination annotation (p's MAC header
        gives the unicast destination of a poll)."""
        cdef Packet *q = packet_make(DEFAULT_HEADROOM - ETHER_HEADER_LEN, NULL, ARP_PACKET_LEN, 0)
        cdef unsigned char *d
        cdef unsigned char *a
        cdef uint32_t want
        if q == NULL:
            try:
                sys.stderr.write("in arp querier: cannot make packet!\n")
            except BaseException:
                pass
            return
        d = pkt_data(q)
        set_mac_header(q, ETHER_HEADER_LEN)
        if ether_dhost_valid and not self._broadcast_poll:
            memcpy(d, p.buffer + p.mac, 6)
        else:
            memset(d, 0xFF, 6)
        memcpy(d + 6, self._my_en, 6)
        wr16(d + 12, ETHERTYPE_ARP)
        a = d + ETHER_HEADER_LEN
        wr16(a, ARPHRD_ETHER)
        wr16(a + 2, ETHERTYPE_IP)
        a[4] = 6
        a[5] = 4
        wr16(a + 6, ARPOP_REQUEST)
        memcpy(a + ARP_SHA, self._my_en, 6)
        a[ARP_SPA] = <uint8_t> (self._my_ip >> 24)
        a[ARP_SPA + 1] = <uint8_t> (self._my_ip >> 16)
        a[ARP_SPA + 2] = <uint8_t> (self._my_ip >> 8)
        a[ARP_SPA + 3] = <uint8_t> self._my_ip
        memset(a + ARP_THA, 0, 6)
        want = anno_dst_ip(p)
        a[ARP_TPA] = <uint8_t> (want >> 24)
        a[ARP_TPA + 1] = <uint8_t> (want >> 16)
        a[ARP_TPA + 2] = <uint8_t> (want >> 8)
        a[ARP_TPA + 3] = <uint8_t> want
        q.timestamp = p.timestamp
        memcpy(&q.anno[VLAN_TCI_ANNO_OFFSET], &p.anno[VLAN_TCI_ANNO_OFFSET], 2)
        self.queries += 1
        self.checked_output_push(self.noutputs - 1, q)

    cdef void handle_ip(self, Packet *p, bint response) noexcept:
        cdef Packet *q
        cdef unsigned char *dst
        cdef uint32_t dst_ip
        cdef int r
        if self._my_ip == 0 or self._arpt is None:
            packet_kill(p)
            self.drops += 1
            return
        if response:
            q = packet_uniqueify(p)
            if q == NULL:
                self.drops += 1
                return
        else:
            q = pkt_push(p, ETHER_HEADER_LEN)
            if q == NULL:
                self.drops += 1
                return
            q.mac = <int> q.data
            wr16(pkt_data(q) + 12, ETHERTYPE_IP)
        dst_ip = anno_dst_ip(q)
        dst = q.buffer + q.mac
        while True:
            r = self._arpt.lookup(dst_ip, dst, self._poll_timeout_j)
            if r >= 0:
                if r > 0:
                    self.send_query_for(q, True)
            elif dst_ip == 0xFFFFFFFF or dst_ip == self._my_bcast_ip:
                memset(dst, 0xFF, 6)
            elif (dst_ip & 0xF0000000) == 0xE0000000:
                dst[0] = 0x01
                dst[1] = 0x00
                dst[2] = 0x5E
                dst[3] = (dst_ip >> 16) & 0x7F
                dst[4] = <uint8_t> (dst_ip >> 8)
                dst[5] = <uint8_t> dst_ip
            elif dst_ip == 0:
                if not self._zero_warned:
                    self._zero_warned = True
                    try:
                        sys.stderr.write(f"{self.declaration()}: would query for 0.0.0.0; "
                                         "missing dest IP addr annotation?\n")
                    except BaseException:
                        pass
                self.drops += 1
                packet_kill(q)
                return
            else:
                r = self._arpt.append_query(dst_ip, q)
                if r == ARP_EAGAIN:
                    continue        # the address became known meanwhile: look again
                if r < 0:
                    packet_kill(q)
                elif r > 0:
                    # q now waits in the table; the query reads it before it can leave.
                    self.send_query_for(q, False)
                return
            break
        # Our source address goes in just before the packet leaves, so a
        # change of address applies to packets that waited.
        memcpy(dst + 6, self._my_en, 6)
        self.output_push(0, q)

    cdef void handle_response(self, Packet *p) noexcept:
        cdef const unsigned char *d
        cdef const unsigned char *a
        cdef Packet *head = NULL
        cdef Packet *nxt
        cdef uint32_t ipa
        if p.length < ARP_PACKET_LEN:
            return
        self.responses += 1
        d = pkt_data(p)
        a = d + ETHER_HEADER_LEN
        if (rd16(d + 12) == ETHERTYPE_ARP and rd16(a) == ARPHRD_ETHER and rd16(a + 2) == ETHERTYPE_IP
                and rd16(a + 6) == ARPOP_REPLY and not (a[ARP_SHA] & 1)):
            ipa = ((<uint32_t> a[ARP_SPA] << 24) | (<uint32_t> a[ARP_SPA + 1] << 16)
                   | (<uint32_t> a[ARP_SPA + 2] << 8) | a[ARP_SPA + 3])
            self._arpt.insert(ipa, a + ARP_SHA, &head)
            # The packets that waited leave in their arrival order.
            while head != NULL:
                nxt = head.next
                head.next = NULL
                self.handle_ip(head, True)
                head = nxt

    cdef void push(self, int port, Packet *p) noexcept:
        if port == 0:
            self.handle_ip(p, False)
        else:
            if self._arpt is not None:
                self.handle_response(p)
            packet_kill(p)
