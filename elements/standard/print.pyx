# cython: language_level=3
"""Print: prints a line per packet (length, contents in hex) to standard error."""
import sys

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport PACKET_ANNO_SIZE, Packet, pkt_data, pkt_headroom, pkt_tailroom

from clickpy.runtime.args import Arg, ArgError, Bool, Int, String, Word, unparse_timestamp
from clickpy.runtime.handlers import HandlerError, ReadWrite


def _contents(text, element=None):
    v = Word(text, element).upper()
    if v not in ("NONE", "HEX", "ASCII", "FALSE", "TRUE"):
        raise ArgError("expected NONE, HEX or ASCII")
    return {"FALSE": "NONE", "TRUE": "HEX"}.get(v, v)


def _write_active(e, value):
    try:
        e.active = Bool(value)
    except ArgError as err:
        raise HandlerError(f"active: {err}") from None


cdef class Print(SimpleElement):
    """=c
    Print([LABEL, MAXLENGTH, keywords CONTENTS, TIMESTAMP, PRINTANNO, HEADROOM, ACTIVE])

    =s debugging
    prints packet contents

    =d
    For each packet, prints a line to standard error: LABEL, the length, and
    up to MAXLENGTH bytes of data (default 24; negative for all) in HEX (or
    ASCII, or NONE). TIMESTAMP prints the timestamp annotation, PRINTANNO the
    48 annotation bytes, HEADROOM the headroom and tailroom.

    =h active read/write
    """
    arguments = (
        Arg("LABEL", String, "", positional=True),
        Arg("MAXLENGTH", Int, 24, positional=True),
        Arg("CONTENTS", _contents, "HEX"),
        Arg("TIMESTAMP", Bool, False),
        Arg("PRINTANNO", Bool, False),
        Arg("CPU", Bool, False),
        Arg("HEADROOM", Bool, False),
        Arg("ACTIVE", Bool, True),
    )
    handlers = (ReadWrite("active", lambda e: e.active, _write_active),)

    cdef public str label
    cdef public int maxlength
    cdef public str contents
    cdef public bint timestamp
    cdef public bint printanno
    cdef public bint cpu
    cdef public bint headroom
    cdef public bint active

    cdef Packet *simple_action(self, Packet *p) noexcept:
        if self.active:
            try:
                sys.stderr.write(self.line(p) + "\n")
            except BaseException:
                pass
        return p

    cdef str line(self, Packet *p):
        cdef list out = []
        cdef str sep = ""
        cdef int n = p.length
        cdef int i
        cdef const unsigned char *d = pkt_data(p)
        if self.label:
            out.append(self.label)
            sep = ": "
        if self.timestamp:
            out.append(sep + unparse_timestamp(p.timestamp))
            sep = ": "
        out.append(f"{sep}{p.length:4d}")
        if self.headroom:
            out.append(f" (h{pkt_headroom(p)} t{pkt_tailroom(p)})")
        if self.printanno:
            out.append(" | " + bytes(p.anno[:PACKET_ANNO_SIZE]).hex())
        if self.contents != "NONE":
            if 0 <= self.maxlength < n:
                n = self.maxlength
            if n > 0:
                data = (<const char *> d)[:n]
                out.append(" | ")
                if self.contents == "HEX":
                    h = data.hex()
                    out.append(" ".join(h[i:i + 8] for i in range(0, len(h), 8)))
                else:
                    chars = []
                    for i in range(n):
                        if i % 8 == 0:
                            chars.append(" ")
                        chars.append(chr(data[i]) if 32 <= data[i] <= 126 else ".")
                    out.append("".join(chars))
        return "".join(out)
