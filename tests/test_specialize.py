"""clickpy.specialize and clickpy.spec_cache: a Plan's own module, built once
and kept; its functions go only to elements whose program they were made
for; `clickpy run --specialize` uses it without changing what a config does.
(That specialised filters classify as the generic ones do is shown in
tests/elements/ip/test_ip_filter_semantics.py.)"""
import subprocess
import sys

import pytest
from support import build_router

from clickpy import pipeline, spec_cache, specialize

FIREWALL = """Idle -> fw :: IPFilter(allow tcp dst port 80, allow udp dst port 53 53 && src net 10.0.0.0/8,
                             1 icmp type echo, deny all);
fw[0] -> Discard; fw[1] -> Discard;
Idle -> c :: IPClassifier(tcp, udp, -) => Discard, Discard, Discard;
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLICKPY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def plan_of(text):
    return pipeline.plan(pipeline.Source(text, "test.click"))


def test_the_module_holds_a_straight_line_walk_per_filter_that_has_steps():
    spec = specialize.generate(plan_of(FIREWALL))
    assert [w.element for w in spec.walks] == ["c", "fw"]
    assert spec.module == specialize.module_name(spec.plan_hash)
    assert "goto s1;" in spec.source and "return 1;" in spec.source
    assert "static int clickpy_walk_0(const unsigned char **base)" in spec.source


def test_an_element_name_cannot_end_the_comment_it_is_written_in():
    text = specialize.walk_c("f", "a*/b", ((1, 0, 0xff, (4,), ("out", 1), ("out", 0)),))
    assert "a*/b" not in text and text.count("*/") == 1      # its own comment's end only


def test_a_plan_is_compiled_once_then_loaded_from_the_cache(cache, monkeypatch):
    plan = plan_of(FIREWALL)
    module = spec_cache.load(plan)
    assert module.PLAN_HASH == plan.content_hash and set(module.WALKS) == {"fw", "c"}
    assert [p.name for p in spec_cache.entries()] == [spec_cache.cached_path(plan.content_hash).name]

    def no_build(_spec):
        raise AssertionError("built again")
    monkeypatch.setattr(spec_cache, "build", no_build)
    assert spec_cache.load(plan) is module


def test_a_graph_with_nothing_to_specialise_builds_nothing(cache):
    assert spec_cache.load(plan_of("Idle -> Discard")) is None
    assert spec_cache.entries() == []


def test_functions_go_only_to_elements_running_the_program_they_were_made_for(cache):
    router = build_router(FIREWALL)
    module = spec_cache.load(router.plan)
    fw = router.find("fw")
    router.write("fw.config", "allow tcp dst port 443, deny all")     # another program since the build
    done = specialize.install(router, module)
    assert (done["installed"], done["refused"]) == (["c"], ["fw"])
    assert router.find("c").specialized and not fw.specialized


def test_reconfiguring_a_specialised_filter_brings_back_the_generic_walk(cache):
    router = build_router(FIREWALL)
    specialize.install(router, spec_cache.load(router.plan))
    fw = router.find("fw")
    assert fw.specialized
    router.write("fw.config", "allow tcp dst port 443, deny all")
    assert not fw.specialized


def test_a_module_made_for_another_graph_installs_nothing_wrong(cache):
    other = spec_cache.load(plan_of(FIREWALL.replace("dst port 80", "dst port 8080")))
    router = build_router(FIREWALL)
    done = specialize.install(router, other)
    assert done["installed"] == ["c"] and done["refused"] == ["fw"]  # c is the same program in both


def test_the_cache_keeps_to_its_size_limit_dropping_the_least_recently_used(cache):
    a, b = plan_of(FIREWALL), plan_of(FIREWALL.replace("80", "81"))
    spec_cache.load(a)
    spec_cache.load(b)
    newest = spec_cache.cached_path(b.content_hash)
    assert spec_cache.prune(limit=newest.stat().st_size) == 1
    assert [p.name for p in spec_cache.entries()] == [newest.name]


def test_clearing_the_cache_removes_its_modules_and_nothing_else(cache):
    spec_cache.load(plan_of(FIREWALL))
    (cache / "notes.txt").write_text("mine")
    assert spec_cache.clear() == 1
    assert spec_cache.entries() == [] and (cache / "notes.txt").read_text() == "mine"


def test_a_build_that_fails_is_a_clear_error(cache, monkeypatch):
    monkeypatch.setattr(spec_cache.sysconfig, "get_config_var",
                        lambda name: "/nonexistent/cc" if name == "CC" else None)
    with pytest.raises(spec_cache.BuildError, match="the C compiler is not installed"):
        spec_cache.load(plan_of(FIREWALL))
    assert spec_cache.entries() == [] and not list(cache.glob(".build-*"))


CONFIG = """InfiniteSource(\\<45000028 00010000 40060000 0a000001 0a000002 04d20050 00000000 00000000
                           50020000 00000000>, LIMIT 1000, STOP true)
  -> MarkIPHeader -> fw :: IPFilter(allow src net 10.0.0.0/8 && dst port 80, 1 icmp, deny all)
  -> a :: Counter -> Discard;
fw[1] -> b :: Counter -> Discard;
"""


def run(*args, env_cache):
    import os
    env = dict(os.environ, CLICKPY_CACHE_DIR=str(env_cache))
    return subprocess.run([sys.executable, "-m", "clickpy", "run", *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize("mode", ["off", "wait"])
def test_clickpy_run_gives_the_same_result_specialised_or_not(tmp_path, mode):
    r = run(f"--specialize={mode}", "-e", CONFIG, "-h", "a.count", "-h", "b.count", "-h", "specialized",
            env_cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["a.count:", "1000", "b.count:", "0", "specialized:",
                                *(["installed:", "fw;", "fused", "chains:", "1"] if mode == "wait" else ["off"])]


def test_waiting_for_the_module_does_not_eat_into_the_configuration_s_own_timers(tmp_path):
    # The module is compiled (a second or more) before the router is
    # initialized, when DriverManager's wait starts: the source gets its 0.3 s.
    config = ("RatedSource(RATE 100, LIMIT -1) -> c :: Counter -> cl :: Classifier(12/0800, -) -> Discard;"
              "cl[1] -> Discard; DriverManager(wait 0.3s, stop)")
    r = run("--specialize=wait", "-e", config, "-h", "c.count", "-h", "specialized", env_cache=tmp_path)
    assert r.returncode == 0, r.stderr
    values = r.stdout.split()
    assert values[0] == "c.count:" and int(values[1]) >= 15
    assert values[2:4] == ["specialized:", "installed:"]


def test_building_the_module_first_says_each_message_and_error_once(tmp_path):
    # The module is made from a router of its own (configured, never run):
    # what that router's elements report is not the run's to print.
    config = 'Message("hello"); Idle -> Classifier(12/0800, -) => Discard, Discard; DriverManager(stop);'
    r = run("--specialize=wait", "-e", config, env_cache=tmp_path)
    assert r.returncode == 0 and r.stderr.count("hello") == 1, r.stderr
    r = run("--specialize=wait", "-e", "InfiniteSource(BURST x) -> Classifier(12/0800, -) => Discard, Discard;",
            env_cache=tmp_path)
    assert r.returncode == 1 and r.stderr.count("BURST: expected integer") == 1, r.stderr


def test_a_module_that_failed_before_the_router_was_built_is_not_built_again(tmp_path, monkeypatch, capsys):
    from clickpy.cli import run as run_command

    tried = []

    def failing(spec):
        tried.append(spec.module)
        raise spec_cache.BuildError("the C compiler failed: no cc")

    monkeypatch.setattr(spec_cache, "build", failing)
    monkeypatch.setenv("CLICKPY_CACHE_DIR", str(tmp_path))
    config = "InfiniteSource(LIMIT 5, STOP true) -> Classifier(12/0800, -) => Discard, Discard;"
    assert run_command.main(["--specialize=wait", "-e", config, "-h", "specialized"]) == 0
    out, err = capsys.readouterr()
    assert len(tried) == 1
    assert out.strip() == "failed: the C compiler failed: no cc"
    assert err.count("the C compiler failed: no cc") == 1


def test_clickpy_run_switches_to_the_module_when_the_background_build_is_ready(tmp_path):
    # The router runs on the generic path at once; a script waits for the switch.
    config = CONFIG.replace("LIMIT 1000, STOP true", "LIMIT -1, BURST 1") + """
        Script(label again, wait 0.05, goto again $(in $(specialized) building), stop);"""
    r = run("--specialize=on", "-e", config, "-h", "specialized", env_cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "installed: fw; fused chains: 1"


def test_clickpy_cache_shows_and_clears_the_folder(tmp_path):
    import os
    env = dict(os.environ, CLICKPY_CACHE_DIR=str(tmp_path))
    run("--specialize=wait", "-e", CONFIG, env_cache=tmp_path)

    def cache(*args):
        return subprocess.run([sys.executable, "-m", "clickpy", "cache", *args], capture_output=True,
                              text=True, timeout=60, env=env)
    assert "modules  1" in cache().stdout
    assert cache("clear").stdout.strip() == f"removed 1 specialised module from {tmp_path}"
    assert "modules  0" in cache().stdout


def test_a_cache_folder_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CLICKPY_CACHE_DIR", str(blocker / "cache"))     # under a file: cannot exist
    with pytest.raises(spec_cache.BuildError, match="cannot write the cache folder"):
        spec_cache.load(plan_of(FIREWALL))
    r = run("--specialize=wait", "-e", CONFIG, "-h", "a.count", env_cache=blocker / "cache")
    assert r.returncode == 0 and r.stdout.split() == ["1000"]
    assert "warning: no specialised module, the generic path runs on: cannot write" in r.stderr


def test_after_a_reload_the_new_graph_gets_its_own_module_in_the_background(tmp_path, monkeypatch):
    import time

    from support import start_router

    def clickpy(*args):
        return subprocess.run([sys.executable, "-m", "clickpy", *args], capture_output=True, text=True,
                              timeout=120)

    def until_installed(sock):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = clickpy("read", str(sock), "specialized").stdout.strip()
            if state != "building":
                return state
            time.sleep(0.1)
        return "timed out"

    live = CONFIG.replace("LIMIT 1000, STOP true", "LIMIT -1, BURST 1")
    sock = tmp_path / "ctl"
    monkeypatch.setenv("CLICKPY_CACHE_DIR", str(tmp_path / "cache"))
    proc = start_router(live, sock, "-R", "--specialize=wait")
    try:
        assert until_installed(sock) == "installed: fw; fused chains: 1"
        new = tmp_path / "new.click"
        new.write_text(live.replace("dst port 80", "dst port 443"))
        r = clickpy("reload", str(sock), str(new))
        assert r.returncode == 0, r.stderr
        assert "replaced 1 (fw)" in r.stdout
        assert until_installed(sock) == "installed: fw; fused chains: 1"   # built for the new graph
        assert clickpy("read", str(sock), "fw.specialized").stdout.strip() == "true"
        assert "dst port 443" in clickpy("read", str(sock), "fw.config").stdout
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


# --- fused push chains ------------------------------------------------------------

# Frames that take every way through the chain: allowed UDP, denied telnet,
# an IP header with a bad checksum (CheckIPHeader drops it), and ARP.
UDP_8080 = ("0011223344550066778899aa080045000032000000004011ad050a010203c0a8010a"
            "30391f90001e000000000000000000000000000000000000000000000000")
TCP_23 = ("0011223344550066778899aa080045000028000000004006ad1a0a010203c0a8010a"
          "30390017000000000000000050020000fb8a0000")
BAD_SUM = UDP_8080.replace("ad05", "0000")
ARP = "ffffffffffff0066778899aa0806" + "00" * 46

CHAIN = "cl :: Classifier(12/0800, 12/0806, -);\n" + "\n".join(
    f"InfiniteSource(DATA \\<{frame}>, LIMIT {n}, BURST 1, STOP true) -> cl;"
    for frame, n in ((UDP_8080, 300), (TCP_23, 200), (BAD_SUM, 100), (ARP, 50))) + """
cl[0] -> Strip(14) -> chk :: CheckIPHeader -> fw :: IPFilter(deny tcp dst port 23, allow udp, deny all)
      -> ok :: Counter -> Discard;
cl[1] -> arp :: Counter -> Discard;
cl[2] -> other :: Counter -> Discard;
DriverManager(pause, pause, pause, pause, stop);   // until every source is done
"""
HANDLERS = ["ok.count", "arp.count", "other.count", "chk.drops", "fw.specialized"]


def test_fuse_kinds_follow_the_push_each_class_runs(cache):
    router = build_router(CHAIN + "Idle -> q :: Queue -> Unqueue -> t :: Tee -> Discard; t[1] -> Discard;")
    kinds = specialize.fuse_kinds(router)
    assert [kinds[n] for n in ("cl", "Strip@6", "chk", "fw", "ok", "q", "t", "Discard@10")] == \
        ["classifier", "simple", "branch", "ipfilter", "simple", "push", "push", "push"]


def test_each_source_output_gets_one_chain_running_the_whole_path(cache):
    router = build_router(CHAIN)
    done = specialize.install(router, spec_cache.load(router.plan))
    assert done["chains"] == 4                          # one per source, into the same path
    module = spec_cache.load(router.plan)
    assert [c[0] for c in module.CHAINS] == [f"InfiniteSource@{i}" for i in range(2, 6)]
    assert module.CHAINS[0][4] == ["cl", "Strip@6", "chk", "fw", "ok", "Discard@10",
                                   "arp", "Discard@12", "other", "Discard@14"]
    from clickpy.runtime import fusion
    src = router.find("InfiniteSource@2")
    assert fusion.output_is_fused(src, 0)
    assert src.output_peer(0)[0] is router.find("cl")   # what handlers and tools see is unchanged
    specialize.unfuse(router)
    assert not fusion.output_is_fused(src, 0)


@pytest.mark.parametrize("mode", ["off", "wait"])
def test_a_fused_chain_sends_every_packet_where_the_generic_path_does(tmp_path, mode):
    r = run(f"--specialize={mode}", "-e", CHAIN, *[a for h in HANDLERS for a in ("-h", h)],
            "-h", "specialized", env_cache=tmp_path)
    assert r.returncode == 0, r.stderr
    values = r.stdout.split()
    assert values[:10] == ["ok.count:", "300", "arp.count:", "50", "other.count:", "0",
                           "chk.drops:", "100", "fw.specialized:", "true" if mode == "wait" else "false"]
    assert " ".join(values[10:]) == ("specialized: installed: cl fw; fused chains: 4" if mode == "wait"
                                     else "specialized: off")


def test_chains_go_only_into_the_graph_they_were_made_for(cache):
    rewired = CHAIN.replace("cl[1] -> arp", "cl[1] -> Strip(14) -> arp")
    router = build_router(rewired)
    other = spec_cache.load(plan_of(CHAIN))
    done = specialize.install(router, other)
    assert done["chains"] == 0 and not getattr(router, "fused_chains", [])


def test_a_chain_runs_the_generic_walk_of_a_filter_reconfigured_since(cache):
    router = build_router(CHAIN)
    specialize.install(router, spec_cache.load(router.plan))
    router.write("fw.config", "deny udp, allow all")      # the chain's inlined walk no longer applies
    from support import run_for
    run_for(router, 0.2)
    assert router.read("ok.count") == "200"              # the telnet packets, not the UDP ones


def test_a_reload_takes_the_chains_out_before_it_rewires(cache):
    from support import run_for

    from clickpy.runtime import fusion

    config = CHAIN.replace("LIMIT 300", "LIMIT -1")
    router = build_router(config)
    specialize.install(router, spec_cache.load(router.plan))
    src = router.find("InfiniteSource@2")
    assert fusion.output_is_fused(src, 0)
    report = router.reload(plan_of(config.replace("-> ok :: Counter", "-> ok :: Counter -> more :: Counter")))
    assert report.added == ["more"] or "more" in report.added
    assert not fusion.output_is_fused(src, 0) and router.fused_chains == []
    run_for(router, 0.05)
    assert int(router.read("more.count")) > 0            # packets take the new wiring


def _mixed_trace(path, n: int = 600) -> None:
    """A pcap of n frames of the four kinds above, in an irregular order, each
    with its sequence number in its last two bytes (outside every header)."""
    import random
    import struct

    kinds = [bytes.fromhex(f) for f in (UDP_8080, TCP_23, BAD_SUM, ARP)]
    rng = random.Random(7)
    records = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    for i in range(n):
        frame = bytearray(kinds[rng.choice((0, 0, 0, 1, 2, 3))])
        frame[-2:] = struct.pack(">H", i)
        records.append(struct.pack("<IIII", 1000 + i, 0, len(frame), len(frame)) + bytes(frame))
    path.write_bytes(b"".join(records))


def _sequence_numbers(pcap: bytes) -> list[int]:
    import struct

    numbers, at = [], 24
    while at < len(pcap):
        caplen = struct.unpack_from("<I", pcap, at + 8)[0]
        numbers.append(struct.unpack_from(">H", pcap, at + 16 + caplen - 2)[0])
        at += 16 + caplen
    return numbers


# Batches (FromDump pushes up to 32 packets at a time) through a chain whose
# exits (two Tees, a ToDump, a PaintTee that sends copies from classify)
# all lead to one ToDump: the file shows the order packets reach it.
BATCH_CHAIN = """
FromDump(IN, STOP true) -> cl :: Classifier(12/0800, 12/0806, -);
cl[0] -> Strip(14) -> chk :: CheckIPHeader -> fw :: IPFilter(1 tcp dst port 23, allow udp, deny all)
      -> Unstrip(14) -> ok :: Counter -> t1 :: Tee(1) -> td :: ToDump(OUT);
fw[1] -> Paint(1) -> Unstrip(14) -> pt :: PaintTee(1);
pt[0] -> t2 :: Tee(1) -> td;
pt[1] -> td;
cl[1] -> td;
cl[2] -> Discard;
"""


@pytest.mark.parametrize("mode", ["off", "wait"])
def test_a_fused_batch_reaches_every_exit_in_the_order_the_generic_path_does(tmp_path, mode):
    trace = tmp_path / "in.pcap"
    _mixed_trace(trace)
    outputs = {}
    for m in ("off", mode):
        out = tmp_path / f"out-{m}.pcap"
        config = BATCH_CHAIN.replace("IN", str(trace)).replace("OUT", str(out))
        r = run(f"--specialize={m}", "-e", config, "-h", "ok.count", "-h", "specialized", env_cache=tmp_path)
        assert r.returncode == 0, r.stderr
        outputs[m] = (out.read_bytes(), r.stdout.split())
    data, stdout = outputs[mode]
    assert data == outputs["off"][0]
    # UDP once, telnet twice (PaintTee's copy), ARP once; bad checksums not at all
    sequence = _sequence_numbers(data)
    assert len(sequence) > 500 and len(set(sequence)) < len(sequence)
    assert stdout[:2] == ["ok.count:", str(outputs["off"][1][1])] and int(stdout[1]) > 200
    if mode == "wait":
        assert stdout[2:] == ["specialized:", "installed:", "cl", "fw;", "fused", "chains:", "1"]


@pytest.mark.parametrize("mode", ["off", "wait"])
def test_a_counter_calling_a_handler_keeps_per_packet_order_in_a_fused_batch(tmp_path, mode):
    # At the 250th packet the counter past the chain's exit (the Tee) is
    # reset: the 249 packets before must have reached it by then (as pushing
    # one packet at a time gives), not be waiting at the exit with the rest
    # of their batch.
    trace = tmp_path / "in.pcap"
    _mixed_trace(trace)
    config = (f"FromDump({trace}, STOP true) -> c :: Counter(COUNT_CALL 250 out.reset) -> Strip(14)"
              " -> cl :: Classifier(-) -> Tee(1) -> out :: Counter -> Discard;")
    r = run(f"--specialize={mode}", "-e", config, "-h", "out.count", "-h", "specialized", env_cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:2] == ["out.count:", "351"]
    assert ("fused chains: 2" in r.stdout) == (mode == "wait")


def test_a_batch_chain_runs_its_first_elements_on_the_whole_batch(cache):
    source = specialize.generate(plan_of(
        "InfiniteSource(BURST 32) -> c :: Counter -> Null -> Paint(2) -> cl :: Classifier(12/0800, -);"
        "cl[0] -> Discard; cl[1] -> Counter -> Discard;")).source
    batch_fn = source.split("cdef void clickpy_chain_0_batch")[1]
    head, packets = batch_fn.split("for k in range(n):\n        p = b.p[k]")
    # Counter may want packet order: the batch then goes packet by packet
    assert "if (<Element> els[0]).wants_packet_order() or (<Element> els[" in head
    assert "(<Element> els[0]).simple_action_batch(b)" in head and "simple_action_batch(b)" in head.split("(Paint)")[1]
    assert "# cl (Classifier)" in packets and "exit_add(&run, els[" in packets


def test_a_branch_that_emits_ends_a_batch_chain_but_not_a_packet_chain(cache):
    from clickpy.elements.standard.paint_tee import PaintTee
    from clickpy.runtime.branch import BranchElement

    assert PaintTee.emits and not BranchElement.emits
    source = specialize.generate(plan_of(BATCH_CHAIN.replace("IN", "in.pcap").replace("OUT", "out.pcap"))).source
    packet_fn, batch_fn = source.split("cdef void clickpy_chain_0")[1:3]
    assert "(<BranchElement> els[" in packet_fn and "# pt (PaintTee)" in packet_fn
    assert "# pt (PaintTee)" not in batch_fn and "exit_add(&run, els[" in batch_fn


def test_every_branch_that_emits_says_so():
    """A BranchElement whose classify calls emit must set emits (a batch chain
    would let its copies pass packets waiting to leave)."""
    import re
    from pathlib import Path

    import clickpy.elements

    root = Path(clickpy.elements.__file__).parent
    for pyx in root.rglob("*.pyx"):
        text = pyx.read_text()
        if "(BranchElement)" in text and re.search(r"self\.emit\(", text):
            assert re.search(r"^    emits = True", text, re.M), f"{pyx.name} emits but does not say so"


def test_a_python_element_ends_a_chain_and_runs_as_it_does_unfused(tmp_path):
    (tmp_path / "tag.py").write_text(
        "import clickpy\n"
        "class Halve(clickpy.Element):\n"
        "    port_count = '1/1'\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.n = 0\n"
        "    def simple_action(self, p):\n"
        "        self.n += 1\n"
        "        return p if self.n % 2 else None\n")
    config = ('require(package "tag.py"); InfiniteSource(LIMIT 10, BURST 1, STOP true) -> a :: Counter '
              '-> Halve -> b :: Counter -> Discard')
    r = subprocess.run([sys.executable, "-m", "clickpy", "run", "--specialize=wait", "-e", config,
                        "-h", "a.count", "-h", "b.count", "-h", "specialized"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env={**__import__("os").environ, "CLICKPY_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    # two chains: into a, and out of the Python element into b
    assert r.stdout.split() == ["a.count:", "10", "b.count:", "5", "specialized:", "nothing", "installed;",
                                "fused", "chains:", "2"]


def test_a_background_build_that_fails_says_why(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = CONFIG.replace("LIMIT 1000, STOP true", "LIMIT -1, BURST 1") + """
        Script(label again, wait 0.05, goto again $(in $(specialized) building), stop);"""
    r = run("--specialize=on", "-e", config, "-h", "specialized", env_cache=blocker / "cache")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("failed: cannot write the cache folder")
