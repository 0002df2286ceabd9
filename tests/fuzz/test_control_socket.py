"""Fuzz the ControlSocket protocol against a real router process.

Each input is one client's whole session: bytes sent, then the client's half
close. The router must answer in Click's protocol (status lines, DATA blocks),
close the connection, keep forwarding and never print a traceback. A session
that writes 'stop' may end the router cleanly; it is then started again.
"""
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from fuzzing import corpus, edits_strategy, explore, mutate, run_target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CONFIG = ("src :: InfiniteSource(LENGTH 60) -> c :: Counter -> q :: Queue(100) -> u :: Unqueue(BURST 8)"
          " -> t :: Tee(2); t[0] -> Discard; t[1] -> p :: Paint(3) -> d :: Discard;"
          " r :: RatedSource(LENGTH 60, RATE 1000) -> Discard;")
HANDLERS = ["c.count", "c.reset", "c.rate", "c.config", "q.capacity", "q.length", "q.drops", "q.reset",
            "u.burst", "u.active", "r.rate", "r.limit", "r.data", "p.color", "src.limit", "src.burst",
            "src.data", "t.name", "t.ports", "d.count", "config", "flatconfig", "list", "handlers",
            "version", "nothere.x", "c.nope", "c", ".", "c..count", "stop"]
VALUES = ["", "0", "1", "-1", "4294967296", "99999999999999999999", "nan", "inf", "true", "x" * 5000,
          "1.2.3.4", "\x00\xff"]
COMMANDS = ["READ", "WRITE", "GET", "SET", "READDATA", "WRITEDATA", "SETDATA", "READUNTIL", "WRITEUNTIL",
            "CHECKREAD", "CHECKWRITE", "LLRPC", "QUIT", "CLOSE", "HELP", "BOGUS", ""]


class RouterProcess:
    def __init__(self, folder):
        self.path = os.path.join(folder, "ctl")
        self.log = os.path.join(folder, "stderr")
        self.proc = None
        self.start()

    def start(self):
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "clickpy", "run", "-u", self.path, "-e", CONFIG],
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.time() + 30
        while not os.path.exists(self.path):
            assert self.proc.poll() is None and time.time() < deadline, "router did not start"
            time.sleep(0.02)

    def ensure_running(self):
        """The router still runs, or it stopped cleanly when told to (and runs again now)."""
        if self.proc.poll() is not None or not os.path.exists(self.path):
            self.proc.wait(timeout=30)  # a 'write stop' is under way
            assert self.proc.returncode == 0, f"router exited with {self.proc.returncode}"
            if os.path.exists(self.path):
                os.unlink(self.path)
            self.start()
        with open(self.log, "rb") as f:
            text = f.read()
        assert b"Traceback" not in text, text.decode("latin-1")[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def router(tmp_path_factory):
    r = RouterProcess(tmp_path_factory.mktemp("cs-fuzz"))
    yield r
    r.stop()


_STATUS = re.compile(rb"^\d{3}[ -]")


def check_reply(out: bytes) -> None:
    """A well-formed answer: greeting, then status lines and DATA blocks only."""
    assert out.startswith(b"Click::ControlSocket/1.3\r\n"), out[:100]
    rest = out[len(b"Click::ControlSocket/1.3\r\n"):]
    while rest:
        line, sep, after = rest.partition(b"\r\n")
        assert sep, f"unterminated line {line[:100]!r}"
        if line.startswith(b"DATA "):
            n = int(line[5:])
            assert len(after) >= n, "short DATA block"
            rest = after[n:]
        else:
            assert _STATUS.match(line), f"not a status line: {line[:100]!r}"
            rest = after


def session(router: RouterProcess):
    def check(data: bytes) -> None:
        router.ensure_running()
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(30)
        try:
            s.connect(router.path)
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused mid-send: the reply says why
            out = b""
            while chunk := s.recv(1 << 16):
                out += chunk
        finally:
            s.close()
        check_reply(out)
        if b"stop" in data.lower():  # it may be stopping: let it finish before the next session
            try:
                router.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        router.ensure_running()
    return check


@st.composite
def sessions(draw):
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        cmd = draw(st.sampled_from(COMMANDS))
        handler = draw(st.sampled_from(HANDLERS))
        if cmd.endswith("DATA") or cmd == "LLRPC":
            body = draw(st.binary(max_size=40))
            n = draw(st.one_of(st.just(len(body)), st.integers(0, 100), st.sampled_from([10**12, -1])))
            parts.append(f"{cmd} {handler} {n}\n".encode() + body)
        elif cmd.endswith("UNTIL"):
            term = draw(st.sampled_from(["END", ".", "", "x y"]))
            lines = draw(st.lists(st.sampled_from(VALUES + ["END", "."]), max_size=4))
            parts.append(f"{cmd} {handler} {term}\n".encode("latin-1") +
                         "".join(v + "\n" for v in lines).encode("latin-1"))
        else:
            value = draw(st.sampled_from(VALUES))
            parts.append(f"{cmd} {handler} {value}".encode("latin-1") + draw(st.sampled_from([b"\n", b"\r\n", b""])))
    return b"".join(parts)


FUZZ_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                         database=None)


@pytest.mark.parametrize("path", corpus("control_socket"), ids=lambda p: p.name)
def test_corpus_session(router, path):
    run_target("control_socket", session(router), path.read_bytes(), ".bin", keep=False)


def test_command_sessions(router):
    @FUZZ_SETTINGS
    @given(sessions())
    def one(data):
        run_target("control_socket", session(router), data, ".bin")

    explore(one)


def test_mutated_sessions(router):
    seeds = [b"read c.count\nwrite q.capacity 5\nreaddata c.count 0\nwritedata q.capacity 2\n10",
             b"readuntil c.count END\nx\nEND\ncheckwrite c.reset\nllrpc c#0\n"]

    @FUZZ_SETTINGS
    @given(st.sampled_from(seeds), edits_strategy(12))
    def one(seed, edits):
        run_target("control_socket", session(router), mutate(seed, edits, [b"\n", b" ", b"\r", b"9" * 20]), ".bin")

    explore(one)
