"""ControlSocket: Click's handler protocol over a real Unix socket, and hot swap."""
import socket

import pytest
from support import start_router


@pytest.fixture
def router(tmp_path):
    """A running 'clickpy run -R -u SOCKET' process; yields a function that talks to it."""
    path = tmp_path / "ctl"
    proc = start_router("Idle -> s :: Counter -> Idle; q :: Queue(10) -> Discard(ACTIVE false); Idle -> q",
                        path, "-R")

    def talk(commands: bytes) -> bytes:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            s.sendall(commands)
            s.shutdown(socket.SHUT_WR)
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out

    yield talk
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def lines(out: bytes):
    return out.decode("latin-1").split("\r\n")


def test_greeting_read_write_and_errors(router):
    out = lines(router(b"read s.count\nwrite q.capacity 5\nread q.capacity\nread nothere.x\nread s.nope\n"
                       b"write s.count 1\nread s.reset\nbogus\nquit\n"))
    assert out[0] == "Click::ControlSocket/1.3"
    assert out[1:3] == ["200 Read handler 's.count' OK", "DATA 1"]
    assert out[3] == "0200 Write handler 'q.capacity' OK"
    assert out[4:6] == ["200 Read handler 'q.capacity' OK", "DATA 1"]
    assert out[6:] == ["5510 No element named 'nothere'",
                       "511 No handler named 's.nope'",
                       "530 Handler 's.count' read-only",
                       "530 Handler 's.reset' write-only",
                       "501 Command 'BOGUS' unimplemented",
                       "200 Goodbye!", ""]


def test_data_commands(router):
    out = lines(router(b"writedata q.capacity 2\n42readdata s.count 0\ncheckwrite s.reset\ncheckread s.reset\n"))
    assert out[1] == "200 Write handler 'q.capacity' OK"
    assert out[2:4] == ["200 Read handler 's.count' OK", "DATA 1"]
    assert out[4:6] == ["0200 Write handler 's.reset' OK", "511 Handler 's.reset' not readable"]


def test_hotconfig_swaps_and_a_bad_config_keeps_the_old_router(router):
    out = lines(router(b"write hotconfig Idle -> s :: Counter(COUNT_CALL 9 stop) -> Idle\n"
                       b"read s.config\n"
                       b"write hotconfig Print\n"
                       b"read s.config\n"
                       b"write hotconfig Nonesuch\n"))
    assert out[1] == "200 Write handler 'hotconfig' OK"
    assert out[2:4] == ["200 Read handler 's.config' OK", "DATA 17"]
    assert out[4] == "COUNT_CALL 9 stop520-Write handler 'hotconfig' error:"
    assert out[5:8] == ["520-config:1:1: 'Print@1 :: Print' input 0 unused",
                        "520-config:1:1: 'Print@1 :: Print' output 0 unused",
                        "520 Router could not be initialized!"]
    assert out[8:10] == ["200 Read handler 's.config' OK", "DATA 17"]
    assert out[10] == "COUNT_CALL 9 stop520-Write handler 'hotconfig' error:"
    assert out[11].startswith("520 config:1:1: undeclared element 'Nonesuch'")


def test_stop_ends_the_router(router, tmp_path):
    out = lines(router(b"write stop\n"))
    assert out[1] == "200 Write handler 'stop' OK"
