"""The switch's policy file: which traffic goes to which tenant's guests.

``clickpy switch POLICY`` reads one TOML file. A ``[switch]`` table holds
the switch-wide settings; each ``[[tenant]]`` table names a guest image, the
parameters its configuration gets, the traffic that belongs to the tenant,
and whether the tenant gets one guest for all its traffic or one per flow.
A complete example (every key shown; all but a tenant's ``name`` and
``image`` may be left out)::

    [switch]
    idle_timeout = "30s"          # a guest that has seen no packet this long is stopped
    max_guests = 1024             # guests running at once, all tenants together
    backlog = 64                  # packets held per key while its guest starts
    restart_backoff = { initial = "100ms", max = "30s" }   # after a guest dies
    memory = "64M"                # memory cap of each guest (K, M, G: powers of 1024)
    default = "drop"              # traffic no tenant matches: "drop", or "pass NAME"
    fast_cgroup_moves = true      # have the kernel favour cgroup moves (see below)

    [[tenant]]
    name = "alpha"
    image = "guests/firewall.guest"        # relative to this file's folder
    parameters = { LAN = "10.0.1.0/24" }   # NAME = "value": the image's $NAME
    match = ["vlan 10", "mac 02:00:00:00:0a:01"]
    per = "tenant"                # one guest for the whole tenant
    memory = "32M"                # this tenant's guests' cap, instead of the switch's

    [[tenant]]
    name = "beta"
    image = "/srv/guests/nat.guest"
    match = ["ip 10.0.2.0/24 proto tcp", "ip 10.0.2.0/24 port 53"]
    per = "flow"                  # one guest per 5-tuple
    max_guests = 100              # at most this many of its guests at once (per = "flow" only)
    priority = 1                  # consulted before tenants of lower priority

Times are written as in Click's configurations ("30s", "500ms", "2min");
memory as a byte count or a number with K, M or G.

``fast_cgroup_moves`` (on by default) mounts an empty cgroup hierarchy with
``favordynmods`` while the switch runs, which makes the whole kernel favour
moving tasks between cgroups over fork and exit: a new guest then joins its
memory cgroup in about 0.3 ms instead of 5-16 ms (an RCU grace period).
Turn it off on a host whose other work forks heavily and starts few guests.

A match is one string of terms, all of which must hold:

``vlan ID``
    the frame carries an 802.1Q tag with VLAN ID (1 to 4094);
``mac XX:XX:XX:XX:XX:XX``
    the frame's source **or** destination MAC address is this one;
``ip PREFIX``
    an IPv4 packet whose source or destination address lies in PREFIX
    (``10.0.2.0/24``, or a bare address for one host);
``proto tcp|udp|icmp|N``
    an IPv4 packet of this protocol;
``port N``
    a TCP or UDP packet whose source or destination port is N.

Every term looks at both ends of a packet, so both directions of one
conversation match the same tenant whichever host port they arrive on. For
``mac`` that is a choice: through a bump in the wire, a frame from a client
carries the client's MAC as source and the reply carries it as destination,
and a tenant named by a gateway's MAC sees the same; matching only the
destination would send a tenant's replies to another tenant or to the
default. A tenant with several matches gets a packet that any of them
matches. A packet no tenant matches is dropped and counted (``default =
"drop"``) or given to the tenant ``default = "pass NAME"`` names, which
then needs no matches of its own.

Overlaps: two tenants of the same priority may not claim the same traffic
from the same end: the same VLAN, the same MAC, or nested prefixes, where
the rest of their terms could hold together. That is an error naming both
matches; give one tenant a higher ``priority`` (default 0; higher is tried
first) to say which wins. An error, not first-match order, because tenants
are added over time, often by tools appending to the file: a new tenant
whose prefix covers an old one's would otherwise take or lose its traffic
without a word. What no rule can forbid is a packet whose two ends belong to
two tenants (10.0.1.5 talking to 10.0.2.7): it goes to the tenant of higher
priority, and between equal priorities to the one written first.

Every mistake is a ``PolicyError`` listing each problem found in one pass,
each as ``FILE:LINE: tenant "NAME": KEY: expected ...``; a key this module
does not know is an error (with the nearest known key suggested), so a typo
never passes silently.
"""
from __future__ import annotations

import difflib
import itertools
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from clickpy.errors import ConfigError, Diagnostics, Landmark
from clickpy.guest.image import DEFAULT_MEMORY_CAP, parse_size
from clickpy.runtime.args import ArgError, EtherAddress, parse_ip, parse_time, prefix_mask, unparse_ip

NS_PER_SEC = 1_000_000_000
DEFAULTS = {"idle_timeout": 30 * NS_PER_SEC, "max_guests": 1024, "backlog": 64,
            "backoff_initial": NS_PER_SEC // 10, "backoff_max": 30 * NS_PER_SEC,
            "memory": DEFAULT_MEMORY_CAP, "fast_cgroup_moves": True}
# Bounds that keep a policy's tables small (keys.pyx scans the matches of
# every tenant) and catch a misplaced digit.
MAX_POLICY_CHARS = 1 << 20
MAX_TENANTS = 4096
MAX_GUESTS = 1 << 20
MAX_BACKLOG = 1 << 16
PRIORITY_RANGE = (-1_000_000, 1_000_000)
MAX_OVERLAPS_LISTED = 20
PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17}
PORT_PROTOCOLS = frozenset({6, 17})      # 'port N' means TCP or UDP

SWITCH_KEYS = ("idle_timeout", "max_guests", "backlog", "restart_backoff", "memory", "default",
               "fast_cgroup_moves")
BACKOFF_KEYS = ("initial", "max")
TENANT_KEYS = ("name", "image", "parameters", "match", "per", "max_guests", "memory", "priority")
PER = ("tenant", "flow")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")
_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class PolicyError(ConfigError):
    """A policy file that cannot be used; its text lists every problem, one per line."""


@dataclass(frozen=True)
class Settings:
    idle_timeout: int = DEFAULTS["idle_timeout"]        # ns
    max_guests: int = DEFAULTS["max_guests"]
    backlog: int = DEFAULTS["backlog"]                  # packets per key
    backoff_initial: int = DEFAULTS["backoff_initial"]  # ns
    backoff_max: int = DEFAULTS["backoff_max"]          # ns
    memory: int = DEFAULTS["memory"]                    # bytes per guest
    default: str | None = None                          # tenant that gets unmatched traffic; None: drop
    fast_cgroup_moves: bool = DEFAULTS["fast_cgroup_moves"]


@dataclass(frozen=True)
class Match:
    """One match string, parsed; a term left out is None."""
    text: str
    vlan: int | None = None
    mac: bytes | None = None
    addr: int | None = None          # with prefix_len: the 'ip' term
    prefix_len: int = 0
    proto: int | None = None
    port: int | None = None
    line: int = 0

    def protocols(self) -> frozenset[int] | None:
        """The IP protocols a packet may have to match (None: any, or not IP)."""
        if self.proto is not None:
            return frozenset({self.proto})
        return PORT_PROTOCOLS if self.port is not None else None

    def __str__(self) -> str:
        words = []
        if self.vlan is not None:
            words.append(f"vlan {self.vlan}")
        if self.mac is not None:
            words.append("mac " + ":".join(f"{b:02x}" for b in self.mac))
        if self.addr is not None:
            words.append(f"ip {unparse_ip(self.addr)}/{self.prefix_len}")
        if self.proto is not None:
            names = {v: k for k, v in PROTOCOLS.items()}
            words.append(f"proto {names.get(self.proto, self.proto)}")
        if self.port is not None:
            words.append(f"port {self.port}")
        return " ".join(words)


@dataclass(frozen=True)
class Tenant:
    name: str
    image: Path                       # resolved against the policy file's folder
    parameters: dict[str, str] = field(default_factory=dict)
    matches: tuple[Match, ...] = ()
    per: str = "tenant"               # "tenant" or "flow"
    max_guests: int = 1
    memory: int = DEFAULTS["memory"]  # bytes per guest (the tenant's override, or the switch's)
    priority: int = 0
    line: int = 0                     # of its [[tenant]] header

    @property
    def per_flow(self) -> bool:
        return self.per == "flow"


@dataclass(frozen=True)
class Policy:
    path: Path
    settings: Settings
    tenants: tuple[Tenant, ...]

    @property
    def default_index(self) -> int:
        """Index of the tenant unmatched traffic goes to, or -1 to drop it."""
        return self.index(self.settings.default) if self.settings.default is not None else -1

    def index(self, name: str) -> int:
        for i, t in enumerate(self.tenants):
            if t.name == name:
                return i
        raise KeyError(name)

    def match_order(self) -> list[int]:
        """Tenant indexes in the order a packet is tried against them: higher
        priority first, then as written."""
        return sorted(range(len(self.tenants)), key=lambda i: (-self.tenants[i].priority, i))

    def describe(self) -> str:
        """What 'clickpy switch check' prints."""
        s = self.settings
        default = f"pass to {s.default}" if s.default is not None else "drop"
        lines = [f"policy {self.path}: {len(self.tenants)} tenant{'s' * (len(self.tenants) != 1)},"
                 f" unmatched traffic: {default}",
                 f"switch: idle timeout {time_text(s.idle_timeout)}, at most {s.max_guests} guests,"
                 f" backlog {s.backlog} packets per key, restart backoff {time_text(s.backoff_initial)}"
                 f" to {time_text(s.backoff_max)}, memory {size_text(s.memory)} per guest"
                 + ("" if s.fast_cgroup_moves else ", fast cgroup moves off")]
        for i in self.match_order():
            t = self.tenants[i]
            guests = "1 guest" if not t.per_flow else f"up to {t.max_guests} guests"
            lines.append(f"tenant {t.name}: per {t.per} ({guests}, {size_text(t.memory)} each),"
                         f" priority {t.priority}, image {t.image}")
            for m in t.matches:
                lines.append(f"  match {m}")
            if not t.matches:
                lines.append("  (no matches: only unmatched traffic)")
            for k, v in t.parameters.items():
                lines.append(f"  {k}={v}")
        return "\n".join(lines) + "\n"


def time_text(ns: int) -> str:
    """A time as a policy would write it: '30s', '2min', '500ms'."""
    for unit, scale in (("h", 3600 * NS_PER_SEC), ("min", 60 * NS_PER_SEC), ("s", NS_PER_SEC),
                        ("ms", 10**6), ("us", 10**3)):
        if ns % scale == 0:
            return f"{ns // scale}{unit}"
    return f"{ns}ns"


def size_text(n: int) -> str:
    """A size as a policy would write it: '64M'."""
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return f"{n} bytes"


# --- reading ----------------------------------------------------------------------------

def load_policy(path) -> Policy:
    """Read and check a policy file, including that each tenant's image file exists."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PolicyError(f"cannot read policy: {e.strerror or e}", Landmark(str(path))) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PolicyError("policy is not UTF-8 text",
                          Landmark(str(path), data[:e.start].count(b"\n") + 1)) from None
    return _Reader(text, path, check_images=True).policy()


def parse_policy(text: str, path="<policy>") -> Policy:
    """Check a policy given as text (path names it in errors and anchors
    relative image paths); the images are not looked at."""
    return _Reader(text, Path(path), check_images=False).policy()


class _Expected(Exception):
    """A value of the wrong kind; its text says what was expected."""


_HEADER = re.compile(r"\s*\[(\[?)\s*([^\[\]#]*?)\s*\]")


class _Lines:
    """Where keys sit in the text, since tomllib does not say: the sections
    under each [header], searched a line at a time. Good enough for errors;
    a key it cannot find is reported at its table's header."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.headers = []       # (line index, table name, is an [[array]] header)
        self.first = {}         # table name -> position in headers of its first header
        self.arrays = {}        # table name -> positions in headers of its [[name]] headers
        for i, line in enumerate(self.lines):
            m = _HEADER.match(line)
            if m:
                name = re.sub(r"[\s\"']", "", m.group(2))
                self.first.setdefault(name, len(self.headers))
                if m.group(1):
                    self.arrays.setdefault(name, []).append(len(self.headers))
                self.headers.append((i, name, bool(m.group(1))))

    def _span(self, table: str, index: int | None) -> tuple[int, int, range]:
        """Line range of a table with its sub-tables (index: which [[table]]),
        and the positions of the sub-tables' headers; (-1, -1, ...) if absent."""
        if table == "":
            return 0, self.headers[0][0] if self.headers else len(self.lines), range(0)
        arrays = self.arrays.get(table, [])
        k = self.first.get(table) if index is None else arrays[index] if index < len(arrays) else None
        if k is None:
            return -1, -1, range(0)
        end = k + 1
        while end < len(self.headers) and self.headers[end][1].startswith(table + "."):
            end += 1
        return self.headers[k][0], self.headers[end][0] if end < len(self.headers) else len(self.lines), \
            range(k + 1, end)

    def find(self, table: str, index: int | None, key: str | None = None, value: str | None = None) -> int:
        """1-based line of key (and of value after it) in a table; 0 if not found."""
        if table == "" and key is not None:
            for i, name, _ in self.headers:     # a top-level key written as a [header]
                if name == key or name.startswith(key + "."):
                    return i + 1
        start, end, subtables = self._span(table, index)
        if start < 0:                           # written inline: search everywhere
            start, end = 0, len(self.lines)
        line = None if table == "" else start
        for k in subtables:                     # the key written as a [table.key] sub-table
            if self.headers[k][1] == f"{table}.{key}":
                return self.headers[k][0] + 1
        if key is not None:
            pattern = re.compile(rf"\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*[=.]")
            for i in range(start, end):
                if pattern.match(self.lines[i]):
                    line = i
                    break
        if line is not None and value:     # a list item: quoted first, so 'ip 10.0.0.0/8' skips '... port 5'
            for form in (f'"{value}"', f"'{value}'", value):
                for i in range(line, end):
                    if form in self.lines[i]:
                        return i + 1
        return 0 if line is None else line + 1


class _Reader:
    def __init__(self, text: str, path: Path, check_images: bool):
        self.text = text
        self.path = path
        self.check_images = check_images
        self.diagnostics = Diagnostics()
        self.lines: _Lines | None = None

    def error(self, where: tuple, key: str | None, message: str, value: str | None = None) -> None:
        """where: () for the top level, ('switch',), or ('tenant', index, label)."""
        table = where[0] if where else ""
        index = where[1] if len(where) > 1 else None
        line = self.lines.find(table, index, key, value) if self.lines else 0
        label = {"": "", "switch": "[switch] "}.get(table, f"tenant {where[2]}: " if len(where) > 2 else "")
        self.diagnostics.error(Landmark(str(self.path), line), f"{label}{key + ': ' if key else ''}{message}")

    def policy(self) -> Policy:
        if len(self.text) > MAX_POLICY_CHARS:
            raise PolicyError(f"policy longer than {MAX_POLICY_CHARS} characters", Landmark(str(self.path)))
        try:
            doc = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"\(at line (\d+), column (\d+)\)|\(at end of document\)", str(e))
            where = Landmark(str(self.path), int(m.group(1)), int(m.group(2))) if m and m.group(1) else \
                Landmark(str(self.path), max(1, len(self.text.splitlines()))) if m else Landmark(str(self.path))
            reason = str(e)[:m.start()].strip() if m else str(e)
            raise PolicyError(f"not valid TOML: {reason}", where) from None
        except RecursionError:
            raise PolicyError("not valid TOML: nested too deeply", Landmark(str(self.path))) from None
        self.lines = _Lines(self.text)
        self.unknown_keys((), doc, ("switch", "tenant"))
        switch = doc.get("switch", {})
        if not isinstance(switch, dict):
            self.error((), "switch", "expected a [switch] table")
            switch = {}
        settings = self.settings(switch)
        raw_tenants = doc.get("tenant", [])
        if not isinstance(raw_tenants, list) or not all(isinstance(t, dict) for t in raw_tenants):
            self.error((), "tenant", "expected [[tenant]] tables (double brackets: one per tenant)")
            raw_tenants = []
        if len(raw_tenants) > MAX_TENANTS:
            self.error((), "tenant", f"expected at most {MAX_TENANTS} tenants, not {len(raw_tenants)}")
            raw_tenants = raw_tenants[:MAX_TENANTS]
        tenants = [self.tenant(i, t, settings) for i, t in enumerate(raw_tenants)]
        self.check_names(tenants)
        settings = self.check_default(settings, tenants, raw_tenants)
        self.check_overlaps(tenants)
        if self.diagnostics:
            self.diagnostics.items.sort(key=lambda d: d.landmark.line)
            raise PolicyError(self.diagnostics)
        return Policy(self.path, settings, tuple(tenants))

    def unknown_keys(self, where: tuple, table: dict, known: tuple[str, ...]) -> None:
        for key in table:
            if key not in known:
                near = difflib.get_close_matches(key, known, n=1)
                hint = f'; did you mean "{near[0]}"?' if near else ""
                self.error(where, key, f"unknown key (expected one of {', '.join(known)}){hint}")

    def value(self, where, table, key, convert, default):
        """table[key] converted, or default (with an error) when it is wrong."""
        if key not in table:
            return default
        try:
            return convert(table[key])
        except _Expected as e:
            self.error(where, key, f"expected {e}, not {_show(table[key])}")
            return default

    # --- [switch] ---

    def settings(self, t: dict) -> Settings:
        w = ("switch",)
        self.unknown_keys(w, t, SWITCH_KEYS)
        backoff = t.get("restart_backoff", {})
        initial, maximum = DEFAULTS["backoff_initial"], DEFAULTS["backoff_max"]
        if not isinstance(backoff, dict):
            self.error(w, "restart_backoff", f'expected a table such as {{ initial = "100ms", max = "30s" }},'
                                             f" not {_show(backoff)}")
        else:
            for key in backoff:
                if key not in BACKOFF_KEYS:
                    self.error(w, "restart_backoff", f'unknown key "{key}" (expected initial, max)')
            initial = self.value(w, backoff, "initial", _positive_time, initial)
            maximum = self.value(w, backoff, "max", _positive_time, maximum)
            if initial > maximum:
                self.error(w, "restart_backoff", f"expected initial ({time_text(initial)}) no longer than"
                                                 f" max ({time_text(maximum)})")
        default = self.value(w, t, "default", _default, None)
        return Settings(
            idle_timeout=self.value(w, t, "idle_timeout", _positive_time, DEFAULTS["idle_timeout"]),
            max_guests=self.value(w, t, "max_guests", _count(MAX_GUESTS), DEFAULTS["max_guests"]),
            backlog=self.value(w, t, "backlog", _count(MAX_BACKLOG, 0), DEFAULTS["backlog"]),
            backoff_initial=initial, backoff_max=maximum,
            memory=self.value(w, t, "memory", _memory, DEFAULTS["memory"]),
            default=default,
            fast_cgroup_moves=self.value(w, t, "fast_cgroup_moves", _boolean, DEFAULTS["fast_cgroup_moves"]))

    # --- [[tenant]] ---

    def tenant(self, i: int, t: dict, settings: Settings) -> Tenant:
        name = t.get("name")
        good_name = isinstance(name, str) and _NAME.match(name)
        w = ("tenant", i, _label(name if good_name else None, i))
        self.unknown_keys(w, t, TENANT_KEYS)
        if "name" not in t:
            self.error(w, None, 'expected a name (name = "...")')
        elif not good_name:
            self.error(w, "name", f"expected letters, digits, '_', '.' or '-' (at most 64), not {_show(name)}")
        image = Path()
        if "image" not in t:
            self.error(w, None, 'expected an image (image = "NAME.guest")')
        else:
            image = self.value(w, t, "image", _text("a path to a guest image"), None)
            image = self.path.parent / image if image is not None else Path()
            if self.check_images and image != Path() and not image.is_file():
                what = "does not exist" if not image.exists() else "is not a file"
                self.error(w, "image", f"expected a guest image file ('clickpy build CONFIG -o X.guest'),"
                                       f" but {image} {what}")
        per = self.value(w, t, "per", _choice(PER), "tenant")
        if per == "tenant":
            max_guests = self.value(w, t, "max_guests", _exactly_one, 1)
        else:
            max_guests = self.value(w, t, "max_guests", _count(MAX_GUESTS), settings.max_guests)
        return Tenant(
            name=name if good_name else f"#{i + 1}", image=image,
            parameters=self.parameters(w, t.get("parameters", {})),
            matches=self.matches(w, t.get("match", [])), per=per, max_guests=max_guests,
            memory=self.value(w, t, "memory", _memory, settings.memory),
            priority=self.value(w, t, "priority", _integer(*PRIORITY_RANGE), 0),
            line=self.lines.find("tenant", i))

    def parameters(self, w, table) -> dict[str, str]:
        if not isinstance(table, dict):
            self.error(w, "parameters", f'expected a table such as {{ NAME = "value" }}, not {_show(table)}')
            return {}
        out = {}
        for k, v in table.items():
            if not _PARAMETER.match(k):
                self.error(w, "parameters", f"expected a parameter name (letters, digits, '_'), not {_show(k)}",
                           value=k)
            elif not isinstance(v, str):
                self.error(w, "parameters", f"{k}: expected a string (quote it), not {_show(v)}", value=k)
            else:
                out[k] = v
        return out

    def matches(self, w, value) -> tuple[Match, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
            self.error(w, "match", f'expected a list of strings such as ["vlan 10", "ip 10.0.0.0/8"],'
                                   f" not {_show(value)}")
            return ()
        out = []
        for text in value:
            line = self.lines.find(w[0], w[1], "match", text)
            try:
                out.append(parse_match(text, line))
            except _Expected as e:
                self.error(w, "match", f"{_show(text)}: expected {e}", value=text)
        return tuple(out)

    # --- across tenants ---

    def check_names(self, tenants: list[Tenant]) -> None:
        seen = {}
        for i, t in enumerate(tenants):
            if t.name in seen and not t.name.startswith("#"):
                self.error(("tenant", i, _label(t.name, i)), "name",
                           f"expected a name no other tenant has (tenant #{seen[t.name] + 1} has it)")
            seen.setdefault(t.name, i)

    def check_default(self, settings: Settings, tenants: list[Tenant], raw: list[dict]) -> Settings:
        if settings.default is not None and settings.default not in {t.name for t in tenants}:
            self.error(("switch",), "default", f'expected "drop" or "pass NAME" naming a tenant;'
                                               f' there is no tenant "{settings.default}"')
            settings = replace(settings, default=None)
        for i, t in enumerate(tenants):
            # A tenant nothing reaches is a mistake (its bad matches are reported already).
            if not t.matches and t.name != settings.default and not raw[i].get("match"):
                self.error(("tenant", i, _label(t.name, i)), "match" if "match" in raw[i] else None,
                           'expected matches (match = ["vlan 10", ...]) or to be the switch\'s'
                           ' default (default = "pass NAME"): no traffic reaches it')
        return settings

    def check_overlaps(self, tenants: list[Tenant]) -> None:
        groups = {}     # priority -> [(tenant index, Match)]
        for i, t in enumerate(tenants):
            groups.setdefault(t.priority, []).extend((i, m) for m in t.matches)
        found = itertools.chain.from_iterable(
            ((group[x], group[y]) for x, y in overlapping([m for _, m in group],
                                                          lambda x, y, g=group: g[x][0] != g[y][0]))
            for group in groups.values())
        for (i, a), (j, b) in itertools.islice(found, MAX_OVERLAPS_LISTED):
            self.error(("tenant", j, _label(tenants[j].name, j)), "match",
                       f'{_show(b.text)} overlaps tenant "{tenants[i].name}"\'s {_show(a.text)}'
                       f" (line {a.line}); expected a different priority to order them", value=b.text)


def parse_match(text: str, line: int = 0) -> Match:
    """'ip 10.0.0.0/8 proto tcp' -> Match; _Expected says what is wrong."""
    words = text.split()
    if not words:
        raise _Expected("terms such as 'vlan 10' or 'ip 10.0.0.0/8'")
    if len(words) % 2:
        raise _Expected(f"a value after '{words[-1]}'")
    terms = {}
    for key, value in zip(words[::2], words[1::2]):
        if key not in ("vlan", "mac", "ip", "proto", "port"):
            raise _Expected(f"vlan, mac, ip, proto or port, not '{key}'")
        if key in terms:
            raise _Expected(f"'{key}' once")
        terms[key] = value
    fields = {}
    if "vlan" in terms:
        fields["vlan"] = _number(terms["vlan"], 1, 4094, "a VLAN ID from 1 to 4094")
    if "mac" in terms:
        try:
            fields["mac"] = EtherAddress(terms["mac"])
        except ArgError:
            raise _Expected(f"a MAC address such as 02:00:00:00:00:01, not '{terms['mac']}'") from None
    if "ip" in terms:
        fields["addr"], fields["prefix_len"] = _prefix(terms["ip"])
    if "proto" in terms:
        name = terms["proto"].lower()
        fields["proto"] = PROTOCOLS[name] if name in PROTOCOLS else \
            _number(name, 0, 255, "tcp, udp, icmp or a protocol number 0-255")
    if "port" in terms:
        fields["port"] = _number(terms["port"], 1, 65535, "a port from 1 to 65535")
        if fields.get("proto", 6) not in PORT_PROTOCOLS:
            raise _Expected("'port' only with proto tcp or udp")
    return Match(text, line=line, **fields)


def overlap(a: Match, b: Match) -> bool:
    """Could one end of one packet satisfy both matches?"""
    if a.vlan is not None and b.vlan is not None and a.vlan != b.vlan:
        return False
    if a.mac is not None and b.mac is not None and a.mac != b.mac:
        return False
    if a.addr is not None and b.addr is not None:
        if (a.addr ^ b.addr) & prefix_mask(min(a.prefix_len, b.prefix_len)):
            return False
    pa, pb = a.protocols(), b.protocols()
    if pa is not None and pb is not None and not pa & pb:
        return False
    return a.port is None or b.port is None or a.port == b.port


def overlapping(matches: list[Match], wanted=lambda x, y: True):
    """Index pairs (x < y) of matches that overlap and are wanted, without
    comparing every pair: matches are filed by (VLAN, MAC), None where the
    term is absent; only files that agree where both have a value are
    compared; and there, two prefixes are paired only if one contains the
    other (found by looking up each prefix's shorter prefixes)."""
    files = {}
    for x, m in enumerate(matches):
        files.setdefault((m.vlan, m.mac), []).append(x)
    mac_only = [key for key in files if key[0] is None and key[1] is not None]
    for (vlan, mac), xs in files.items():
        partners = []       # the files that may share a packet end with this one, each pair once
        if vlan is not None and mac is not None:
            partners = [(vlan, None), (None, mac), (None, None)]
        elif vlan is not None:
            partners = [(None, None)] + mac_only
        elif mac is not None:
            partners = [(None, None)]
        seen = set()
        for x, y in _nested(matches, xs, xs):
            if (x, y) not in seen and x != y:
                seen.add((x, y))
                if overlap(matches[x], matches[y]) and wanted(x, y):
                    yield x, y
        for key in partners:
            ys = files.get(key, ())
            for x, y in itertools.chain(_nested(matches, xs, ys), _nested(matches, ys, xs)):
                x, y = min(x, y), max(x, y)
                if (x, y) not in seen:
                    seen.add((x, y))
                    if overlap(matches[x], matches[y]) and wanted(x, y):
                        yield x, y


def _nested(matches: list[Match], xs, ys):
    """Pairs (x, y), ordered low first, from xs and ys whose 'ip' terms do not
    rule out an overlap: one has none, or y's prefix contains x's."""
    by_prefix, plain = {}, []
    for y in ys:
        m = matches[y]
        if m.addr is None:
            plain.append(y)
        else:
            by_prefix.setdefault((m.addr, m.prefix_len), []).append(y)
    for x in xs:
        m = matches[x]
        if m.addr is None:
            partners = ys
        else:
            partners = plain + [y for length in range(m.prefix_len + 1)
                                for y in by_prefix.get((m.addr & prefix_mask(length), length), ())]
        for y in partners:
            yield min(x, y), max(x, y)


# --- value converters (raise _Expected with what was wanted) ----------------------------

def _label(name: str | None, i: int) -> str:
    """How errors name a tenant: by its name, or by its place when it has none."""
    return f'"{name}"' if name is not None and not name.startswith("#") else f"#{i + 1}"


def _show(v) -> str:
    text = f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(text: str, lo: int, hi: int, expected: str) -> int:
    if not (text.isascii() and text.isdigit()) or not lo <= int(text) <= hi:
        raise _Expected(f"{expected}, not '{text}'")
    return int(text)


def _prefix(text: str) -> tuple[int, int]:
    addr_text, slash, length_text = text.partition("/")
    addr = parse_ip(addr_text)
    length = 32 if not slash else int(length_text) if length_text.isascii() and length_text.isdigit() \
        and len(length_text) <= 2 else -1
    if addr is None or not 0 <= length <= 32:
        raise _Expected(f"an IPv4 prefix such as 10.0.0.0/8, not '{text}'")
    if addr & ~prefix_mask(length) & 0xFFFFFFFF:
        raise _Expected(f"a prefix without host bits: '{text}' would be {unparse_ip(addr & prefix_mask(length))}"
                        f"/{length}")
    return addr, length


def _positive_time(v) -> int:
    if isinstance(v, str):
        try:
            ns = parse_time(v)
        except ArgError:
            ns = 0
        if ns > 0:
            return ns
    raise _Expected('a time such as "30s" or "500ms"')


def _memory(v) -> int:
    try:
        return parse_size(v)
    except ValueError:
        raise _Expected('a memory size such as "64M"') from None


def _default(v) -> str | None:
    if isinstance(v, str):
        words = v.split()
        if words == ["drop"]:
            return None
        if len(words) == 2 and words[0] == "pass":
            return words[1]
    raise _Expected('"drop" or "pass NAME"')


def _boolean(v) -> bool:
    if type(v) is not bool:
        raise _Expected("true or false")
    return v


def _count(hi: int, lo: int = 1):
    return _integer(lo, hi)


def _integer(lo: int, hi: int):
    def convert(v) -> int:
        if type(v) is not int or not lo <= v <= hi:
            raise _Expected(f"an integer from {lo} to {hi}")
        return v
    return convert


def _exactly_one(v) -> int:
    if type(v) is not int or v != 1:
        raise _Expected('1 (per = "tenant" runs one guest)')
    return v


def _choice(options: tuple[str, ...]):
    def convert(v) -> str:
        if v not in options:
            raise _Expected(" or ".join(f'"{o}"' for o in options))
        return v
    return convert


def _text(what: str):
    def convert(v) -> str:
        if not isinstance(v, str) or not v or "\0" in v:
            raise _Expected(what)
        return v
    return convert
