"""Script TYPE SIGNAL: real signals sent to a real 'clickpy run' process."""
import os
import signal
import subprocess
import sys
import time

import pytest


def start(config: str, cwd):
    return subprocess.Popen([sys.executable, "-m", "clickpy", "run", "-e", config], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="latin-1")


def wait_for(path, predicate=lambda text: bool(text), timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            text = path.read_text()
            if predicate(text):
                return text
        time.sleep(0.02)
    raise AssertionError(f"{path} never became ready")


@pytest.fixture
def procs():
    started = []
    yield started
    for p in started:  # only the processes this test started
        if p.poll() is None:
            p.kill()
        p.communicate(timeout=30)


def test_all_scripts_for_a_signal_run_in_order(tmp_path, procs):
    # Click's Script-signal-01, with time enough for a slow start.
    p = start("""Script(TYPE SIGNAL INT, print >>OUT 'Hello', stop);
                 Script(TYPE SIGNAL INT, print >>OUT 'Goodbye');
                 Script(print >RUNNING $$, wait 60s, stop);""", tmp_path)
    procs.append(p)
    pid = int(wait_for(tmp_path / "RUNNING", lambda t: t.endswith("\n")))
    assert pid == p.pid
    os.kill(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert (tmp_path / "OUT").read_text() == "Hello\nGoodbye\n"


def test_a_script_that_ends_stays_installed(tmp_path, procs):
    p = start("""s :: Script(TYPE SIGNAL USR1 USR2, init n 0, set n $(add $n 1), print >COUNT $n, end);
                 Script(TYPE SIGNAL HUP, print >>LOG "hup", stop);
                 Script(print >RUNNING "up", wait 60s, stop);""", tmp_path)
    procs.append(p)
    wait_for(tmp_path / "RUNNING")
    for n, sig in enumerate((signal.SIGUSR1, signal.SIGUSR2, signal.SIGUSR1), start=1):
        os.kill(p.pid, sig)
        wait_for(tmp_path / "COUNT", lambda t, n=n: t == f"{n}\n")
    os.kill(p.pid, signal.SIGHUP)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert (tmp_path / "LOG").read_text() == "hup\n"


def test_a_script_that_exits_is_not_reinstalled(tmp_path, procs):
    # After 'exit' nothing catches USR1 any more: the next one kills the process.
    p = start("""Script(TYPE SIGNAL USR1, print >>LOG "once", exit);
                 Script(print >RUNNING "up", wait 60s, stop);""", tmp_path)
    procs.append(p)
    wait_for(tmp_path / "RUNNING")
    os.kill(p.pid, signal.SIGUSR1)
    wait_for(tmp_path / "LOG")
    time.sleep(0.2)
    assert p.poll() is None
    os.kill(p.pid, signal.SIGUSR1)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGUSR1
    assert (tmp_path / "LOG").read_text() == "once\n"


def test_signal_names_and_numbers(tmp_path, procs):
    p = start(f"""Script(TYPE SIGNAL {int(signal.SIGUSR2)}, print >>LOG "usr2", stop);
                  Script(print >RUNNING "up", wait 60s, stop);""", tmp_path)
    procs.append(p)
    wait_for(tmp_path / "RUNNING")
    os.kill(p.pid, signal.SIGUSR2)
    p.communicate(timeout=60)
    assert p.returncode == 0
    assert (tmp_path / "LOG").read_text() == "usr2\n"


def test_sigterm_without_a_script_stops_the_router(tmp_path, procs):
    p = subprocess.Popen([sys.executable, "-m", "clickpy", "run", "-e",
                          'Idle -> c :: Counter -> Idle; Script(print >RUNNING "up", wait 60s, stop)',
                          "-h", "c.count"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         encoding="latin-1")
    procs.append(p)
    wait_for(tmp_path / "RUNNING")
    os.kill(p.pid, signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert out == "0\n"


def test_kill_handler_signals_a_process(tmp_path, procs):
    # The script's 'kill' handler: it signals its own driver ($$).
    p = start("""Script(TYPE SIGNAL USR1, print >>LOG "got it", stop);
                 Script(wait 0.1s, print $(kill USR1 $$), wait 60s, stop);""", tmp_path)
    procs.append(p)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert (tmp_path / "LOG").read_text() == "got it\n"
