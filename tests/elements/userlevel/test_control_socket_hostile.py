"""ControlSocket clients that misbehave cannot stop the router or the other clients."""
import socket
import time

import pytest
from support import start_router

FORWARDING = "InfiniteSource(LENGTH 60) -> c :: Counter -> Discard"


@pytest.fixture
def router(tmp_path):
    """A running 'clickpy run -R -u SOCKET' process forwarding packets; yields the socket path."""
    path = tmp_path / "ctl"
    proc = start_router(FORWARDING, path, "-R")
    yield str(path)
    alive = proc.poll() is None
    if alive:
        proc.kill()
    err = proc.communicate()[1]
    assert alive, f"the router died: {err}"
    assert "Traceback" not in err, err


def connect(path, timeout=10.0):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    assert s.recv(64).startswith(b"Click::ControlSocket/1.3")
    return s


def recv_reply(s) -> list[str]:
    """One reply: status lines up to the last one ('NNN ' form), and its DATA if any."""
    buf = b""
    while True:
        lines = buf.split(b"\r\n")
        done = [line for line in lines[:-1] if len(line) > 3 and line[3:4] == b" "]
        if done:
            break
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    text = buf.decode("latin-1")
    if "\r\nDATA " in "\r\n" + text:
        head, _, rest = text.partition("DATA ")
        size, _, data = rest.partition("\r\n")
        while len(data) < int(size):
            data += s.recv(65536).decode("latin-1")
        return head.split("\r\n")[:-1] + [f"DATA {size}", data]
    return text.split("\r\n")[:-1]


def read_count(s) -> int:
    s.sendall(b"read c.count\n")
    reply = recv_reply(s)
    assert reply[0] == "200 Read handler 'c.count' OK", reply
    return int(reply[-1])


def assert_forwarding(path):
    with connect(path) as s:
        a = read_count(s)
        time.sleep(0.1)
        assert read_count(s) > a


def closed_by_peer(s, deadline=10.0) -> bytes:
    """Everything the router sent until it closed the connection."""
    s.settimeout(deadline)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def test_a_client_that_never_reads_does_not_stall_others(router):
    hog = connect(router)
    hog.setblocking(False)
    blocked_since = None
    try:
        # Send commands and never read: the replies fill the socket, the
        # router stops reading hog, and hog's own sends block.
        while blocked_since is None or time.time() - blocked_since < 0.5:
            try:
                hog.send(b"read c.count\n" * 256)
                blocked_since = None
            except BlockingIOError:
                blocked_since = blocked_since or time.time()
                time.sleep(0.005)
        with connect(router, timeout=5) as other:
            for _ in range(20):
                read_count(other)  # answered at once, although hog's replies are stuck
        assert_forwarding(router)
    finally:
        hog.close()


def test_a_flooding_client_shares_with_others(router):
    flood = connect(router)
    flood.sendall(b"read c.count\n" * 20000)
    with connect(router, timeout=5) as other:
        before = read_count(other)
        assert read_count(other) >= before
    got = b""
    while got.count(b"DATA ") < 20000:
        got += flood.recv(1 << 20)
    flood.close()
    assert_forwarding(router)


def test_an_endless_line_is_refused_quickly(router):
    s = connect(router)
    try:
        for _ in range(64):  # 4 MB without a newline
            s.sendall(b"x" * 65536)
    except (BrokenPipeError, ConnectionResetError):
        pass
    out = closed_by_peer(s)
    assert b"500 Line too long" in out
    assert_forwarding(router)


def test_data_beyond_the_limit_is_refused(router):
    s = connect(router)
    s.sendall(b"writedata hotconfig 999999999999\n")
    assert b"500 Data too long" in closed_by_peer(s)
    assert_forwarding(router)


def test_a_command_whose_data_arrives_in_pieces_still_works(router):
    with connect(router) as s:
        body = b"InfiniteSource(LENGTH 60) -> c :: Counter -> Discard"
        s.sendall(b"writedata hotconfig %d\n" % len(body))
        for i in range(0, len(body), 7):
            s.sendall(body[i:i + 7])
            time.sleep(0.01)
        assert recv_reply(s) == ["200 Write handler 'hotconfig' OK"]
    assert_forwarding(router)


def test_connections_beyond_the_limit_are_closed(router):
    from clickpy.elements.userlevel.control_socket import MAX_CONNECTIONS

    held = [connect(router) for _ in range(MAX_CONNECTIONS)]
    try:
        extra = socket.socket(socket.AF_UNIX)
        extra.settimeout(5)
        extra.connect(router)
        assert closed_by_peer(extra) == b""
        extra.close()
        held.pop().close()
        time.sleep(0.1)
        with connect(router) as again:  # a slot freed
            read_count(again)
    finally:
        for s in held:
            s.close()


@pytest.mark.parametrize("config, expected", [
    ("t :: Tee; Idle -> t; t[10000000] -> Discard;", "port number 10000000 too large"),
    ("x :: { input -> [4294967296] output }; Idle -> x -> Discard", "port number 4294967296 too large"),
    ("(" * 300 + ")" * 300, "nested too deeply"),
    ("Idle -> Queue(2000000000) -> Discard", "memory"),
    ("elementclass A0 { input -> Null -> output }\n"
     + "".join(f"elementclass A{i} {{ input -> A{i - 1} -> A{i - 1} -> output }}\n" for i in range(1, 40))
     + "Idle -> A39 -> Discard;", "configuration too large"),
    ("{[e(", "syntax error"),
])
def test_a_hostile_hotconfig_is_refused_and_forwarding_goes_on(router, config, expected):
    with connect(router, timeout=60) as s:
        before = read_count(s)
        data = config.encode()
        s.sendall(b"writedata hotconfig %d\n" % len(data) + data)
        reply = recv_reply(s)
        assert reply[0] == "520-Write handler 'hotconfig' error:", reply
        assert any(expected in line for line in reply), reply
        assert read_count(s) > before  # the old router kept forwarding, its counter kept
    assert_forwarding(router)


# The half-sending client of the next test: a process of its own, as a thread
# of the router's process would wait for the interpreter lock the data path holds.
HALF_SENDER = """
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
for _ in range(500):
    try:
        s.connect(sys.argv[1])
        break
    except (FileNotFoundError, ConnectionRefusedError):
        time.sleep(0.01)
greeting = s.recv(64)
s.sendall(b"read c.cou")  # and nothing more
started = time.time()
out = b""
while chunk := s.recv(65536):
    out += chunk
print(json.dumps({"greeting": greeting.decode(), "reply": out.decode(), "after": time.time() - started}))
"""


def test_a_half_sent_command_times_out(tmp_path, monkeypatch):
    """In process, with short bounds: a client that never finishes its line is told and closed."""
    import json
    import subprocess
    import sys

    from clickpy import pipeline
    from clickpy.elements.userlevel import control_socket
    from clickpy.runtime.router import Router

    monkeypatch.setattr(control_socket, "PARTIAL_COMMAND_TIMEOUT", 0.3)
    monkeypatch.setattr(control_socket, "LINGER", 0.3)
    path = tmp_path / "ctl"
    r = Router.from_plan(pipeline.plan(pipeline.Source(f'ControlSocket(UNIX, "{path}"); {FORWARDING}; '
                                                       "DriverManager(wait 3s, stop)", "t")))
    client = subprocess.Popen([sys.executable, "-c", HALF_SENDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        r.run()
    finally:
        out, _ = client.communicate(timeout=30)
        count = int(r.read("c.count"))
        r.cleanup()
    got = json.loads(out)
    assert got["greeting"].startswith("Click::ControlSocket/1.3")
    assert got["reply"] == "500 Timed out waiting for the rest of the command\r\n"
    assert 0.25 < got["after"] < 2.5
    assert count > 0


def test_forwarding_goes_on_while_a_large_hotconfig_is_built(router):
    """The new router is checked in a child and built in slices: the old one's
    counter keeps rising until the swap, and the swap carries nothing over
    that the new configuration did not ask for."""
    big = FORWARDING + ";" + "".join(f"Idle -> n{i} :: Null -> Discard;" for i in range(8000))
    data = big.encode()
    with connect(router, timeout=120) as writer, connect(router, timeout=30) as reader:
        writer.sendall(b"writedata hotconfig %d\n" % len(data) + data)
        writer.setblocking(False)
        counts, reply = [], b""
        while b"\r\n" not in reply:
            counts.append(read_count(reader))
            time.sleep(0.05)
            try:
                reply += writer.recv(4096)
            except BlockingIOError:
                pass
        assert reply.startswith(b"200 Write handler 'hotconfig' OK"), reply
        during = counts[:-1]  # the last read may already be the new router's
        assert len(during) >= 3, "the build ended too soon to watch"
        assert all(b > a for a, b in zip(during, during[1:])), during
    with connect(router) as s:
        s.sendall(b"read n7999.class\n")
        assert recv_reply(s)[-1] == "Null"
    assert_forwarding(router)
