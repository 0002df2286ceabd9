"""The pcap ("tcpdump -w") file format, as data: magic numbers, link types, headers.

A pcap file is a 24-byte file header followed by records, each a 16-byte
record header (seconds, microseconds or nanoseconds, captured length,
original length) and the captured bytes. The byte order of the whole file
is the writer's; the magic number tells which. FromDump and ToDump do the
per-packet work in Cython; this module holds what they, the tests and the
tools share.
"""
from __future__ import annotations

import struct

MAGIC = 0xA1B2C3D4             # microsecond timestamps
MAGIC_NANO = 0xA1B23C4D        # nanosecond timestamps
MAGIC_MODIFIED = 0xA1B2CD34    # Alexey Kuznetsov's patched libpcap: 8 more header bytes
VERSION_MAJOR = 2
VERSION_MINOR = 4
FILE_HEADER_SIZE = 24
RECORD_HEADER_SIZE = 16
MODIFIED_EXTRA = 8             # extra record-header bytes after MAGIC_MODIFIED

# Link types (DLT_* values as they appear in files).
DLT_NULL = 0
DLT_EN10MB = 1
DLT_PPP = 9
DLT_FDDI = 10
DLT_PPP_HDLC = 50
DLT_ATM_RFC1483 = 100
DLT_RAW = 101
DLT_HOST_RAW = 12              # raw IP on some BSDs; read as DLT_RAW
DLT_C_HDLC = 104
DLT_IEEE802_11 = 105
DLT_LINUX_SLL = 113
DLT_PRISM_HEADER = 119
DLT_AIRONET_HEADER = 120
DLT_SUNATM = 123
DLT_IEEE802_11_RADIO = 127

# Click's names for link types (ENCAP arguments and 'encap' handlers), first name wins.
DLT_NAMES = (
    ("NULL", DLT_NULL), ("IP", DLT_RAW), ("ETHER", DLT_EN10MB), ("FDDI", DLT_FDDI),
    ("ATM", DLT_ATM_RFC1483), ("RFC1483", DLT_ATM_RFC1483), ("ATM_RFC1483", DLT_ATM_RFC1483),
    ("802_11", DLT_IEEE802_11), ("802.11", DLT_IEEE802_11), ("802_11_RADIO", DLT_IEEE802_11_RADIO),
    ("802.11_RADIO", DLT_IEEE802_11_RADIO), ("SLL", DLT_LINUX_SLL), ("AIRONET", DLT_AIRONET_HEADER),
    ("HDLC", DLT_C_HDLC), ("PPP_HDLC", DLT_PPP_HDLC), ("PPP", DLT_PPP), ("SUNATM", DLT_SUNATM),
    ("PRISM", DLT_PRISM_HEADER),
)

# Link types whose IP header FromDump's FORCE_IP can find.
FORCE_IPABLE = frozenset({DLT_RAW, DLT_HOST_RAW, DLT_EN10MB, DLT_SUNATM, DLT_FDDI, DLT_ATM_RFC1483,
                          DLT_LINUX_SLL, DLT_C_HDLC, DLT_IEEE802_11, DLT_PRISM_HEADER, DLT_PPP_HDLC,
                          DLT_PPP, DLT_NULL, DLT_IEEE802_11_RADIO})


def parse_dlt(text: str) -> int:
    """A link type from its Click name or '#N'; -1 if it is neither."""
    for name, dlt in DLT_NAMES:
        if text == name:
            return dlt
    if len(text) >= 2 and text[0] == "#" and text[1:].isdigit():
        v = int(text[1:])
        if v < 0x7FFFFFFF:
            return v
    return -1


def unparse_dlt(dlt: int) -> str:
    for name, d in DLT_NAMES:
        if d == dlt:
            return name
    return "<none>" if dlt < 0 else f"#{dlt}"


def canonical_dlt(dlt: int) -> int:
    return DLT_RAW if dlt == DLT_HOST_RAW else dlt


def file_header(linktype: int, snaplen: int = 65535, nano: bool = False, byteorder: str = "<") -> bytes:
    """A pcap file header."""
    return struct.pack(byteorder + "IHHiIII", MAGIC_NANO if nano else MAGIC, VERSION_MAJOR, VERSION_MINOR,
                       0, 0, snaplen & 0xFFFFFFFF, linktype)


def record(ts_ns: int, data: bytes, wire_len: int | None = None, nano: bool = False, byteorder: str = "<") -> bytes:
    """One pcap record: header and captured bytes."""
    sec, sub = divmod(ts_ns, 1_000_000_000)
    if not nano:
        sub //= 1000
    return struct.pack(byteorder + "IIII", sec & 0xFFFFFFFF, sub, len(data),
                       len(data) if wire_len is None else wire_len) + data


def read_records(blob: bytes):
    """Parse a whole pcap file in memory: (linktype, nano, [(ts_ns, data, wire_len), ...]).

    A reference reader for tests and tools; raises ValueError on a bad file.
    """
    if len(blob) < FILE_HEADER_SIZE:
        raise ValueError("not a tcpdump file (too short)")
    for bo in ("<", ">"):
        magic = struct.unpack_from(bo + "I", blob)[0]
        if magic in (MAGIC, MAGIC_NANO, MAGIC_MODIFIED):
            break
    else:
        raise ValueError("not a tcpdump file (bad magic number)")
    _, major, minor, _, _, _, linktype = struct.unpack_from(bo + "IHHiIII", blob)
    nano = magic == MAGIC_NANO
    extra = MODIFIED_EXTRA if magic == MAGIC_MODIFIED else 0
    pos = FILE_HEADER_SIZE
    out = []
    while pos + RECORD_HEADER_SIZE <= len(blob):
        sec, sub, caplen, wire = struct.unpack_from(bo + "IIII", blob, pos)
        pos += RECORD_HEADER_SIZE + extra
        if pos + caplen > len(blob):
            raise ValueError(f"truncated record at offset {pos - RECORD_HEADER_SIZE - extra}")
        out.append((sec * 1_000_000_000 + (sub if nano else sub * 1000), blob[pos:pos + caplen], wire))
        pos += caplen
    if pos != len(blob):
        raise ValueError(f"truncated record header at offset {pos}")
    return linktype, nano, out
