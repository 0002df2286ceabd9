"""AddressInfo: names for IPv4 and IPv6 addresses and prefixes and Ethernet addresses.

Other elements never call this module directly: the argument types of
``clickpy.runtime.args`` (``IPAddress``, ``IPPrefix``, ``EtherAddress``) ask
``Router.address_info(name, kind, context)``, which asks every element with an
``address_for(name, kind, context)`` method. Every AddressInfo answers the same way:
from all the AddressInfo elements of the router (a name defined in a compound
is local to it; an inner definition hides an outer one), then from this
host's network interfaces. ``lookup_address(router, name, kind, context)``
is the same lookup for code that has a router but no AddressInfo.

Kinds and what they return:

* ``"ip"``: an IPv4 address, as an int (clickpy.runtime.args' form);
* ``"ipprefix"``: ``(address, mask)``, two such ints (a name for an IPv4
  address gives that address with mask 255.255.255.255, as the literal
  address would);
* ``"ether"``: 6 bytes;
* ``"ip6"``: an IPv6 address string; ``"ip6prefix"``: ``(address, prefix length)``.

Suffixes select one definition of a name, as in Click: ``NAME:ip``,
``NAME:ip4`` (address), ``NAME:net``, ``NAME:ipnet``, ``NAME:ip4net``
(prefix), ``NAME:bcast`` (the prefix's broadcast address), ``NAME:gw`` (an
explicit 'NAME:gw' definition, the interface's default gateway, or the
prefix's network address plus one), ``NAME:eth``, ``NAME:ether``,
``NAME:ethernet``, ``NAME:ip6``, ``NAME:ip6net``.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import time

from clickpy.lang.confstring import split_words, unquote
from clickpy.runtime.args import (
    IP_ALL_ONES, Arg, ArgError, EtherAddress, IPAddress, IPPrefixOnly, ip_unpacked, language, parse_arguments,
    parse_ip, prefix_mask,
)
from clickpy.runtime.element import Element

CONFIGURE_PHASE_FIRST = 0

# --- this host's interfaces --------------------------------------------------

_ARPHRD_ETHER = 1
_ARPHRD_IEEE80211 = 801
_devices: dict[str, dict[str, object]] = {}
_devices_read = 0.0


def _ipv4_addresses() -> dict[str, tuple[int, int]]:
    """Each interface's first IPv4 address and prefix length."""
    from pyroute2 import IPRoute

    out: dict[str, tuple[int, int]] = {}
    try:
        with IPRoute() as ipr:
            names = {link["index"]: link.get("IFLA_IFNAME") for link in ipr.get_links()}
            for a in ipr.get_addr(family=socket.AF_INET):
                name = names.get(a["index"])
                addr = parse_ip(a.get("IFA_ADDRESS") or "")
                if name and name not in out and addr is not None:
                    out[name] = (addr, a["prefixlen"])
    except OSError:
        pass
    return out


def _read_devices() -> dict[str, dict[str, object]]:
    """Interface name -> {"ether": bytes, "ip": int, "ipprefix": (int, int)}; cached 30 s."""
    global _devices, _devices_read
    if _devices_read and time.monotonic() - _devices_read < 30:
        return _devices
    devices: dict[str, dict[str, object]] = {}
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        names = [n for _, n in socket.if_nameindex()] if hasattr(socket, "if_nameindex") else []
    addresses = _ipv4_addresses()
    for name in names:
        info: dict[str, object] = {}
        try:
            with open(f"/sys/class/net/{name}/type") as f:
                hwtype = int(f.read().strip())
            with open(f"/sys/class/net/{name}/address") as f:
                mac = f.read().strip()
            if hwtype in (_ARPHRD_ETHER, _ARPHRD_IEEE80211):
                octets = bytes(int(x, 16) for x in mac.split(":"))
                if len(octets) == 6:
                    info["ether"] = octets
        except (OSError, ValueError):
            pass
        if name in addresses:
            addr, prefixlen = addresses[name]
            info["ip"] = addr
            info["ipprefix"] = (addr, prefix_mask(prefixlen))
        devices[name] = info
    _devices, _devices_read = devices, time.monotonic()
    return devices


def _device(name: str, kind: str):
    return _read_devices().get(name, {}).get(kind)


def _device_gateway(name: str) -> int | None:
    """The default gateway through interface name, from /proc/net/route."""
    try:
        with open("/proc/net/route") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 8 and fields[0] == name and fields[1] == "00000000" and fields[7] == "00000000":
            flags = int(fields[3], 16)
            if flags & 0x2:  # RTF_GATEWAY
                # The kernel prints the address as a little-endian word.
                return ip_unpacked(int(fields[2], 16).to_bytes(4, "little"))
    return None


# --- definitions and scoping ---------------------------------------------------


def _compound_prefix(element) -> str:
    """'a/b/' for an element named 'a/b/x'; '' at top level."""
    name = getattr(element, "name", "") or ""
    return name.rsplit("/", 1)[0] + "/" if "/" in name else ""


def _scopes(router, context):
    """AddressInfo elements visible from context, innermost compound first.

    Without a context, every AddressInfo is used, top level first (the
    router does not say who is asking).
    """
    infos = [e for e in getattr(router, "elements", ()) if isinstance(e, AddressInfo)]
    if context is None:
        return sorted(infos, key=lambda e: (_compound_prefix(e).count("/"), -e.eindex))
    cname = getattr(context, "name", "") or ""
    visible = [e for e in infos if cname.startswith(_compound_prefix(e))]
    # Innermost first; within one compound, the later definition wins.
    return sorted(visible, key=lambda e: (-len(_compound_prefix(e)), -e.eindex))


def _defined(router, context, kind: str, name: str):
    for e in _scopes(router, context):
        v = e.definitions.get(kind, {}).get(name)
        if v is not None:
            return v
    return None


def _split_suffix(s: str) -> tuple[str, str | None]:
    colon = s.rfind(":")
    if colon < 0:
        return s, None
    return s[:colon], s[colon:].lower()


def _query_ip(router, s: str, context) -> int | None:
    base, suffix = _split_suffix(s)
    if suffix is None:
        return _defined(router, context, "ip", s) or _device(s, "ip")
    if suffix in (":ip", ":ip4"):
        return _defined(router, context, "ip", base) or _device(base, "ip")
    if suffix == ":bcast":
        pfx = _query_ip_prefix(router, base, context)
        if pfx is None:
            return None
        return pfx[0] | (~pfx[1] & IP_ALL_ONES)
    if suffix == ":gw":
        v = _defined(router, context, "ip", s)
        if v is not None:
            return v
        pfx = _defined(router, context, "ipprefix", base)
        if pfx is None:
            gw = _device_gateway(base)
            if gw is not None:
                return gw
            pfx = _device(base, "ipprefix")
        if pfx is None:
            return None
        return (pfx[0] & pfx[1]) | 1
    return None


def _query_ip_prefix(router, s: str, context):
    base, suffix = _split_suffix(s)
    if suffix is not None:
        if suffix not in (":net", ":ipnet", ":ip4net"):
            return None
        s = base
    return _defined(router, context, "ipprefix", s) or _device(s, "ipprefix")


def _query_ether(router, s: str, context) -> bytes | None:
    base, suffix = _split_suffix(s)
    if suffix is not None:
        if suffix not in (":eth", ":ether", ":ethernet"):
            return None
        s = base
    return _defined(router, context, "ether", s) or _device(s, "ether")


def _query_ip6(router, s: str, context):
    base, suffix = _split_suffix(s)
    if suffix is not None:
        if suffix != ":ip6":
            return None
        s = base
    return _defined(router, context, "ip6", s)


def _query_ip6_prefix(router, s: str, context):
    base, suffix = _split_suffix(s)
    if suffix is not None:
        if suffix != ":ip6net":
            return None
        s = base
    return _defined(router, context, "ip6prefix", s)


def _mask_of(bits: str) -> int | None:
    if bits.isascii() and bits.isdigit() and int(bits) <= 32:
        return prefix_mask(int(bits))
    return parse_ip(bits)


def lookup_address(router, name: str, kind: str, context=None):
    """What name means as an address of kind (see the module docstring), or None."""
    name = name.strip()
    if not name or router is None:
        return None
    if kind == "ip":
        return _query_ip(router, name, context)
    if kind == "ipprefix":
        if "/" in name:
            # NAME/BITS or NAME/MASK: a named address with a literal mask.
            addr, _, bits = name.rpartition("/")
            ip = _query_ip(router, addr, context)
            mask = _mask_of(bits)
            return (ip, mask) if ip is not None and mask is not None else None
        # As Click's AddressInfo::query_ip_prefix: only a name given a prefix
        # is one (IPPrefix arguments that allow bare addresses try the
        # address first themselves).
        return _query_ip_prefix(router, name, context)
    if kind == "ether":
        return _query_ether(router, name, context)
    if kind == "ip6":
        return _query_ip6(router, name, context)
    if kind == "ip6prefix":
        return _query_ip6_prefix(router, name, context)
    return None


# --- the element ------------------------------------------------------------------


def _parse_prefix(text: str, element):
    """An IPv4 prefix written with a slash (address or name, then bits or mask), or None."""
    try:
        return IPPrefixOnly(text, element)
    except ArgError:
        return None


def _parse_ip6(text: str):
    t = unquote(text.strip())
    try:
        return ("ip6", str(ipaddress.IPv6Address(t)))
    except ValueError:
        pass
    if "/" in t:
        try:
            net = ipaddress.IPv6Interface(t)
        except ValueError:
            return None
        return ("ip6prefix", (str(net.ip), net.network.prefixlen))
    return None


def _define(texts, element, errh):
    """AddressInfo's arguments, each 'NAME ADDRESS...': defines each name in
    element.definitions as it goes (a later argument may use an earlier name)."""
    for arg in texts:
        words = [unquote(w) for w in split_words(arg)]
        if not words:
            continue
        if len(words) < 2:
            errh.error("expected 'NAME [ADDRS]'")
            continue
        name = words[0]
        defined_kinds: set[str] = set()
        for word in words[1:]:
            found: dict[str, object] = {}
            try:
                found["ether"] = EtherAddress(word, element)
            except ArgError:
                pass
            try:
                found["ip"] = IPAddress(word, element)
            except ArgError:
                pfx = _parse_prefix(word, element)
                if pfx is not None:
                    found["ipprefix"] = pfx
                    if pfx[0] & ~pfx[1] & IP_ALL_ONES:
                        found["ip"] = pfx[0]
            six = _parse_ip6(word)
            if six is not None:
                found[six[0]] = six[1]
                if six[0] == "ip6prefix":
                    net = ipaddress.IPv6Network(f"{six[1][0]}/{six[1][1]}", strict=False)
                    if ipaddress.IPv6Address(six[1][0]) != net.network_address:
                        found["ip6"] = six[1][0]
            if not found:
                errh.error(f"'{word}' is not a recognizable address")
                continue
            # A word of one kind always defines it; a word that reads as
            # several kinds defines only those not defined yet.
            one_kind = len(found) == 1
            for kind, value in found.items():
                if one_kind or kind not in defined_kinds:
                    element.definitions[kind][name] = value
            defined_kinds.update(found)
    return element.definitions


class AddressInfo(Element):
    """=c
    AddressInfo(NAME ADDRESS [ADDRESS...], ...)

    =s information
    specifies address information

    =d
    Gives names to addresses for the other elements' configurations. Each
    argument is a NAME followed by one or more addresses: IPv4 addresses,
    IPv4 prefixes ('18.26.4.0/24'; one with host bits set, '18.26.4.9/24',
    also defines the address), Ethernet addresses, IPv6 addresses and
    prefixes. A name may stand for one address of each kind at once; the
    element reading it picks the kind it needs, and a suffix picks one
    explicitly: NAME:ip, NAME:ipnet (or :net), NAME:bcast (the prefix's
    broadcast address), NAME:gw, NAME:eth, NAME:ip6, NAME:ip6net.

    Names defined inside a compound element are visible only inside it. A
    name nobody defines may be the name of one of this host's network
    interfaces: its Ethernet address, primary IPv4 address and prefix, and
    NAME:gw its default gateway.

    AddressInfo is configured before the elements that use its names.

    =e
    AddressInfo(mauer 10.0.0.1 00-50-BA-85-84-A9, net 10.0.0.0/8);
    ... -> IPEncap(6, mauer, 10.0.0.2) -> EtherEncap(0x0800, mauer, ...) -> ...;
    """
    port_count = "0/0"
    processing = "a"
    defines_names = True  # a hot reload re-resolves the elements that use its names
    configure_phase = CONFIGURE_PHASE_FIRST
    arguments = (Arg("NAME", language(_define), rest=True, doc="'NAME ADDRESS...', any number"),)

    def __init__(self, *args, **kwargs):
        self.definitions = {"ip": {}, "ipprefix": {}, "ether": {}, "ip6": {}, "ip6prefix": {}}

    def address_for(self, name, kind, context=None):
        """The router's hook (see Router.address_info)."""
        infos = [e for e in self.router.elements if isinstance(e, AddressInfo)]
        if infos and infos[0] is not self:
            return None  # the first AddressInfo answers for all of them
        return lookup_address(self.router, name, kind, context)

    def configure(self, conf, errh):
        return parse_arguments(self, conf, type(self).arguments, errh) is not None
