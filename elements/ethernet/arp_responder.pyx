# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""ARPResponder: answers ARP queries for configured IP prefixes."""
import functools

from libc.stdint cimport uint8_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from clickpy.elements.ethernet.arp_table cimport (
    ARP_PACKET_LEN, ARP_SHA, ARP_SPA, ARP_THA, ARP_TPA, ARPHRD_ETHER, ARPOP_REPLY, ARPOP_REQUEST,
    ETHERTYPE_ARP, ETHERTYPE_IP)
from clickpy.elements.ethernet.ether_header cimport ETHER_HEADER_LEN, rd16, set_mac_header, wr16
from clickpy.runtime.branch cimport BranchElement
from clickpy.runtime.packet cimport (
    DEFAULT_HEADROOM, VLAN_TCI_ANNO_OFFSET, Packet, packet_kill, packet_make, pkt_data)

from clickpy.elements.ethernet.ether_config import unparse_ether
from clickpy.lang.confstring import split_words
from clickpy.runtime.args import (Arg, ArgError, EtherAddress, IPAddress, IPPrefix, Warned, each_argument, mask_prefix_len,
                                 parse_arguments, unparse_ip)
from clickpy.runtime.handlers import HandlerError, Read, Write


cdef struct ResponderEntry:
    uint32_t dst        # host order, masked
    uint32_t mask
    uint8_t eth[6]


def unparse_with_mask(uint32_t addr, uint32_t mask):
    """'A.B.C.D/LEN', or 'A.B.C.D/MASK' for a mask that is not a prefix (Click's)."""
    prefix_len = mask_prefix_len(mask)
    return f"{unparse_ip(addr)}/{unparse_ip(mask) if prefix_len < 0 else prefix_len}"


def parse_entries(element, str arg):
    """One argument 'IP/MASK [IP/MASK...] ETH' -> [(dst, mask, eth)]; raises ValueError(message)."""
    words = split_words(arg)
    prefixes = []
    eth = None
    for w in words:
        try:
            addr, mask = IPPrefix(w, element)
            prefixes.append((addr & mask, mask))
            continue
        except ArgError:
            pass
        try:
            e = EtherAddress(w, element)
        except ArgError:
            raise ValueError("expected IP/MASK ETH") from None
        if eth is not None:
            raise ValueError("more than one ETH")
        eth = e
    # A name may stand for an IP address and an Ethernet address at once.
    if eth is None:
        for w in words:
            try:
                eth = EtherAddress(w, element)
                break
            except ArgError:
                pass
    if not prefixes:
        raise ValueError("missing IP/MASK")
    if eth is None:
        raise ValueError("missing ETH")
    return [(d, m, eth) for d, m in prefixes]


def _entry(str arg, int i, element):
    try:
        return parse_entries(element, arg)
    except ValueError as err:
        raise ArgError(f"argument {i}: {err}") from None


_entries = each_argument(_entry)


def parse_table(texts, element):
    """Every argument 'IP/MASK [IP/MASK...] ETH' -> the normalized entries (ARPResponder's language)."""
    warnings = []
    entries = [e for entries in _entries(texts, element) for e in entries]
    return Warned(normalize(entries, warnings.append), warnings)


def normalize(entries, warn=None):
    """More specific prefixes first; of two entries for one prefix the later wins."""
    def compare(a, b):
        (ia, (da, ma, _)), (ib, (db, mb, _)) = a, b
        if da == db and ma == mb:
            return ib - ia
        if (da & mb) == db:
            return -1
        if (db & ma) == da:
            return 1
        return ia - ib
    order = sorted(enumerate(entries), key=functools.cmp_to_key(compare))
    out = []
    for _, e in order:
        last = out[len(out) - 1] if out else None
        if last is not None and last[0] == e[0] and last[1] == e[1]:
            if warn is not None:
                warn(f"multiple entries for {unparse_with_mask(e[0], e[1])}")
        else:
            out.append(e)
    return out


def _lookup_handler(e, param):
    try:
        a = IPAddress((param or "").strip(), e)
    except ArgError:
        raise HandlerError("expected IP address") from None
    eth = e.lookup(a)
    return unparse_ether(eth) if eth is not None else ""


def _add_handler(e, value):
    try:
        new = parse_entries(e, value)
    except ValueError as err:
        raise HandlerError(str(err)) from None
    e.set_entries(normalize(e.entries() + new))


def _remove_handler(e, value):
    try:
        addr, mask = IPPrefix(value.strip(), e)
    except ArgError:
        raise HandlerError("expected IP/MASK") from None
    m = mask
    a = addr & m
    entries = e.entries()
    for i, (d, dm, _) in enumerate(entries):
        if d == a and dm == m:
            del entries[i]
            e.set_entries(entries)
            return
    raise HandlerError(f"{unparse_with_mask(a, m)} not found")


cdef class ARPResponder(BranchElement):
    """=c
    ARPResponder(IP/MASK [IP/MASK...] ETH, IP2/MASK2 ETH2, ...)

    =s arp
    generates responses to ARP queries

    =d
    Input packets are ARP queries with their Ethernet headers. When the
    address asked for lies in one of the IP/MASK prefixes (bare addresses
    mean /32), ARPResponder answers with an ARP reply giving that prefix's
    ETH on output 0 and drops the query; other packets leave on output 1,
    if there is one, else they are dropped. Useful for a host's own
    addresses and for proxy ARP. The most specific prefix wins.

    A NAME that AddressInfo defines as both an IP address and an Ethernet
    address may stand for 'IP ETH'. Replies take the device and VLAN TCI
    annotations of the queries.

    =h table read-only: one entry per line, 'IP/MASK ETH'
    =h lookup read with parameter IP: the Ethernet address given for IP, or nothing
    =h add write-only: 'IP/MASK [IP/MASK...] ETH' adds entries
    =h remove write-only: 'IP/MASK' removes that entry

    =e
      c :: Classifier(12/0806 20/0001, ...);
      ar :: ARPResponder(18.26.4.24 18.26.7.0/24 00-00-C0-AE-67-EF);
      c[0] -> ar -> ToDevice(eth0);

    =a ARPQuerier, AddressInfo
    """
    port_count = "1/1-2"
    processing = "a/ah"
    live_reconfigure = True
    arguments = (Arg("ENTRY", parse_table, rest=True, doc="'IP/MASK [IP/MASK...] ETH', one or more"),)
    handlers = (
        Read("table", lambda e: "".join(f"{unparse_with_mask(d, m)} {unparse_ether(eth)}\n"
                                        for d, m, eth in e.entries())),
        Read("lookup", _lookup_handler, read_param=True),
        Write("add", _add_handler),
        Write("remove", _remove_handler),
    )

    cdef ResponderEntry *_v
    cdef int _n

    def __cinit__(self, *args, **kwargs):
        self._v = NULL
        self._n = 0

    def __dealloc__(self):
        free(self._v)

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        self.set_entries(values["entry"])
        return True

    def entries(self):
        """[(dst, mask, eth bytes)] in lookup order (host-order integers)."""
        cdef int i
        return [(self._v[i].dst, self._v[i].mask, bytes(self._v[i].eth[:6])) for i in range(self._n)]

    def set_entries(self, entries):
        cdef ResponderEntry *v = <ResponderEntry *> malloc(max(len(entries), 1) * sizeof(ResponderEntry))
        cdef int i
        cdef bytes eth
        if v == NULL:
            raise MemoryError("ARPResponder: no memory")
        for i, (d, m, eth) in enumerate(entries):
            v[i].dst = d
            v[i].mask = m
            memcpy(v[i].eth, <const char *> eth, 6)
        free(self._v)
        self._v = v
        self._n = len(entries)

    def lookup(self, ip):
        """The Ethernet address (bytes) answered for ip (an int), or None."""
        cdef const uint8_t *eth = self.lookup_eth(ip)
        return None if eth == NULL else bytes(eth[:6])

    cdef const uint8_t *lookup_eth(self, uint32_t a) noexcept:
        cdef int i
        for i in range(self._n):
            if (a & self._v[i].mask) == self._v[i].dst:
                return self._v[i].eth
        return NULL

    # --- the data path ---------------------------------------------------------------

    cdef Packet *classify(self, Packet *p, int *out) noexcept:
        """The reply to p on output 0 (p is dropped), or p itself for output 1."""
        cdef const unsigned char *d = pkt_data(p)
        cdef const unsigned char *a = d + ETHER_HEADER_LEN
        cdef const uint8_t *ena
        cdef Packet *q
        cdef unsigned char *r
        cdef uint32_t tpa
        out[0] = 1
        if (p.length < ARP_PACKET_LEN or rd16(d + 12) != ETHERTYPE_ARP or rd16(a) != ARPHRD_ETHER
                or rd16(a + 2) != ETHERTYPE_IP or rd16(a + 6) != ARPOP_REQUEST):
            return p
        tpa = ((<uint32_t> a[ARP_TPA] << 24) | (<uint32_t> a[ARP_TPA + 1] << 16)
               | (<uint32_t> a[ARP_TPA + 2] << 8) | a[ARP_TPA + 3])
        ena = self.lookup_eth(tpa)
        if ena == NULL:
            return p
        q = packet_make(DEFAULT_HEADROOM, NULL, ARP_PACKET_LEN, 0)
        if q == NULL:
            return p
        q.device = p.device
        memcpy(&q.anno[VLAN_TCI_ANNO_OFFSET], &p.anno[VLAN_TCI_ANNO_OFFSET], 2)
        r = pkt_data(q)
        set_mac_header(q, ETHER_HEADER_LEN)
        memcpy(r, a + ARP_SHA, 6)                   # to the asker
        memcpy(r + 6, ena, 6)
        wr16(r + 12, ETHERTYPE_ARP)
        r += ETHER_HEADER_LEN
        wr16(r, ARPHRD_ETHER)
        wr16(r + 2, ETHERTYPE_IP)
        r[4] = 6
        r[5] = 4
        wr16(r + 6, ARPOP_REPLY)
        memcpy(r + ARP_SHA, ena, 6)
        memcpy(r + ARP_SPA, a + ARP_TPA, 4)
        memcpy(r + ARP_THA, a + ARP_SHA, 6)
        memcpy(r + ARP_TPA, a + ARP_SPA, 4)
        packet_kill(p)
        out[0] = 0
        return q
