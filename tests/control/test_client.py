"""The ControlSocket client and the 'clickpy read/write/handlers' commands, against a real router."""
import socket
import subprocess
import sys

import pytest
from support import start_router

from clickpy.control.client import ControlClient, ControlError, parse_target

CONFIG = "src :: InfiniteSource(LENGTH 60, LIMIT 5) -> c :: Counter -> q :: Queue(10) -> Discard(ACTIVE false)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def router(tmp_path):
    path, port = tmp_path / "ctl", free_port()
    proc = start_router(CONFIG, path, "-p", str(port))
    yield str(path), port
    proc.kill()
    proc.communicate()


def clickpy(*args):
    return subprocess.run([sys.executable, "-m", "clickpy", *args], capture_output=True, text=True, timeout=60)


def test_targets():
    assert parse_target("9000") == (socket.AF_INET, ("127.0.0.1", 9000))
    assert parse_target("10.0.0.1:9000") == (socket.AF_INET, ("10.0.0.1", 9000))
    assert parse_target("/run/x.sock") == (socket.AF_UNIX, "/run/x.sock")
    assert parse_target("ctl") == (socket.AF_UNIX, "ctl")
    with pytest.raises(OSError, match="port 99999 is out of range"):
        parse_target("99999")


def test_read_write_and_handlers_over_unix_and_tcp(router):
    path, port = router
    for target in (path, str(port)):
        with ControlClient(target) as c:
            assert c.version == "1.3"
            assert c.read("c.count") == "5"
            c.write("q.capacity", "7")
            assert c.read("q.capacity") == "7"
            assert ("capacity", "rw") in c.handlers("q")
            assert ("version", "r") in c.handlers()
            with pytest.raises(ControlError) as e:
                c.read("nothere.count")
            assert e.value.code == 510 and e.value.lines == ["No element named 'nothere'"]
            with pytest.raises(ControlError) as e:
                c.write("c.count", "1")
            assert e.value.code == 530


def test_values_arrive_byte_for_byte(router):
    path, _ = router
    with ControlClient(path) as c:
        c.write("src.data", "a\nb\r\n\x00\xff")
        assert c.read("src.data") == "a\nb\r\n\x00\xff"


def test_the_commands(router):
    path, port = router
    r = clickpy("read", path, "c.count")
    assert (r.returncode, r.stdout) == (0, "5\n")
    assert clickpy("write", str(port), "q.capacity", "3").returncode == 0
    assert clickpy("read", path, "q.capacity").stdout == "3\n"
    r = clickpy("handlers", path, "q")
    assert "capacity\trw" in r.stdout.splitlines()
    r = clickpy("read", path, "c.nope")
    assert (r.returncode, r.stderr) == (1, "clickpy: No handler named 'c.nope'\n")


def test_no_router_is_one_clear_line(tmp_path):
    r = clickpy("read", str(tmp_path / "none.sock"), "c.count")
    assert r.returncode == 1
    assert r.stderr == f"clickpy: {tmp_path / 'none.sock'}: no such socket (is a router running with -u {tmp_path / 'none.sock'}?)\n"
    r = clickpy("read", str(free_port()), "c.count")
    assert r.returncode == 1 and r.stderr.endswith(": Connection refused\n")
