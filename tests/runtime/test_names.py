"""One name database (clickpy.runtime.names) with Click's numbers, and every reader of protocol, ICMP
and annotation names reads it."""
import re
from pathlib import Path

import pytest

from clickpy.runtime import names
from clickpy.runtime.args import Annotation, ArgError

REPO = Path(__file__).resolve().parents[2]


def test_pseudo_protocols_have_clicks_numbers():
    # clicknet/ip.h: IP_PROTO_TCP_OR_UDP 256, IP_PROTO_NONE 257, IP_PROTO_TRANSP 258, IP_PROTO_PAYLOAD 259.
    assert (names.IP_PROTO_TCP_OR_UDP, names.IP_PROTO_NONE, names.IP_PROTO_TRANSP, names.IP_PROTO_PAYLOAD) \
        == (256, 257, 258, 259)
    assert names.IP_PROTOS == {
        "dccp": 33, "gre": 47, "icmp": 1, "igmp": 2, "ipip": 4, "payload": 259, "sctp": 132,
        "tcp": 6, "tcpudp": 256, "transp": 258, "udp": 17,
    }


def test_icmp_names_have_clicks_numbers():
    assert names.ICMP_TYPES["echo-reply"] == 0 and names.ICMP_TYPES["unreachable"] == 3
    assert names.ICMP_TYPES["timeexceeded"] == 11 and names.ICMP_TYPES["parameterproblem"] == 12
    assert names.ICMP_CODES[3]["needfrag"] == 4 and names.ICMP_CODES[3]["filterprohibited"] == 13
    assert names.ICMP_CODES[5]["tosnet"] == 2 and names.ICMP_CODES[11]["reassembly"] == 1
    assert names.ICMP_CODES[12]["missingopt"] == 1


def test_numbers_back_to_names():
    assert names.ip_proto_name(6) == "tcp" and names.ip_proto_name(258) == "transp"
    assert names.ip_proto_name(200) is None
    assert names.icmp_type_name(8) == "echo" and names.icmp_code_name(3, 4) == "needfrag"
    assert names.icmp_code_name(8, 0) is None


def test_annotation_argument_reads_the_table():
    assert Annotation(1)("PAINT") == names.ANNOTATIONS["PAINT"][0]
    assert Annotation(4)("AGGREGATE") == 20
    with pytest.raises(ArgError):
        Annotation(4)("PAINT")          # a 1-byte annotation where 4 bytes are wanted


def test_ipfilter_and_ipsummary_agree_with_the_table():
    from clickpy.elements.analysis import ipsummary_format
    from clickpy.elements.ip import ip_filter_language

    # IPFilter prints its pseudo-protocols by the table's numbers.
    assert ip_filter_language.unparse_transp_proto(names.IP_PROTOS["transp"]) == "transp"
    assert ip_filter_language.unparse_transp_proto(names.IP_PROTOS["payload"]) == "payload"
    assert ip_filter_language.unparse_transp_proto(names.IP_PROTOS["tcpudp"]) == "tcpudp"
    # IPSummaryDump reads protocol and ICMP names from the table.
    assert ipsummary_format.parse_ip_proto("gre") == 47
    with pytest.raises(Exception):
        ipsummary_format.parse_ip_proto("transp")   # not a protocol a packet can carry


def test_port_info_protocol_names_are_the_tables():
    from clickpy.elements.standard import port_info

    assert port_info.lookup_port("www", "tcp") == 80
    assert port_info.lookup_port("www", names.IP_PROTO_UDP) == 80


# The name tables were once copied into several modules and drifted ('transp' was 257 in one).
# Their literal entries live in names.py only.
_TABLE_ENTRIES = [r'"transp"\s*:', r'"echo-reply"\s*:', r'"needfrag"\s*:', r'"FIRST_TIMESTAMP"\s*:',
                  r'"netbios-ssn"\s*:']


def test_no_other_module_keeps_a_copy_of_a_name_table():
    copies = []
    for path in list((REPO / "elements").rglob("*.py*")) + list((REPO / "clickpy").rglob("*.py*")):
        if path.suffix not in (".py", ".pyx", ".pxd") or path.name == "names.py":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        copies += [f"{path.relative_to(REPO)}: {pattern}" for pattern in _TABLE_ENTRIES if re.search(pattern, text)]
    assert copies == []


def test_port_names_resolve_one_way_for_arguments_and_ipfilter():
    from support import build_router

    r = build_router("PortInfo(web 8080/udp); Idle -> u :: UDPIPEncap(1.0.0.1, web, 2.0.0.2, dns)"
                     " -> f :: IPFilter(allow udp src port web) -> Discard")
    assert (r.read("u.sport"), r.read("u.dport")) == ("8080", "53")
    assert "512/1f900000%ffff0000" in r.read("f.program")     # source port 0x1f90 = 8080
