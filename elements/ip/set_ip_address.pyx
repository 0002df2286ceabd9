# cython: language_level=3
"""SetIPAddress: sets the destination IP address annotation to a fixed address."""
from libc.string cimport memcpy

from clickpy.runtime.element cimport SimpleElement
from clickpy.runtime.packet cimport DST_IP_ANNO_OFFSET, Packet

from clickpy.runtime.args import Annotation, Arg, ArgError, IPAddress, ip_packed, unparse_ip
from clickpy.runtime.handlers import HandlerError, ReadWrite


def _write_addr(e, value):
    try:
        e.set_addr(IPAddress(value, e))
    except ArgError as err:
        raise HandlerError(f"addr: {err}") from None


cdef class SetIPAddress(SimpleElement):
    """=c
    SetIPAddress(ADDR [, keyword ANNO])

    =s ip
    sets destination IP address annotations

    =d
    Sets the destination IP address annotation of each packet to ADDR (or
    the 4-byte annotation named by ANNO).

    =h addr read/write
    The address.

    =a StoreIPAddress, GetIPAddress
    """
    arguments = (
        Arg("IPADDR", IPAddress, None, positional=True, mandatory=True, attr="addr"),
        Arg("ANNO", Annotation(4), DST_IP_ANNO_OFFSET),
    )
    handlers = (ReadWrite("addr", lambda e: unparse_ip(e.addr), _write_addr),)
    live_reconfigure = True

    cdef public object addr     # an int (clickpy.runtime.args' IPv4 form)
    cdef public int anno
    cdef unsigned char _raw[4]

    def configure(self, conf, errh):
        from clickpy.runtime.args import apply_arguments
        if not apply_arguments(self, conf, errh):
            return False
        self.set_addr(self.addr)
        return True

    def set_addr(self, addr):
        cdef bytes b = ip_packed(addr)
        memcpy(self._raw, <const char *> b, 4)
        self.addr = addr

    cdef Packet *simple_action(self, Packet *p) noexcept:
        memcpy(&p.anno[self.anno], self._raw, 4)
        return p
