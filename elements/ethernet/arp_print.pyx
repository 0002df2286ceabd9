# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""ARPPrint: prints ARP packets the way tcpdump does."""
import sys

from libc.stdint cimport int64_t, uint8_t, uint16_t

from clickpy.elements.ethernet.arp_table cimport (
    ARP_ETHER_LEN, ARP_HEADER_LEN, ARP_SHA, ARP_SPA, ARP_THA, ARP_TPA, ARPHRD_ETHER, ARPOP_INVREPLY,
    ARPOP_INVREQUEST, ARPOP_REPLY, ARPOP_REQUEST, ARPOP_REVREPLY, ARPOP_REVREQUEST, ETHERTYPE_IP,
    ETHERTYPE_TRAIL)
from clickpy.elements.ethernet.ether_header cimport ETHER_HEADER_LEN, rd16
from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport Packet, pkt_data

from clickpy.elements.ethernet.ether_config import unparse_ether
from clickpy.runtime.args import Arg, ArgError, Bool, Filename, String
from clickpy.runtime.handlers import HandlerError, ReadWrite


def format_timestamp(int64_t ns):
    """Click's Timestamp text: microseconds when exact, else nanoseconds."""
    sign = ""
    if ns < 0:
        sign = "-"
        ns = -ns
    sec, sub = divmod(ns, 1000000000)
    if sub % 1000 == 0:
        return f"{sign}{sec}.{sub // 1000:06d}"
    return f"{sign}{sec}.{sub:09d}"


cdef inline str ip4(const unsigned char *a):
    return f"{a[0]}.{a[1]}.{a[2]}.{a[3]}"


cdef inline str eth6(const unsigned char *a):
    return unparse_ether(bytes(a[:6]))


def _write_active(e, value):
    try:
        e.active = Bool(value)
    except ArgError as err:
        raise HandlerError(f"active: {err}") from None


cdef class ARPPrint(SimpleElement):
    """=c
    ARPPrint([TAG, keywords TIMESTAMP, ETHER, OUTFILE, ACTIVE])

    =s arp
    pretty-prints ARP packets a la tcpdump

    =d
    Prints a line for each ARP packet (the network header annotation must
    point at the ARP header; other packets pass silently), preceded by TAG:
    'arp who-has 1.0.0.3 tell 1.0.10.10', 'arp reply 1.0.0.1 is-at
    02-01-00-00-01-0D', and the RARP and InARP forms. TIMESTAMP (default
    true) prints the timestamp annotation first, ETHER (default false) the
    Ethernet source and destination. Lines go to standard error, or to the
    file OUTFILE. ACTIVE false prints nothing.

    =h active read/write: the ACTIVE setting

    =a Print, IPPrint
    """
    port_count = "1/1"
    processing = "a"
    arguments = (
        Arg("LABEL", String, "", positional=True),
        Arg("TIMESTAMP", Bool, True),
        Arg("ETHER", Bool, False),
        Arg("ACTIVE", Bool, True),
        Arg("OUTFILE", Filename, None),
    )
    handlers = (ReadWrite("active", lambda e: e.active, _write_active),)

    cdef public str label
    cdef public bint timestamp
    cdef public bint ether
    cdef public bint active
    cdef public object outfile
    cdef object _out

    def initialize(self, errh):
        self._out = None
        if self.outfile:
            try:
                self._out = open(self.outfile, "w")
            except OSError as err:
                errh.error(f"{self.outfile}: {err.strerror}")

    def cleanup(self, stage):
        if self._out is not None:
            self._out.close()
            self._out = None

    cdef Packet *simple_action(self, Packet *p) noexcept:
        if not self.active or p.network < 0:
            return p
        try:
            text = self.line(p)
            if text is not None:
                if self._out is not None:
                    self._out.write(text + "\n")
                else:
                    sys.stderr.write(text + "\n")
        except BaseException:
            pass
        return p

    cdef object line(self, Packet *p):
        """The text for p, or None where Click prints nothing."""
        cdef list out = []
        cdef const unsigned char *x
        cdef const unsigned char *ap
        cdef int nlen = <int> (p.data + p.length) - p.network
        cdef int mac
        cdef uint16_t hrd, pro, op
        cdef uint8_t hln, pln
        cdef int k
        if self.label:
            out.append(self.label + ": ")
        if self.timestamp:
            out.append(format_timestamp(p.timestamp) + ": ")
        if self.ether:
            mac = p.mac if p.mac >= 0 else <int> p.data
            if mac + ETHER_HEADER_LEN <= p.network and mac + ETHER_HEADER_LEN <= <int> (p.data + p.length):
                x = p.buffer + mac
                out.append(f"{eth6(x + 6)} > {eth6(x)}: ")
        if nlen < ARP_ETHER_LEN:
            # Click checks for the 8-byte fixed part only; the addresses
            # need the whole 28 bytes, so anything shorter counts as truncated.
            out.append(f"truncated-arp ({nlen})")
        else:
            ap = p.buffer + p.network
            hrd = rd16(ap)
            pro = rd16(ap + 2)
            hln = ap[4]
            pln = ap[5]
            op = rd16(ap + 6)
            if (pro != ETHERTYPE_IP and pro != ETHERTYPE_TRAIL) or pln != 4 or hln == 0:
                # Click builds this line but never prints it.
                return None
            if pro == ETHERTYPE_TRAIL:
                out.append("trailer-")
            if op == ARPOP_REQUEST:
                out.append(f"arp who-has {ip4(ap + ARP_TPA)}")
                for k in range(min(hln, 6)):
                    if ap[ARP_THA + k]:
                        out.append(f" ({eth6(ap + ARP_THA)})")
                        break
                out.append(f" tell {ip4(ap + ARP_SPA)}")
            elif op == ARPOP_REPLY:
                out.append(f"arp reply {ip4(ap + ARP_SPA)} is-at {eth6(ap + ARP_SHA)}")
            elif op == ARPOP_REVREQUEST:
                out.append(f"rarp who-is {eth6(ap + ARP_THA)} tell {eth6(ap + ARP_SHA)}")
            elif op == ARPOP_REVREPLY:
                out.append(f"rarp reply {eth6(ap + ARP_THA)} at {ip4(ap + ARP_TPA)}")
            elif op == ARPOP_INVREQUEST:
                out.append(f"invarp who-is {eth6(ap + ARP_THA)} tell {eth6(ap + ARP_SHA)}")
            elif op == ARPOP_INVREPLY:
                out.append(f"invarp reply {eth6(ap + ARP_THA)} at {ip4(ap + ARP_TPA)}")
            else:
                out.append(f"arp-#{op}")
            if hrd != ARPHRD_ETHER:
                out.append(f"hardware #{hrd}")
        return "".join(out)
