# cython: language_level=3
"""IPClassifier: IPFilter with one pattern per output."""
from clickpy.elements.ip.ip_filter cimport IPFilter

from clickpy.lang.confstring import join_args, split_args
from clickpy.runtime.args import Arg, language, parse_arguments
from clickpy.runtime.handlers import Handler, HandlerError

from clickpy.elements.ip.ip_filter_language import compile_rules


def _pattern_handler(int i):
    def read(e):
        conf = split_args(e.config)
        return conf[i] if i < len(conf) else ""

    def write(e, value):
        from clickpy.runtime.error_handler import ElementErrors

        conf = split_args(e.config)
        while len(conf) <= i:
            conf.append("")
        conf[i] = value.strip()
        errh = ElementErrors()
        e.configure(conf, errh)
        if errh.nerrors:
            raise HandlerError("\n".join(text for kind, text in errh.items if kind == "error"))
        e.config = join_args(conf)

    return Handler(f"pattern{i}", read=read, write=write, calm=True)


def _patterns(texts, element, errh):
    """IPClassifier's arguments, one pattern per output -> the CompiledRules."""
    if len(texts) != element.noutputs:
        return errh.error(f"need {element.noutputs} arguments, one per output port")
    result = compile_rules(texts, element.noutputs, element, errh, classifier=True)
    router = element.router
    if result is not None and (router is None or not getattr(router, "initialized", False)):
        result.program.warn_unused_outputs(element.noutputs, errh)
    return result


cdef class IPClassifier(IPFilter):
    """=c
    IPClassifier(PATTERN_1, ..., PATTERN_N)

    =s ip
    classifies IP packets by contents

    =d
    Has N outputs, one per pattern, and sends each IP packet to the output
    of the first pattern it matches; packets that match none are dropped.
    Input packets need their IP header annotation (CheckIPHeader and
    MarkIPHeader set it). The patterns are tcpdump-like; their primitives:

    ip proto PROTO: the IP protocol is PROTO (a number or a name: icmp,
    igmp, ipip, tcp, udp, ...; 'tcpudp' is TCP or UDP).

    [SRCORDST] host ADDR: the source and/or destination address is ADDR.
    SRCORDST is 'src', 'dst', 'src or dst' (the default) or 'src and dst'.

    [SRCORDST] net NET: the address is in NET ('ADDR/BITS' or 'ADDR mask
    MASK').

    [SRCORDST] [tcp | udp] port PORT: the TCP or UDP port is PORT (a number
    or a name such as www, ssh, domain; PortInfo names work too). Without
    'tcp' or 'udp', either protocol.

    ip vers V, ip hl HL, ip id ID, ip tos TOS, ip dscp DSCP, ip ttl TTL, ip
    len LEN: the IP header field has that value. ip ect: ECN capable
    transport; ip ce: congestion experienced. ip frag: a fragment (more
    fragments set or a nonzero offset); ip unfrag: not a fragment.

    tcp opt FLAG (or tcp flags FLAG): the TCP flag FLAG (syn, fin, ack, rst,
    psh, urg) is set. tcp win WIN: the TCP window is WIN.

    icmp type TYPE: the ICMP type is TYPE (a number or a name: echo,
    echo-reply, unreachable, redirect, timeexceeded, ...).

    ip[POS:LEN] VALUE: the LEN bytes (1-4, within one aligned 4-byte word)
    at byte POS of the IP header equal VALUE; ip[POS] means ip[POS:1].
    transp[POS:LEN], tcp[...], udp[...], icmp[...]: the same in the
    transport header.

    [SRCORDST] ether host ETH: the source and/or destination Ethernet
    address is ETH (the MAC header annotation must be set).

    true, false: every packet, no packet.

    Primitives combine with 'and', 'or', 'not' (or '&&', '||', '!'), with
    parentheses, and with 'C ? A : B'; two primitives side by side mean
    'and'. 'not' binds tightest, then 'and', then 'or', then '?:'.

    A value may follow a relation: '==' (or '=', the default) and '!=' for
    every primitive but 'tcp opt', and '<', '>', '<=', '>=' for numbers. A
    mask may come before it: 'DIRECTIVE & MASK [OP] VALUE', as in 'src tcp
    port & 0xFF00 == 0x1000'. 'port != 5' and 'icmp type != 3' match only
    TCP/UDP (or ICMP) packets, unlike 'not port 5'. Ports, ICMP types, TCP
    flags and transport fields match first fragments only.

    Much can be left out: 'tcp' means 'ip proto tcp', 'www' means 'port
    www', 'syn' means 'tcp opt syn', '10.0.0.0/8' means 'net 10.0.0.0/8',
    'unfrag' means 'ip unfrag'; 'src port 80 or 81' repeats 'src port' for
    81. A pattern that is '-', 'any', 'all' or empty matches every packet.

    A primitive whose bytes are not in a (short) packet is false; the
    negation of a parenthesized expression or of a primitive ('not ...')
    flips that, as in Click. A warning names outputs no packet can reach.
    Errors name the pattern (counted from 0), its text and the column of
    the word that is wrong; names that mean nothing here are errors.

    =h specialized read-only
    "true" when the walk runs straight-line C made for this program by the
    configuration's specialised module (clickpy run --specialize), "false"
    on the generic walk.

    =h program read-only
    The decision program, in Click's format (see IPFilter).

    =h pattern0 read/write
    Pattern 0's text; writing it reconfigures the element. There is one such
    handler per output.

    =e
      IPClassifier(10.0.0.0/24 and syn,
                   10.0.0.0/24 and fin ack,
                   10.0.0.0/24 and tcp,
                   -);

    Output 0 gets TCP SYNs from net 10.0.0.x, output 1 their FIN+ACK
    packets, output 2 their other TCP packets, output 3 everything else.

    =a IPFilter, Classifier, CheckIPHeader, MarkIPHeader, AddressInfo, PortInfo
    """
    port_count = "1/-"
    processing = "h"
    arguments = (Arg("PATTERN", language(_patterns), rest=True, doc="one per output port"),)

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        self.extra_handlers = tuple(_pattern_handler(i) for i in range(self.noutputs))
        return self._finish_configure(values["pattern"])
