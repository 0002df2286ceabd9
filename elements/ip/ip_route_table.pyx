# cython: language_level=3
"""IPRouteTable: what every IP route lookup element shares.

Click's IPRouteTable is not an element of its own but the interface its
route lookup elements implement: the route syntax ``ADDR/MASK [GW] OUT``,
configuration as a list of routes, the forwarding rule (look up the
destination IP annotation, replace it with the route's gateway if there is
one, push the packet to the route's output), and the handlers ``table``,
``lookup``, ``add``, ``set``, ``remove`` and ``ctrl`` with their exact
messages. Subclasses store routes their own way and provide, on the slow
path, ``add_route``, ``remove_route`` and ``dump_routes`` and, on the data
path, the ``lookup_route`` cdef method.

Routes on the slow path are ``IPRoute`` objects with host-order integer
addresses; the data path never sees them.
"""
import sys

from libc.stdint cimport int32_t, uint32_t

from clickpy.runtime.element cimport Element, OutputRun, run_add, run_flush, run_start
from clickpy.runtime.packet cimport Batch, Packet

from clickpy.lang.confstring import shift_word, split_words, uncomment
from clickpy.runtime.args import (
    Arg, ArgError, Int, IPAddress, IPPrefix, each_argument, mask_prefix_len, parse_arguments, parse_ip,
    prefix_mask, unparse_ip,
)
from clickpy.runtime.handlers import HandlerError, Read, Write

# Return codes of add_route / remove_route, as Click's negative errnos.
EEXIST = -17
ENOENT = -2
ENOMEM = -12
EINVAL = -22

CMD_ADD, CMD_SET, CMD_REMOVE = 0, 1, 2


# --- addresses and masks ------------------------------------------------------------

def mask_unparse(uint32_t m):
    cdef int n = mask_prefix_len(m)
    return str(n) if n >= 0 else unparse_ip(m)


def parse_ip_address(str text, element=None):
    """An IP address (clickpy.runtime.args' IPAddress) as an integer, or None."""
    try:
        return IPAddress(text, element)
    except ArgError:
        return None


def parse_ip_prefix(str text, element=None):
    """An IP prefix or bare address (clickpy.runtime.args' IPPrefix) as (addr, mask), or None."""
    try:
        return IPPrefix(text, element)
    except ArgError:
        return None


# --- routes ------------------------------------------------------------------------------

class IPRoute:
    """One route: destination prefix, gateway (0 for none), output port."""
    __slots__ = ("addr", "mask", "gw", "port", "extra")

    DEAD = -0x80000000

    def __init__(self, addr=0, mask=0, gw=0, port=-1, extra=0):
        self.addr = addr
        self.mask = mask
        self.gw = gw
        self.port = port
        self.extra = extra

    def copy(self):
        return IPRoute(self.addr, self.mask, self.gw, self.port, self.extra)

    def real(self):
        return self.port != IPRoute.DEAD

    def match(self, other):
        """other is this route; the gateway and port count unless this port is negative."""
        return (self.addr == other.addr and self.mask == other.mask
                and (self.port < 0 or (self.gw == other.gw and self.port == other.port)))

    def unparse_addr(self):
        return f"{unparse_ip(self.addr)}/{mask_unparse(self.mask)}"

    def unparse(self, tabs=False):
        """Click's format: 'ADDR/MASK GW PORT', or tab-aligned columns for tables."""
        if not tabs:
            gw = unparse_ip(self.gw) if self.gw else "-"
            return f"{self.unparse_addr()} {gw} {self.port if self.real() else -1}"
        a = self.unparse_addr() + "\t"
        if len(a) < 17:
            a += "\t"
        g = (unparse_ip(self.gw) if self.gw else "-") + "\t"
        if len(g) < 9:
            g += "\t"
        return a + g + str(self.port if self.real() else -1)

    def __str__(self):
        return self.unparse()

    def __repr__(self):
        return f"IPRoute({self.unparse()!r})"


def parse_route(str text, bint remove=False, element=None):
    """Parse 'ADDR/MASK [GW] OUT' (Click's cp_ip_route); None if malformed.

    For removals the output may be left out (the route's port is then -1).
    """
    # Fast path for the plain 'A.B.C.D/LEN [A.B.C.D|-] PORT' of big tables;
    # anything else (names, short or dotted masks, quotes) takes the full parser.
    cdef long plen
    gw = 0
    words = text.split()
    if 2 <= len(words) <= 3:
        addr_text, slash, plen_text = words[0].partition("/")
        port_text = words[len(words) - 1]
        if (slash and plen_text.isdigit() and plen_text.isascii() and len(plen_text) <= 2
                and port_text.isdigit() and port_text.isascii() and len(port_text) <= 9
                and (len(port_text) == 1 or port_text[0] != "0")):
            addr = parse_ip(addr_text)
            plen = int(plen_text)
            if len(words) == 3 and words[1] != "-":
                gw = parse_ip(words[1])
            if addr is not None and gw is not None and plen <= 32:
                mask = prefix_mask(plen)
                return IPRoute(addr & mask, mask, gw, int(port_text))
    return _parse_route_slow(text, remove, element)


def _parse_route_slow(str text, bint remove, element):
    words = split_words(text)
    if not words:
        return None
    pm = parse_ip_prefix(words[0], element)
    if pm is None:
        return None
    route = IPRoute(pm[0] & pm[1], pm[1], 0, -1)
    i = 1
    word = words[i] if i < len(words) else ""
    if word == "-":
        i += 1
    elif word:
        gw = parse_ip_address(word, element)
        if gw is not None:
            route.gw = gw
            i += 1
    word = words[i] if i < len(words) else ""
    if word:
        try:
            route.port = Int(word)
        except ArgError:
            return None
    elif not remove:
        return None
    if i + 1 < len(words):
        return None
    return route


def _configured_route(str text, int i, element):
    """One of a route table's arguments, 'ADDR/MASK [GATEWAY] OUTPUT' -> Route."""
    route = parse_route(text, False, element)
    if route is None:
        raise ArgError(f"argument {i + 1} should be 'ADDR/MASK [GATEWAY] OUTPUT'")
    if route.port < 0 or route.port >= element.noutputs:
        raise ArgError(f"argument {i + 1} bad OUTPUT")
    return route


# --- handler plumbing ----------------------------------------------------------------------

class CollectErrors:
    """An error handler for handler writes: collects messages."""

    def __init__(self):
        self.messages = []

    def error(self, message):
        self.messages.append(str(message))
        return EINVAL

    def warning(self, message):
        return 0

    def message(self, message):
        return 0

    @property
    def nerrors(self):
        return len(self.messages)


def _run(fn):
    def write(e, value):
        errh = CollectErrors()
        r = fn(e, value, errh)
        if r < 0 or errh.nerrors:
            raise HandlerError("\n".join(errh.messages) or "failed")
    return write


def _lookup_handler(e, param):
    a = parse_ip_address((param or "").strip(), e)
    if a is None:
        raise HandlerError("expected IP address")
    port, gw = e.lookup(a)
    return f"{port} {unparse_ip(gw)}" if gw else str(port)


_write_add = _run(lambda e, v, errh: e.run_command(CMD_ADD, v, None, errh))
_write_set = _run(lambda e, v, errh: e.run_command(CMD_SET, v, None, errh))
_write_remove = _run(lambda e, v, errh: e.run_command(CMD_REMOVE, v, None, errh))
_write_ctrl = _run(lambda e, v, errh: e.ctrl(v, errh))

# Handlers of a full routing table; subclasses pick from these.
TABLE_HANDLER = Read("table", lambda e: e.dump_routes(), expensive=True)
LOOKUP_HANDLER = Read("lookup", _lookup_handler, read_param=True)
UPDATE_HANDLERS = (
    Write("add", _write_add),
    Write("set", _write_set),
    Write("remove", _write_remove),
    Write("ctrl", _write_ctrl),
)

# Click complains about the first few unroutable packets, per lookup routine.
_complaints = {}


cdef class IPRouteTable(Element):
    """=c
    IPRouteTable

    =s iproute
    IP routing table superclass

    =d
    Not an element: the interface of LinearIPLookup, StaticIPLookup,
    RadixIPLookup and the other route lookup elements. Configuration is a
    list of routes 'ADDR/MASK [GW] OUT'; a packet's destination IP annotation
    is looked up by longest prefix, replaced by the route's gateway when it
    has one, and the packet leaves on the route's output. Packets without a
    route are dropped (the first five are reported).

    =h table read-only: the routes, one a line
    =h lookup read with parameter ADDR: 'OUT GW' or 'OUT' for that address, -1 if none
    =h add write-only: 'ADDR/MASK [GW] OUT'; fails if the prefix has a route
    =h set write-only: 'ADDR/MASK [GW] OUT', replacing any route for the prefix
    =h remove write-only: 'ADDR/MASK [GW OUT]'
    =h ctrl write-only: lines of 'add ...', 'set ...', 'remove ...', done all or nothing
    """
    abstract = True
    port_count = "1/-"
    processing = "h"
    arguments = (Arg("ROUTE", each_argument(_configured_route), rest=True, doc="'ADDR/MASK [GATEWAY] OUTPUT', any number"),)
    handlers = UPDATE_HANDLERS + (TABLE_HANDLER, LOOKUP_HANDLER)
    # Which routine's name prefixes the 'no route' complaint (Click's).
    no_route_label = "IPRouteTable"

    # --- configuration ------------------------------------------------------------

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        eexist = 0
        ok = True
        for route in values["route"]:
            r, _ = self.add_route(route, False, errh)
            if r == EEXIST:
                eexist += 1
            elif r < 0:
                ok = False
        if eexist:
            routes = "routes" if eexist > 1 else "route"
            errh.warning(f"{eexist} {routes} replaced by later versions")
        return ok

    # --- the interface subclasses implement (slow path) ---------------------------

    def add_route(self, route, bint set, errh):
        """Add route; with set, replace a route for the same prefix.

        Returns (status, old): status 0, EEXIST (old is the route in the
        way), or another negative code after reporting to errh.
        """
        return errh.error("cannot add routes to this routing table"), None

    def remove_route(self, route, errh):
        """Remove the route matching route (see IPRoute.match); (status, removed)."""
        return errh.error("cannot delete routes from this routing table"), None

    def dump_routes(self):
        return ""

    def lookup(self, uint32_t addr):
        """(port, gateway) for addr, as a packet would be routed; port -1 if none."""
        cdef uint32_t gw = 0
        cdef int port = self.lookup_route(addr, &gw)
        if port < 0:
            return -1, 0
        return port, gw

    # --- handler commands ----------------------------------------------------------

    def run_command(self, int command, str text, old_routes, errh):
        remove = command == CMD_REMOVE
        route = parse_route(text, remove, self)
        if route is None:
            return errh.error("expected 'ADDR/MASK [GATEWAY%s'"
                              % (" OUTPUT]" if remove else "] OUTPUT"))
        if route.port < (-1 if remove else 0) or route.port >= self.noutputs:
            return errh.error("bad OUTPUT")
        before = errh.nerrors
        if command == CMD_ADD:
            r, old = self.add_route(route, False, errh)
        elif command == CMD_SET:
            r, old = self.add_route(route, True, errh)
        else:
            r, old = self.remove_route(route, errh)
        if r >= 0 and old_routes is not None:
            # Remember how to undo this command.
            if old is None or old.port < 0:
                undo = route.copy()
                undo.extra = CMD_ADD
            else:
                undo = old.copy()
                undo.extra = command
            old_routes.append(undo)
        if errh.nerrors == before:
            if r == EEXIST:
                errh.error(f"conflict with existing route '{old}'")
            elif r == ENOENT:
                errh.error(f"route '{route}' not found")
            elif r == ENOMEM:
                errh.error(f"no memory to store route '{route}'")
        return r

    def ctrl(self, str text, errh):
        """Run 'add'/'set'/'remove' lines as one transaction: all or nothing."""
        old_routes = []
        r = 0
        for line in uncomment(text).split("\n"):
            word, rest = shift_word(line)
            if not word:
                continue
            if word == "add":
                command = CMD_ADD
            elif word == "remove":
                command = CMD_REMOVE
            elif word == "set":
                command = CMD_SET
            else:
                r = errh.error(f"bad command '{word}'")
                break
            r = self.run_command(command, rest, old_routes, errh)
            if r < 0:
                break
        if r >= 0:
            return 0
        quiet = CollectErrors()
        for undo in reversed(old_routes):
            if undo.extra == CMD_REMOVE:
                self.add_route(undo, False, quiet)
            elif undo.extra == CMD_ADD:
                self.remove_route(undo, quiet)
            else:
                self.add_route(undo, True, quiet)
        return r

    # --- the data path ---------------------------------------------------------------

    cdef int lookup_route(self, uint32_t addr, uint32_t *gw) noexcept:
        return NO_ROUTE_PORT

    cdef void push(self, int port, Packet *p) noexcept:
        self.forward(p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef OutputRun run
        cdef int i, out
        cdef int n = b.count
        cdef uint32_t a, gw
        cdef Packet *p
        run_start(&run)
        b.count = 0
        for i in range(n):
            p = b.p[i]
            a = anno_dst_ip(p)
            gw = 0
            out = self.lookup_route(a, &gw)
            if out < 0:
                self.drop_unrouted(p, a)
                continue
            if gw:
                set_anno_dst_ip(p, gw)
            run_add(self, &run, out, p)
        run_flush(self, &run)

    cdef void forward(self, Packet *p) noexcept:
        cdef uint32_t gw = 0
        cdef uint32_t a = anno_dst_ip(p)
        cdef int out = self.lookup_route(a, &gw)
        if out >= 0:
            if gw:
                set_anno_dst_ip(p, gw)
            self.checked_output_push(out, p)
        else:
            self.drop_unrouted(p, a)

    cdef void drop_unrouted(self, Packet *p, uint32_t addr) noexcept:
        self.no_route += 1
        self.drop(p)
        try:
            label = type(self).no_route_label
            n = _complaints.get(label, 0) + 1
            _complaints[label] = n
            if n <= 5:
                sys.stderr.write(f"{label}: no route for {unparse_ip(addr)}\n")
        except BaseException:
            pass
