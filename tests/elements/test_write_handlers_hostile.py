"""Every write handler of the library, fed hostile values (issue 9: hostile
input never stops a router).

For each element class that has write handlers (declared ones, plus the
generic ones: a writable ``config``, a task's ``tickets``), a small working
configuration from CONFIGS carries traffic through the element, which is
named ``e``. Each hostile value is written to a fresh router that has run
for a few milliseconds (packets are flowing); then:

* the write succeeds or raises HandlerError (or returns an error string, the
  other documented way) -- any other exception is a bug;
* a rejected value leaves the element as it was (its ``config`` and its calm
  read handlers read the same);
* an accepted integer does not read back cut to a C field (4294967296 as 0,
  -1 as 4294967295), where the handler reads back an integer;
* the router then runs for RUN_SECONDS of real time without raising (from a
  task, a timer or the data path: unraisable exceptions and printed
  tracebacks count) and without hanging or crashing;
* every read handler of the element still answers (a value or HandlerError).

Each (class, handler) sweep runs in a forked child process, so that a hang,
a crash or an exhausted memory limit is reported with the value that caused
it instead of taking the test session down. A class with write handlers and
no entry in CONFIGS or SKIPPED fails test_every_class_is_swept: a new element
or handler is covered as soon as it exists.
"""
from __future__ import annotations

import faulthandler
import json
import os
import pathlib
import resource
import select
import signal
import sys
import time
import traceback

import pytest
from support import run_for

from clickpy.runtime import registry
from clickpy.runtime.handlers import HandlerError, format_value, generic_handlers

WARM_UP_SECONDS = 0.002     # real time the router runs before each write
RUN_SECONDS = 0.01          # real time the router runs after each write
VALUE_TIMEOUT = 20.0        # a value whose write, run and reads take longer hangs
MEMORY_LIMIT = 2 << 30      # more address space a child may take than it started with

HOSTILE = [
    "", " ", "0", "-1", "1", "4294967295", "4294967296", "18446744073709551616",
    "99999999999999999999999", "-99999999999999999999", "1e308", "-1e308", "nan", "inf",
    "-inf", "0x", "1/0", "true", "false", "maybe", "\x00", "\xff\xfe", "a" * 100000,
    "1.2.3.4", "999.1.1.1", "1.2.3.4/33", "00:00:00:00:00:00", "ff:ff", "1 2 3 4 5 6 7 8 9 10",
    "1\n2", "1e999999999",
    # the shapes of handlers that take several words: routes, ARP entries, handler calls
    "0.0.0.0/0 5", "0.0.0.0/0 -1", "0.0.0.0/0 4294967296", "1.2.3.4 00:00:00:00:00:00",
    "18446744073709551615 e.name",
]
CURRENT = object()          # stands for the handler's own current value, read back


# --- packets and files the configurations use ----------------------------------------------


def _hex(pkt) -> str:
    return "\\<" + bytes(pkt).hex() + ">"


def _frames():
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import ARP, Ether

    me, peer = "02:00:00:00:00:01", "02:00:00:00:00:02"
    eth = Ether(src=me, dst=peer)
    return {
        "UDP": eth / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000, dport=9) / (b"x" * 18),
        "TCP": eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1000, dport=21, flags="S"),
        "PING": eth / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=8, id=7, seq=1) / (b"p" * 18),
        "ARPQ": Ether(src=me, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=me, psrc="10.0.0.1", pdst="10.0.0.2"),
        "ARPR": Ether(src=peer, dst=me)
        / ARP(op=2, hwsrc=peer, psrc="10.0.0.2", hwdst=me, pdst="10.0.0.1"),
    }


FRAMES = _frames()
UDP = _hex(FRAMES["UDP"])
TCP = _hex(FRAMES["TCP"])
PING = _hex(FRAMES["PING"])
ARPQ = _hex(FRAMES["ARPQ"])
ARPR = _hex(FRAMES["ARPR"])


def make_files(workdir) -> dict[str, str]:
    """The files configurations name ({pcap}, {summary}, {dir}), made in workdir."""
    from scapy.utils import wrpcap

    pkts = []
    for i in range(200):
        p = FRAMES[("UDP", "TCP", "PING")[i % 3]].copy()
        p.time = 1000 + i * 0.001
        pkts.append(p)
    pcap = os.path.join(workdir, "in.pcap")
    wrpcap(pcap, pkts)
    summary = os.path.join(workdir, "in.txt")
    with open(summary, "w") as f:
        f.write("!IPSummaryDump 1.3\n!data timestamp ip_src ip_dst sport dport ip_proto ip_len\n")
        for i in range(200):
            f.write(f"{1000 + i * 0.001:.6f} 10.0.0.1 10.0.0.2 {1000 + i} 9 U 60\n")
    return {"pcap": pcap, "summary": summary, "dir": workdir, "policy": os.path.join(workdir, "policy.toml")}


def make_policy(workdir) -> None:
    """A switch policy (and its guest image) in workdir: the sweep's traffic is one tenant's."""
    from guest_harness import BUMP, write_image

    image = write_image(pathlib.Path(workdir) / "bump.guest", BUMP)
    with open(os.path.join(workdir, "policy.toml"), "w") as f:
        f.write(f'[[tenant]]\nname = "t"\nimage = "{image}"\nmatch = ["ip 10.0.0.0/8"]\n')


# --- one small working configuration per class --------------------------------------------
#
# The element under test is 'e'. Sources are rated (a few packets per
# millisecond) so that printing elements stay quiet enough.

SRC = f"RatedSource(DATA {UDP}, RATE 5000)"                  # Ethernet frames, push
SRC2 = f"RatedSource(DATA {UDP}, RATE 3000)"
IPSRC = f"{SRC} -> Strip(14) -> CheckIPHeader"                # IP packets, network header set
ROUTED = f"{IPSRC} -> GetIPAddress(16)"                       # ... with a destination annotation
TCPSRC = f"RatedSource(DATA {TCP}, RATE 5000) -> Strip(14) -> CheckIPHeader"
PINGSRC = f"RatedSource(DATA {PING}, RATE 5000) -> Strip(14) -> CheckIPHeader"
OUT2 = "-> Discard; e[1] -> Discard"                         # both outputs of e used
ME, PEER = "02:00:00:00:00:01", "02:00:00:00:00:02"
LOOKUP = "10.0.0.0/8 0, 10.0.0.2/32 10.0.0.9 1, 0.0.0.0/0 1"
NAPT = "pattern 203.0.113.1 1024-65535# - - 0 1"

CONFIGS = {
    "ARPPrint": f"RatedSource(DATA {ARPQ}, RATE 2000) -> e :: ARPPrint -> Discard",
    "ARPQuerier": f"{ROUTED} -> e :: ARPQuerier(10.0.0.1, {ME}) -> Discard;"
                  f"RatedSource(DATA {ARPR}, RATE 1000) -> [1]e",
    "ARPResponder": f"RatedSource(DATA {ARPQ}, RATE 2000) -> e :: ARPResponder(10.0.0.2 {PEER}) "
                    "-> Discard",
    "ARPTable": f"e :: ARPTable; {ROUTED} -> q :: ARPQuerier(10.0.0.1, {ME}, TABLE e) -> Discard;"
                f"RatedSource(DATA {ARPR}, RATE 1000) -> [1]q",
    "AdjustTimestamp": f"{SRC} -> e :: AdjustTimestamp(1) -> Discard",
    "AggregateCounter": f"{IPSRC} -> AggregateIPFlows -> e :: AggregateCounter -> Discard",
    "AggregateIPFlows": f"{IPSRC} -> e :: AggregateIPFlows -> Discard",
    "AverageCounter": f"{SRC} -> e :: AverageCounter -> Discard",
    "BandwidthRatedSplitter": f"{SRC} -> e :: BandwidthRatedSplitter(100kBps) {OUT2}",
    "BandwidthRatedUnqueue": f"{SRC} -> Queue -> e :: BandwidthRatedUnqueue(100kBps) -> Discard",
    "BandwidthShaper": f"{SRC} -> Queue -> e :: BandwidthShaper(100kBps) -> Unqueue -> Discard",
    "Bypass": f"{SRC} -> e :: Bypass -> Discard",
    "CheckPaint": f"{SRC} -> Paint(1) -> e :: CheckPaint(1) {OUT2}",
    "Classifier": f"{SRC} -> e :: Classifier(12/0800, -) {OUT2}",
    "ControlSocket": "e :: ControlSocket(unix, {dir}/control.sock); " + f"{SRC} -> Discard",
    "Counter": f"{SRC} -> e :: Counter -> Discard",
    # Its traffic starts a guest, so stop_guest, guest_write and reload_tenant meet a running one.
    "GuestSwitch": f"{SRC} -> [0]e :: GuestSwitch(POLICY {{policy}}, POOL 0) {OUT2}; Idle -> [1]e",
    "DecIPTTL": f"{IPSRC} -> e :: DecIPTTL {OUT2}",
    "DelayShaper": f"{SRC} -> Queue -> e :: DelayShaper(2ms) -> Unqueue -> Discard",
    "DelayUnqueue": f"{SRC} -> Queue -> e :: DelayUnqueue(2ms) -> Discard",
    "DirectIPLookup": f"{ROUTED} -> e :: DirectIPLookup({LOOKUP}) {OUT2}",
    "Discard": f"{SRC} -> Queue -> e :: Discard",                  # pull: with a task
    "DriverManager": f"e :: DriverManager(label a, wait 5ms, goto a); {SRC} -> Discard",
    "EtherEncap": f"{IPSRC} -> e :: EtherEncap(0x0800, {ME}, {PEER}) -> Discard",
    "EtherRewrite": f"{SRC} -> e :: EtherRewrite({ME}, {PEER}) -> Discard",
    "EtherVLANEncap": f"{IPSRC} -> e :: EtherVLANEncap(0x0800, {ME}, {PEER}, VLAN_ID 5) -> Discard",
    "FTPPortMapper": f"{TCPSRC} -> e :: FTPPortMapper(ctl, data, 0) -> ctl :: TCPRewriter({NAPT});"
                     f"ctl[0] -> Discard; ctl[1] -> Discard;"
                     f"Idle -> data :: TCPRewriter({NAPT}) -> Discard; data[1] -> Discard",
    "FromDevice": "e :: FromDevice(pcap:{pcap}) -> Discard",
    "FromDump": "e :: FromDump({pcap}, TIMING true) -> Discard",
    "FromIPSummaryDump": "e :: FromIPSummaryDump({summary}) -> Discard",
    "FrontDropQueue": f"{SRC} -> e :: FrontDropQueue(100) -> Unqueue -> Discard",
    "FullNoteQueue": f"{SRC} -> e :: FullNoteQueue(100) -> Unqueue -> Discard",
    "HostEtherFilter": f"{SRC} -> e :: HostEtherFilter({PEER}) {OUT2}",
    "ICMPError": f"{IPSRC} -> e :: ICMPError(10.0.0.9, unreachable, needfrag) -> Discard",
    "ICMPIPEncap": f"{IPSRC} -> e :: ICMPIPEncap(10.0.0.1, 10.0.0.2, echo) -> Discard",
    "ICMPPingRewriter": f"{PINGSRC} -> e :: ICMPPingRewriter(pattern 203.0.113.1 - 0-65535# 0 1, "
                        f"drop) {OUT2}; Idle -> [1]e",
    "IPAddrPairRewriter": f"{IPSRC} -> e :: IPAddrPairRewriter(pattern 203.0.113.1 - 0 1) {OUT2}",
    "IPAddrRewriter": f"{IPSRC} -> e :: IPAddrRewriter(pattern 203.0.113.1 - 0 1) {OUT2}",
    "IPClassifier": f"{IPSRC} -> e :: IPClassifier(udp, -) {OUT2}",
    "IPEncap": f"{IPSRC} -> e :: IPEncap(4, 10.0.0.1, 10.0.0.2) -> Discard",
    "IPFilter": f"{IPSRC} -> e :: IPFilter(allow udp, deny all) -> Discard",
    "IPPrint": f"{IPSRC} -> e :: IPPrint -> Discard",
    "IPRewriter": f"{IPSRC} -> e :: IPRewriter({NAPT}) {OUT2}",
    "InfiniteSource": f"e :: InfiniteSource(DATA {UDP}) -> Discard",
    "InputSwitch": f"e :: InputSwitch(0) -> Discard; {SRC} -> [0]e; {SRC2} -> [1]e",
    "LinearIPLookup": f"{ROUTED} -> e :: LinearIPLookup({LOOKUP}) {OUT2}",
    "LinkUnqueue": f"{SRC} -> Queue -> e :: LinkUnqueue(1ms, 1Mbps) -> Discard",
    "MarkMACHeader": f"{SRC} -> e :: MarkMACHeader -> Discard",
    "MixedQueue": f"e :: MixedQueue(100) -> Unqueue -> Discard; {SRC} -> [0]e; {SRC2} -> [1]e",
    "NotifierQueue": f"{SRC} -> e :: NotifierQueue(100) -> Unqueue -> Discard",
    "Paint": f"{SRC} -> e :: Paint(1) -> Discard",
    "PaintTee": f"{SRC} -> e :: PaintTee(1) {OUT2}",
    "Print": f"{SRC} -> e :: Print(MAXLENGTH 8) -> Discard",
    "PullSwitch": f"e :: PullSwitch(0) -> Unqueue -> Discard; {SRC} -> Queue -> [0]e;"
                  f"{SRC2} -> Queue -> [1]e",
    "Queue": f"{SRC} -> e :: Queue(100) -> Unqueue -> Discard",
    "RadixIPLookup": f"{ROUTED} -> e :: RadixIPLookup({LOOKUP}) {OUT2}",
    "RandomSample": f"{SRC} -> e :: RandomSample(0.5) {OUT2}",
    "RandomSeed": f"e :: RandomSeed(1); {SRC} -> RandomSample(0.5) -> Discard",
    "RangeIPLookup": f"{ROUTED} -> e :: RangeIPLookup({LOOKUP}) {OUT2}",
    "RatedSource": f"e :: RatedSource(DATA {UDP}, RATE 5000) -> c :: Counter -> Discard",
    "RatedSplitter": f"{SRC} -> e :: RatedSplitter(1000) {OUT2}",
    "RatedUnqueue": f"{SRC} -> Queue -> e :: RatedUnqueue(1000) -> Discard",
    "Resize": f"{SRC} -> e :: Resize(0, 0) -> Discard",
    "Script": "e :: Script(TYPE PASSIVE, export x 1, label a, set x $(add $x 1), return $x); "
              f"{SRC} -> Discard",
    "SetIPAddress": f"{IPSRC} -> e :: SetIPAddress(10.0.0.3) -> Discard",
    "SetIPDSCP": f"{IPSRC} -> e :: SetIPDSCP(10) -> Discard",
    "SetTimestampDelta": f"{SRC} -> e :: SetTimestampDelta -> Discard",
    "SetVLANAnno": f"{SRC} -> e :: SetVLANAnno(VLAN_ID 5) -> Discard",
    "Shaper": f"{SRC} -> Queue -> e :: Shaper(1000) -> Unqueue -> Discard",
    "SimplePullSwitch": f"e :: SimplePullSwitch(0) -> Unqueue -> Discard; {SRC} -> Queue -> [0]e; "
                        f"{SRC2} -> Queue -> [1]e",
    "SimpleQueue": f"{SRC} -> e :: SimpleQueue(100) -> Unqueue -> Discard",
    "StrideSched": f"e :: StrideSched(1, 2) -> Unqueue -> Discard; {SRC} -> Queue -> [0]e;"
                   f"{SRC2} -> Queue -> [1]e",
    "StripEtherVLANHeader": f"{IPSRC} -> EtherVLANEncap(0x0800, {ME}, {PEER}, VLAN_ID 5) "
                            f"-> e :: StripEtherVLANHeader {OUT2}",
    "Switch": f"{SRC} -> e :: Switch(0) {OUT2}",
    "TCPRewriter": f"{TCPSRC} -> e :: TCPRewriter({NAPT}) {OUT2}",
    "TimeFilter": f"{SRC} -> e :: TimeFilter(START_DELAY 0, END_DELAY 1000) {OUT2}",
    "TimedSink": f"{SRC} -> Queue -> e :: TimedSink(1ms)",
    "TimedSource": f"e :: TimedSource(1ms, DATA {UDP}) -> Discard",
    "ToDevice": f"{SRC} -> Queue -> e :: ToDevice(pcap:{{dir}}/out.pcap)",
    "ToDump": f"{SRC} -> Queue -> e :: ToDump({{dir}}/out.pcap)",              # pull: with a task
    "ToIPSummaryDump": f"{IPSRC} -> Queue -> e :: ToIPSummaryDump({{dir}}/out.txt)",   # the same
    "Truncate": f"{SRC} -> e :: Truncate(40) -> Discard",
    "UDPIPEncap": f"{IPSRC} -> e :: UDPIPEncap(10.0.0.1, 1000, 10.0.0.2, 9) -> Discard",
    "UDPRewriter": f"{IPSRC} -> e :: UDPRewriter({NAPT}) {OUT2}",
    "Unqueue": f"{SRC} -> Queue -> e :: Unqueue -> Discard",
    "VLANEncap": f"{SRC} -> e :: VLANEncap(VLAN_ID 5) -> Discard",
}



def config_for(class_name, workdir) -> str:
    """CONFIGS[class_name] naming files made in workdir."""
    files = make_files(workdir)
    config = CONFIGS[class_name]
    if "{policy}" in config:
        make_policy(workdir)
    for name, path in files.items():
        config = config.replace("{" + name + "}", path)
    return config


# Classes that cannot run here, each with the reason.
SKIPPED = {
    "FromHost": "needs root and /dev/net/tun (a Linux tun device); "
                "its only write handler is the generic 'tickets'",
}

# Known failures in files this change may not touch: (class, handler) -> reason.
XFAIL: dict[tuple[str, str], str] = {}


# --- which handlers to sweep --------------------------------------------------------------


def declared_write_handlers(cls) -> list[str]:
    """Write handlers a class has before it runs: its own and the generic ones.

    A class with a ``task`` attribute gets the generic 'tickets' handler.
    Handlers an element adds when configured or initialized (extra_handlers,
    a task made by a Python element) are swept by test_runtime_write_handlers.
    """
    names = [h.name for h in getattr(cls, "handlers", ()) or () if h.write is not None]
    try:
        generic = generic_handlers(cls.__new__(cls))
    except Exception:  # an element that cannot be made bare: its live_reconfigure decides
        generic = []
    names += [h.name for h in generic if h.write is not None]
    if "task" in dir(cls):
        names.append("tickets")
    return list(dict.fromkeys(names))


def _library_classes() -> dict[str, type]:
    return {name: cls for name, cls in registry.element_classes().items()
            if cls.__module__.startswith("clickpy.elements.")}


def _cases():
    cases = []
    for name, cls in sorted(_library_classes().items()):
        if name in SKIPPED:
            continue
        for handler in declared_write_handlers(cls):
            marks = []
            if (name, handler) in XFAIL:
                marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[(name, handler)]))
            cases.append(pytest.param(name, handler, id=f"{name}.{handler}", marks=marks))
    return cases


def test_every_class_is_swept():
    missing = sorted(name for name, cls in _library_classes().items()
                     if declared_write_handlers(cls) and name not in CONFIGS | SKIPPED.keys())
    assert not missing, f"classes with write handlers but no sweep config in CONFIGS: {missing}"
    stale = sorted(set(CONFIGS) - set(_library_classes()))
    assert not stale, f"CONFIGS names classes that no longer exist: {stale}"


# --- the sweep, in a child process ----------------------------------------------------------


def _short(value) -> str:
    if value is CURRENT:
        return "<current value>"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-8:]} ({len(value)} chars)"


def _integer(text):
    t = text.strip()
    if t[:1] == "-":
        t = t[1:]
    return int(text) if t.isdigit() and t.isascii() else None


def _wrapped(written: int, back: int) -> bool:
    """Does back look like written cut to a 32- or 64-bit C field, either sign?
    (A value pinned to a bound, as Click pins tickets, is not.)"""
    if back == written:
        return False
    for bits in (32, 64):
        low = written & ((1 << bits) - 1)
        if back in (low, low - (1 << bits)):
            return True
    return False


class _Child:
    """Runs the sweep of one (class, handler) in this (forked) process."""

    def __init__(self, class_name, handler_name, config, out_fd, log_path):
        self.class_name, self.handler_name = class_name, handler_name
        self.config, self.out_fd, self.log_path = config, out_fd, log_path
        self.unraisable = []

    def send(self, **msg):
        os.write(self.out_fd, (json.dumps(msg) + "\n").encode())

    def build(self):
        from clickpy import pipeline
        from clickpy.runtime.router import Router

        router = Router.from_plan(pipeline.plan(pipeline.Source(self.config, "sweep.click")))
        return router, router.element("e")

    def reads(self, router, e, calm_only=False):
        """{handler name: text or an error marker} for e's read handlers."""
        out = {}
        for name, h in list(router.element_handlers(e).items()):
            if not h.readable or (calm_only and not (h.calm or name == "config")):
                continue
            try:
                out[name] = format_value(h.read(e, None) if h.read_param else h.read(e))
            except HandlerError as err:
                out[name] = f"<HandlerError {err}>"
        return out

    def run_router(self, router, seconds, when) -> list[str]:
        """Run router for seconds of real time; what it raised or printed meanwhile."""
        from clickpy.runtime.scheduler import Timer

        def stop(timer):
            router.stop_hooks.clear()    # a DriverManager would keep it going: this run is bounded
            router.please_stop_driver()

        mark = os.lseek(2, 0, os.SEEK_CUR)
        self.unraisable.clear()
        t = Timer(callback=stop)
        t.initialize(router.scheduler)
        t.schedule_after(seconds)
        router.run()
        t.unschedule()
        problems = [f"raised while running {when}: {exc}" for exc in self.unraisable]
        sys.stderr.flush()
        with open(self.log_path, "rb") as log:
            log.seek(mark)
            printed = log.read().decode("latin-1")
        for marker in ("Traceback (most recent call last)", "Exception ignored"):
            if marker in printed:
                at = printed.index(marker)
                problems.append(f"printed while running {when}: " + printed[at:at + 600].strip())
                break
        return problems

    def one(self, value) -> list[str]:
        router, e = self.build()
        try:
            h = router.handler(e, self.handler_name)
            if h is None or not h.writable:
                return [f"{self.class_name} has no write handler '{self.handler_name}'"]
            # The write comes while packets flow, as it would in a running router.
            problems = self.run_router(router, WARM_UP_SECONDS, "before the write")
            if value is CURRENT:
                if not h.readable:
                    return problems
                value = format_value(h.read(e, None) if h.read_param else h.read(e))
            before = self.reads(router, e, calm_only=True)
            try:
                result = h.write(e, value)
                rejected = isinstance(result, str) and bool(result)
            except HandlerError as err:
                rejected = True
                if not str(err).strip():
                    problems.append("HandlerError without a message")
            if rejected:
                after = self.reads(router, e, calm_only=True)
                changed = [f"{k} {before[k]!r} -> {after.get(k)!r}" for k in before
                           if after.get(k) != before[k]]
                if changed:
                    problems.append("rejected, but changed " + "; ".join(changed)[:400])
            elif h.readable and not h.read_param and _integer(value) is not None:
                back = _integer(format_value(h.read(e)))
                if back is not None and _wrapped(_integer(value), back):
                    problems.append(f"accepted, but reads back {back} (cut to a C field)")
            problems += self.run_router(router, RUN_SECONDS, "after the write")
            self.reads(router, e)
        except Exception as exc:
            problems.append(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-4)}")
        finally:
            router.cleanup()
        return problems

    def run(self, values, first=0):
        def hook(u):
            self.unraisable.append(f"{u.exc_type.__name__}: {u.exc_value} (in {u.object!r})")

        sys.unraisablehook = hook
        faulthandler.enable()   # a crash prints where it happened
        for i in range(first, len(values)):
            self.send(start=i)
            # A hang prints where it is, shortly before the parent gives up.
            faulthandler.dump_traceback_later(VALUE_TIMEOUT * 0.8)
            problems = self.one(values[i])
            faulthandler.cancel_dump_traceback_later()
            self.send(done=i, problems=problems)


def sweep(class_name, handler_name, tmp_path, values=None) -> list[str]:
    """Problems found writing each value to class_name's handler, one line each.

    Values go to a forked child, in order; when one hangs or kills the
    child, it is reported and a new child goes on with the next value.
    """
    values = list(HOSTILE) + [CURRENT] if values is None else values
    config = config_for(class_name, str(tmp_path))
    label = f"{class_name}.{handler_name}"
    problems, first = [], 0
    while first < len(values):
        found, stopped_at = _sweep_in_child(label, class_name, handler_name, config, values, first,
                                            str(tmp_path))
        problems += found
        if stopped_at is None:
            break
        first = stopped_at + 1
    return problems


def _sweep_in_child(label, class_name, handler_name, config, values, first, workdir):
    """Run values[first:] in a child: (problems, index of a value that hung or
    killed the child, or None when the child finished)."""
    log_path = os.path.join(workdir, "child.log")
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(r)
            os.chdir(workdir)
            log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            with open("/proc/self/statm") as f:
                size = int(f.read().split()[0]) * resource.getpagesize()
            resource.setrlimit(resource.RLIMIT_AS, (size + MEMORY_LIMIT, hard))
            _Child(class_name, handler_name, config, w, log_path).run(values, first)
        except BaseException:
            try:
                os.write(w, (json.dumps({"fatal": traceback.format_exc()}) + "\n").encode())
            except OSError:
                pass
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    problems, current, buf, hung, log_mark = [], None, b"", False, 0
    deadline = time.monotonic() + VALUE_TIMEOUT
    try:
        while True:
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                hung = True
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(r, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                if "start" in msg:
                    current = msg["start"]
                    log_mark = _log_size(log_path)
                    deadline = time.monotonic() + VALUE_TIMEOUT
                elif "done" in msg:
                    value = _short(values[msg["done"]])
                    problems += [f"{label} <- {value}: {p}" for p in msg["problems"]]
                    current = None
                elif "fatal" in msg:
                    problems.append(f"{label}: the sweep failed: {msg['fatal']}")
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    if current is None:
        return problems, None
    if hung:
        why = f"hung (no answer within {VALUE_TIMEOUT:g}s)"
    elif os.WIFSIGNALED(status):
        why = f"the process died of signal {os.WTERMSIG(status)}"
    else:
        why = f"the process ended (exit status {os.WEXITSTATUS(status)})"
    problems.append(f"{label} <- {_short(values[current])}: {why}\n{_log_tail(log_path, log_mark)}")
    return problems, current


def _log_size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _log_tail(path, start, n=4000) -> str:
    """What the child printed from offset start on (its last n characters)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(start, _log_size(path) - n))
            return f.read().decode("latin-1")
    except OSError:
        return ""


@pytest.mark.parametrize("class_name, handler_name", _cases())
def test_write_handler_hostile(class_name, handler_name, tmp_path):
    problems = sweep(class_name, handler_name, tmp_path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("class_name", sorted(set(CONFIGS) - set(SKIPPED)))
def test_runtime_write_handlers(class_name, tmp_path):
    """Write handlers an element makes when configured or initialized get the same sweep."""
    from clickpy import pipeline
    from clickpy.runtime.router import Router

    config = config_for(class_name, str(tmp_path))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        router = Router.from_plan(pipeline.plan(pipeline.Source(config, "sweep.click")))
        try:
            e = router.element("e")
            assert type(e).__name__ == class_name, f"the element named e is a {type(e).__name__}"
            runtime = [name for name, h in router.element_handlers(e).items() if h.writable]
        finally:
            router.cleanup()
    finally:
        os.chdir(cwd)
    extra = [name for name in runtime if name not in declared_write_handlers(type(e))]
    problems = []
    for name in extra:
        problems += sweep(class_name, name, tmp_path)
    assert not problems, "\n".join(problems)


# --- the values that started issue 9, with their meaning checked ---------------------------


@pytest.mark.parametrize("config", [
    "src :: RatedSource(LENGTH 60, RATE 5000) -> c :: Counter -> Discard",
    "InfiniteSource(LENGTH 60) -> Queue -> src :: RatedUnqueue(5000) -> c :: Counter -> Discard",
])
def test_rate_0_sends_nothing_and_a_new_rate_sends_again(config):
    from support import build_router

    r = build_router(config, simulated=True)
    run_for(r, 0.1)
    assert int(r.read("c.count")) >= 400
    r.write("src.rate", "0")
    before = int(r.read("c.count"))
    run_for(r, 1.0)
    assert int(r.read("c.count")) == before       # Click: a rate of 0 sends nothing
    assert r.read("src.rate") == "0"
    r.write("src.rate", "1000")
    run_for(r, 0.1)
    assert 90 <= int(r.read("c.count")) - before <= 130   # 100, and a burst's worth at most
