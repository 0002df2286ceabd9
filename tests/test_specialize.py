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
    assert done == {"installed": ["c"], "refused": ["fw"]}
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
                                *(["installed:", "fw"] if mode == "wait" else ["off"])]


def test_clickpy_run_switches_to_the_module_when_the_background_build_is_ready(tmp_path):
    # The router runs on the generic path at once; a script waits for the switch.
    config = CONFIG.replace("LIMIT 1000, STOP true", "LIMIT -1, BURST 1") + """
        Script(label again, wait 0.05, goto again $(in $(specialized) building), stop);"""
    r = run("--specialize=on", "-e", config, "-h", "specialized", env_cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "installed: fw"


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
        assert until_installed(sock) == "installed: fw"
        new = tmp_path / "new.click"
        new.write_text(live.replace("dst port 80", "dst port 443"))
        r = clickpy("reload", str(sock), str(new))
        assert r.returncode == 0, r.stderr
        assert "replaced 1 (fw)" in r.stdout
        assert until_installed(sock) == "installed: fw"          # built for the new graph
        assert clickpy("read", str(sock), "fw.specialized").stdout.strip() == "true"
        assert "dst port 443" in clickpy("read", str(sock), "fw.config").stdout
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
