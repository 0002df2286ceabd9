"""take_state of ControlSocket when a reload keeps one scheduler: the new
element carries on the listening socket and the open connections (a client
that asked for the reload gets its answer), old's cleanup leaves them alone,
and a rollback gives them back."""
import socket

import pytest
from support import build_router, retire_staged, run_for, staged_router

from clickpy.runtime.error_handler import ElementErrors


def recv_until(sock, router, ending):
    """Run router a little at a time until sock has received data ending with ending."""
    out = b""
    for _ in range(50):
        run_for(router, 0.02)
        try:
            out += sock.recv(65536)
        except BlockingIOError:
            pass
        if out.endswith(ending):
            return out
    raise AssertionError(f"no complete answer: {out!r}")


@pytest.fixture
def live(tmp_path):
    path = tmp_path / "ctl"
    old = build_router(f"cs :: ControlSocket(UNIX, {path})")
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(path))
    client.setblocking(False)
    assert recv_until(client, old, b"\r\n") == b"Click::ControlSocket/1.3\r\n"
    yield old, path, client
    client.close()


def test_new_element_answers_on_the_old_connection_and_listener(live):
    old, path, client = live
    new = staged_router(f"cs :: ControlSocket(UNIX, {path}, VERBOSE true); Idle -> c :: Counter -> Idle", old)
    try:
        errh = ElementErrors()
        assert new.element("cs").take_state(old.element("cs"), errh) is None   # (no report key for sockets)
        assert errh.items == []
        old.element("cs").cleanup("initialized")        # must not close what new took
        assert path.exists()
        client.sendall(b"read c.count\r\n")
        assert recv_until(client, new, b"DATA 1\r\n0") == b"200 Read handler 'c.count' OK\r\nDATA 1\r\n0"
        with socket.socket(socket.AF_UNIX) as second:
            second.connect(str(path))
            second.setblocking(False)
            assert recv_until(second, new, b"\r\n") == b"Click::ControlSocket/1.3\r\n"
    finally:
        retire_staged(new)


def test_rollback_gives_listener_and_connections_back(live):
    old, path, client = live
    new = staged_router(f"cs :: ControlSocket(UNIX, {path}, READONLY true)", old)
    try:
        old_cs, new_cs = old.element("cs"), new.element("cs")
        new_cs.take_state(old_cs, ElementErrors())
        assert (old_cs.listener, len(old_cs.connections), len(new_cs.connections)) == (None, 0, 1)
        old_cs.take_state(new_cs, ElementErrors())
        assert (new_cs.listener, len(new_cs.connections), len(old_cs.connections)) == (None, 0, 1)
        retire_staged(new)                              # the abandoned new router
        client.sendall(b"write cs.nothere 1\r\n")       # old is not READONLY: a 511, not a 520
        assert recv_until(client, old, b"\r\n").startswith(b"511 ")
    finally:
        retire_staged(new)


def test_a_new_address_listens_anew_but_keeps_the_connections(live, tmp_path):
    old, path, client = live
    other = tmp_path / "ctl2"
    new = staged_router(f"cs :: ControlSocket(UNIX, {other}); Idle -> c :: Counter -> Idle", old)
    try:
        new.element("cs").take_state(old.element("cs"), ElementErrors())
        old.element("cs").cleanup("initialized")        # old's socket goes; its client stays, with new
        assert other.exists() and not path.exists()
        client.sendall(b"read c.count\r\n")
        assert recv_until(client, new, b"DATA 1\r\n0").startswith(b"200 ")
    finally:
        retire_staged(new)
