"""clickpy run: Click's driver flags, handlers after the run, errors and exit codes."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import REPO, run_config

SOURCE = "InfiniteSource(LIMIT 5, STOP true) -> c :: Counter -> d :: Discard"


def test_runs_until_the_source_stops_and_prints_one_handler():
    r = run_config(SOURCE, "-h", "c.count")
    assert (r.returncode, r.stdout, r.stderr) == (0, "5\n", "")


def test_several_handlers_print_with_names():
    r = run_config(SOURCE, "-h", "c.count", "-h", "d.count")
    assert r.stdout == "c.count:\n5\n\nd.count:\n5\n\n"


def test_handler_globs_and_class_names():
    cfg = "InfiniteSource(LIMIT 2, STOP true) -> c1 :: Counter -> c2 :: Counter -> Discard"
    assert run_config(cfg, "-h", "c*.count").stdout == "c1.count:\n2\n\nc2.count:\n2\n\n"
    assert run_config(cfg, "-h", "Counter.count").stdout == "c1.count:\n2\n\nc2.count:\n2\n\n"


def test_bad_handlers_are_clear_errors():
    r = run_config(SOURCE, "-h", "c.nope")
    assert r.returncode == 1 and "no 'c.nope' handler" in r.stderr
    r = run_config(SOURCE, "-h", "c.reset")
    assert r.returncode == 1 and "'c.reset' is a write handler" in r.stderr
    r = run_config(SOURCE, "-h", "zz*.count")
    assert r.returncode == 1 and "no element matching 'zz*'" in r.stderr
    r = run_config(SOURCE, "-h", "nothere.count")
    assert r.returncode == 1 and "no element 'nothere'" in r.stderr


def test_quit_and_flat_output():
    r = run_config("elementclass C { input -> Counter -> output } Idle -> C -> Discard", "-qo-")
    assert r.returncode == 0
    assert r.stdout == "Idle@1 :: Idle;\nDiscard@3 :: Discard;\nC@2/Counter@1 :: Counter;\n\nIdle@1 -> C@2/Counter@1\n    -> Discard@3;\n"


def test_definitions_override_defines():
    r = run_config("define($N 2); InfiniteSource(LIMIT $N, STOP true) -> c :: Counter -> Discard", "N=7", "-h", "c.count")
    assert r.stdout == "7\n"


def test_exit_handler_sets_the_status():
    assert run_config(SOURCE, "-x", "c.count").returncode == 5


def test_configure_errors_name_the_element_and_every_problem():
    r = run_config("InfiniteSource(LIMIT x, BURST 0) -> Counter(BOGUS 1) -> Discard")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "config:1:1: While configuring 'InfiniteSource@1 :: InfiniteSource':",
        "  LIMIT: expected integer",
        "  BURST: burst size must be >= 1",
        "config:1:37: While configuring 'Counter@2 :: Counter':",
        "  BOGUS: unknown argument",
        "  (valid keywords are COUNT_CALL, BYTE_COUNT_CALL)",
        "Router could not be initialized!",
    ]


def test_check_errors_stop_before_running():
    r = run_config("InfiniteSource -> Discard -> Counter")
    assert r.returncode == 1 and "'Discard@2 :: Discard' has no output 0" in r.stderr


def test_sigterm_stops_cleanly(tmp_path):
    ready = tmp_path / "ctl"  # the control socket appears once the router runs
    proc = subprocess.Popen(
        [sys.executable, "-m", "clickpy", "run", "-u", str(ready), "-e",
         "InfiniteSource -> c :: Counter -> Discard", "-h", "c.count"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.time() + 30
        while not ready.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert int(out) > 0  # handlers are still printed after a signal
    assert not ready.exists()  # the socket file is removed on the way out


def test_python_element_runs_in_the_graph(tmp_path):
    """The README's example: a Python element between Cython elements."""
    shutil.copy(REPO / "configs" / "size_histogram.py", tmp_path)
    shutil.copy(REPO / "configs" / "python-element.click", tmp_path)
    r = subprocess.run([sys.executable, "-m", "clickpy", "run", "python-element.click", "N=10",
                        "-h", "hist.histogram", "-h", "c.count"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hist.histogram:\n0-63 10\n256-319 10\n1344-1407 10\n\nc.count:\n30\n\n"


def test_python_element_errors_are_reported_not_fatal(tmp_path):
    (tmp_path / "bad.py").write_text(
        "import clickpy\n"
        "class Boom(clickpy.Element):\n"
        "    port_count = '1/1'\n"
        "    def simple_action(self, p):\n"
        "        raise RuntimeError('boom')\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "clickpy", "run", "-e",
         'require(package "bad.py"); InfiniteSource(LIMIT 3, STOP true) -> b :: Boom -> c :: Counter -> Discard',
         "-h", "c.count"],
        capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0
    assert r.stdout == "0\n"  # every packet dropped
    assert "error in simple_action" in r.stderr and "RuntimeError: boom" in r.stderr
    assert r.stderr.count("RuntimeError: boom") == 1  # reported once, not per packet


def test_missing_python_package_is_a_check_error(tmp_path):
    r = run_config('require(package "nothere.py"); Idle', cwd=tmp_path)
    assert r.returncode == 1 and "required package 'nothere.py' could not be imported" in r.stderr


def test_bursts_travel_as_batches_unless_per_packet_is_asked():
    cfg = "InfiniteSource(DATA x, LIMIT 3, BURST 3, STOP true) -> Print(a, 0) -> Print(b, 0) -> Discard"
    assert run_config(cfg).stderr.split() == ["a:", "1", "a:", "1", "a:", "1", "b:", "1", "b:", "1", "b:", "1"]
    exact = run_config(cfg, "--per-packet").stderr.split()
    assert exact == ["a:", "1", "b:", "1"] * 3


def test_timewarp_handler():
    r = run_config("Idle", "-q", "-h", "timewarp")
    assert r.stdout == "1\n"
    assert run_config("Idle", "-q", "--simtime", "-h", "timewarp").stdout == "simulation\n"
