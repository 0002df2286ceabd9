"""ControlSocket: Click's text protocol for reading and writing handlers over a socket."""
from __future__ import annotations

import os
import selectors
import socket

from clickpy.runtime.element import Element
from clickpy.runtime.handlers import HandlerError, Read

PROTOCOL_VERSION = "1.3"

OK = 200
OK_WITH_WARNINGS = 220
SYNTAX = 500
UNIMPLEMENTED = 501
NO_SUCH_ELEMENT = 510
NO_SUCH_HANDLER = 511
HANDLER_ERROR = 520
LLRPC_ERROR = 522
PERMISSION = 530

# Bits of an LLRPC command number (Linux ioctl encoding, as Click uses it).
LLRPC_IN = 0x80000000
LLRPC_OUT = 0x40000000


def _llrpc_size(command: int) -> int:
    return (command >> 16) & 0x1FFF


class _Connection:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.inbuf = b""
        self.out = bytearray()
        self.in_closed = False
        self.out_closed = False

    def message(self, code: int, text: str, continuation: bool = False) -> None:
        printable = text.encode("latin-1", "replace")
        self.out += f"{code}{'-' if continuation else ' '}".encode() + printable + b"\r\n"

    def messages(self, code: int, headline: str, details: list[str]) -> None:
        """A headline, then one line per detail, as Click's transfer_messages."""
        if headline:
            self.message(code, headline + ":" if details else headline, bool(details))
        for i, line in enumerate(details):
            self.message(code, line, i < len(details) - 1)


class ControlSocket(Element):
    """=c
    ControlSocket("TCP", PORTNUMBER [, keywords READONLY, LOCALHOST, VERBOSE, RETRIES, RETRY_WARNINGS])
    ControlSocket("UNIX", FILENAME [, keywords ...])

    =s control
    opens control sockets for other programs

    =d
    Listens for connections and speaks Click's ControlSocket protocol (version
    1.3): READ, READDATA, READUNTIL, WRITE, WRITEDATA, WRITEUNTIL, CHECKREAD,
    CHECKWRITE, LLRPC, QUIT. A TCP PORTNUMBER ending in '+' means the first
    free port from that number up. READONLY refuses writes; LOCALHOST listens
    on 127.0.0.1 only. The router swapped in by a 'hotconfig' write keeps the
    socket and its connections.

    =h port read-only: the TCP port listened on
    =h filename read-only: the Unix socket's file name
    """

    port_count = "0/0"
    processing = "a"
    arguments = None

    def __init__(self):
        self.kind = "TCP"
        self.port = 0
        self.port_search = False
        self.filename = None
        self.read_only = False
        self.localhost = False
        self.verbose = False
        self.retries = 0
        self.listener = None
        self.connections: dict[int, _Connection] = {}
        self.extra_handlers = (Read("port", lambda e: e.port), Read("filename", lambda e: e.filename or ""))

    def configure(self, conf, errh):
        from clickpy.runtime.args import Arg, Bool, Int, String, apply_arguments

        if len(conf) < 2:
            return errh.error("expected 'TCP, PORTNUMBER' or 'UNIX, FILENAME'")
        kind = String(conf[0]).upper()
        target = String(conf[1])
        if kind == "TCP":
            self.port_search = target.endswith("+")
            digits = target.rstrip("+")
            if not digits.isdigit() or not 0 <= int(digits) < 65536:
                return errh.error(f"bad port number '{target}'")
            self.port = int(digits)
        elif kind == "UNIX":
            self.filename = target
        else:
            return errh.error(f"unknown socket type '{conf[0]}' (expected TCP or UNIX)")
        self.kind = kind
        apply_arguments(self, conf[2:], errh, spec=(
            Arg("READONLY", Bool, False, attr="read_only"),
            Arg("PROXY", String, None),
            Arg("VERBOSE", Bool, False),
            Arg("LOCALHOST", Bool, False),
            Arg("RETRIES", Int, 0),
            Arg("RETRY_WARNINGS", Bool, True),
        ))

    def initialize(self, errh):
        from clickpy.runtime.scheduler import Task

        self._more = Task(callback=self._run_pending)
        self._more.initialize(self.router.scheduler, False)
        previous = getattr(self.router, "hotswap_from", None)
        if previous is not None:
            old = previous.element(self.name)
            if isinstance(old, ControlSocket) and old.listener is not None:
                return  # take_state adopts the old socket
        try:
            self.listener = self._listen()
        except OSError as e:
            where = self.filename if self.kind == "UNIX" else f"port {self.port}"
            return errh.error(f"{where}: {e.strerror}")
        self.router.scheduler.add_fd(self.listener.fileno(), selectors.EVENT_READ, self._accept)

    def _listen(self) -> socket.socket:
        if self.kind == "UNIX":
            if os.path.exists(self.filename):
                os.unlink(self.filename)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(self.filename)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            host = "127.0.0.1" if self.localhost else "0.0.0.0"
            port = self.port
            while True:
                try:
                    s.bind((host, port))
                    break
                except OSError:
                    if not self.port_search or port >= 65535:
                        s.close()
                        raise
                    port += 1
            self.port = s.getsockname()[1]
        s.listen(16)
        s.setblocking(False)
        return s

    def take_state(self, old, errh):
        if isinstance(old, ControlSocket) and old.listener is not None and self.listener is None:
            sched = self.router.scheduler
            self.listener, old.listener = old.listener, None
            self.port, self.filename = old.port, old.filename
            sched.add_fd(self.listener.fileno(), selectors.EVENT_READ, self._accept)
            for fd, conn in old.connections.items():
                sched.add_fd(fd, selectors.EVENT_READ, self._readable)
            self.connections, old.connections = old.connections, {}
            if any(c.inbuf for c in self.connections.values()):
                self._more.reschedule()

    def cleanup(self, stage):
        sched = self.router.scheduler if self.router is not None else None
        for fd, conn in list(self.connections.items()):
            self._close(conn, sched)
        if self.listener is not None:
            if sched is not None:
                sched.remove_fd(self.listener.fileno())
            self.listener.close()
            self.listener = None
            if self.kind == "UNIX" and self.filename and os.path.exists(self.filename):
                os.unlink(self.filename)

    # --- connections ---------------------------------------------------------

    def _accept(self, fd, events):
        try:
            sock, _ = self.listener.accept()
        except OSError:
            return
        sock.setblocking(False)
        conn = _Connection(sock)
        self.connections[sock.fileno()] = conn
        conn.out += f"Click::ControlSocket/{PROTOCOL_VERSION}\r\n".encode()
        self._flush(conn)
        self.router.scheduler.add_fd(sock.fileno(), selectors.EVENT_READ, self._readable)

    def _readable(self, fd, events):
        conn = self.connections.get(fd)
        if conn is None:
            return
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            conn.inbuf += data
        else:
            conn.in_closed = True
        self._step(conn)

    def _step(self, conn: _Connection) -> None:
        """Run one command, as Click does: the driver runs (and can swap in a new
        router after 'hotconfig') between two commands of one connection."""
        waiting = self._process_one(conn)
        self._flush(conn)
        if conn.out_closed or (conn.in_closed and not conn.inbuf):
            self._close(conn, self.router.scheduler)
        elif conn.inbuf and not waiting:
            self._more.reschedule()

    def _run_pending(self, task):
        for conn in list(self.connections.values()):
            if conn.inbuf or conn.in_closed:
                self._step(conn)
        return True

    def _flush(self, conn: _Connection) -> None:
        while conn.out and not conn.out_closed:
            try:
                n = conn.sock.send(conn.out)
            except BlockingIOError:
                # A slow reader: wait until it drains (this is the control path).
                selectors.DefaultSelector().select(0.05)
                continue
            except OSError:
                conn.out_closed = True
                break
            del conn.out[:n]

    def _close(self, conn: _Connection, sched) -> None:
        fd = conn.sock.fileno()
        if sched is not None and fd >= 0:
            sched.remove_fd(fd)
        self.connections.pop(fd, None)
        conn.sock.close()

    def _process_one(self, conn: _Connection) -> bool:
        """Run the next complete command; True if it waits for more input."""
        if not conn.inbuf:
            return True
        nl = conn.inbuf.find(b"\n")
        if nl < 0:
            if not conn.in_closed:
                return True  # wait for the rest of the line
            line, rest = conn.inbuf, b""
        else:
            line, rest = conn.inbuf[:nl], conn.inbuf[nl + 1:]
        remaining = self._command(conn, line.rstrip(b"\r").decode("latin-1"), rest)
        if remaining is None:  # the command's data has not all arrived
            if conn.in_closed:
                conn.message(SYNTAX, "Not enough data")
                conn.inbuf = b""
            return True
        conn.inbuf = remaining
        return False

    def _command(self, conn: _Connection, line: str, rest: bytes):
        """Run one command; returns the unread input, or None if more is needed."""
        words = line.split()
        if not words:
            return rest
        command = words[0].upper()
        if command in ("READ", "GET", "WRITE", "SET"):
            if len(words) < 2:
                conn.message(SYNTAX, "Wrong number of arguments")
                return rest
            data = line.split(None, 2)[2] if len(words) > 2 else ""
            if command[0] in "RG":
                self._read(conn, words[1], data)
            else:
                self._write(conn, words[1], data)
            return rest
        if command in ("READDATA", "WRITEDATA", "SETDATA"):
            if len(words) != 3:
                conn.message(SYNTAX, "Wrong number of arguments")
                return rest
            if not words[2].isdigit():
                conn.message(SYNTAX, f"Syntax error in '{command}'")
                return rest
            n = int(words[2])
            if len(rest) < n:
                return None
            data, rest = rest[:n].decode("latin-1"), rest[n:]
            if command[0] == "R":
                self._read(conn, words[1], data)
            else:
                self._write(conn, words[1], data)
            return rest
        if command in ("READUNTIL", "WRITEUNTIL"):
            if len(words) < 2:
                conn.message(SYNTAX, "Wrong number of arguments")
                return rest
            terminator = line.split(None, 2)[2].strip() if len(words) > 2 else ""
            lines = rest.split(b"\n")
            for i in range(len(lines) - 1):
                if lines[i].rstrip(b"\r").strip().decode("latin-1") == terminator:
                    data = b"\n".join(lines[:i]) + (b"\n" if i else b"")
                    rest = b"\n".join(lines[i + 1:])
                    if command[0] == "R":
                        self._read(conn, words[1], data.decode("latin-1"))
                    else:
                        self._write(conn, words[1], data.decode("latin-1"))
                    return rest
            return None
        if command in ("CHECKREAD", "CHECKWRITE"):
            if len(words) != 2:
                conn.message(SYNTAX, "Wrong number of arguments")
            else:
                self._check(conn, words[1], command == "CHECKWRITE")
            return rest
        if command == "LLRPC":
            if len(words) not in (2, 3) or (len(words) == 3 and not words[2].isdigit()):
                conn.message(SYNTAX, "Wrong number of arguments" if len(words) not in (2, 3)
                             else "Syntax error in 'llrpc'")
                return rest
            n = int(words[2]) if len(words) == 3 else 0
            if len(rest) < n:
                return None
            self._llrpc(conn, words[1], rest[:n])
            return rest[n:]
        if command in ("CLOSE", "QUIT"):
            if len(words) != 1:
                conn.message(SYNTAX, "Bad command syntax")
            conn.message(OK, "Goodbye!")
            conn.in_closed = True
            return b""
        if command == "HELP":
            for text in ("Commands supported:",
                         "READ handler [arg...]   call read handler, return DATA",
                         "READDATA handler len    call read handler with len data bytes, return DATA",
                         "READUNTIL handler term  call read handler, take data until term, return DATA",
                         "WRITE handler [arg...]  call write handler",
                         "WRITEDATA handler len   call write handler, pass len data bytes",
                         "WRITEUNTIL handler term call write handler, take data until term",
                         "CHECKREAD handler       check if read handler is valid",
                         "CHECKWRITE handler      check if write handler is valid",
                         "LLRPC elt#number [len]  call LLRPC, pass len data bytes, return DATA"):
                conn.message(OK, text, True)
            conn.message(OK, "QUIT                    close connection")
            return rest
        conn.message(UNIMPLEMENTED, f"Command '{command}' unimplemented")
        return rest

    def _find(self, conn: _Connection, full: str):
        if "." in full:
            ename, hname = full.split(".", 1)
            e = self.router.element(ename)
            if e is None:
                conn.message(NO_SUCH_ELEMENT, f"No element named '{ename}'")
                return None
        else:
            e, hname = None, full
        h = self.router.handler(e, hname)
        if h is None:
            conn.message(NO_SUCH_HANDLER, f"No handler named '{full}'")
            return None
        return e, h

    def _read(self, conn: _Connection, full: str, param: str) -> None:
        found = self._find(conn, full)
        if found is None:
            return
        e, h = found
        if not h.readable:
            conn.message(PERMISSION, f"Handler '{full}' write-only")
            return
        try:
            data = self.router.call_read(e, h, param if h.read_param else None)
        except HandlerError as err:
            conn.messages(HANDLER_ERROR, f"Read handler '{full}' error", str(err).split("\n"))
            return
        raw = data.encode("latin-1", "replace")
        conn.message(OK, f"Read handler '{full}' OK")
        conn.out += f"DATA {len(raw)}\r\n".encode() + raw

    def _write(self, conn: _Connection, full: str, data: str) -> None:
        found = self._find(conn, full)
        if found is None:
            return
        e, h = found
        if not h.writable:
            conn.message(PERMISSION, f"Handler '{full}' read-only")
            return
        if self.read_only:
            conn.message(PERMISSION, f"Permission denied for '{full}'")
            return
        try:
            self.router.call_write(e, h, data)
        except HandlerError as err:
            conn.messages(HANDLER_ERROR, f"Write handler '{full}' error", str(err).split("\n"))
            return
        conn.message(OK, f"Write handler '{full}' OK")

    def _check(self, conn: _Connection, full: str, write: bool) -> None:
        found = self._find(conn, full)
        if found is None:
            return
        _, h = found
        if (h.writable if write else h.readable) and not (write and self.read_only):
            conn.message(OK, f"{'Write' if write else 'Read'} handler '{full}' OK")
        elif write and self.read_only:
            conn.message(PERMISSION, f"Permission denied for '{full}'")
        else:
            conn.message(NO_SUCH_HANDLER, f"Handler '{full}' not {'writable' if write else 'readable'}")

    def _llrpc(self, conn: _Connection, name: str, data: bytes) -> None:
        ename, _, number = name.partition("#")
        try:
            command = int(number, 16)
        except ValueError:
            conn.message(SYNTAX, f"Syntax error in LLRPC name '{name}'")
            return
        e = self.router.element(ename)
        if e is None:
            conn.message(NO_SUCH_ELEMENT, f"No element named '{ename}'")
            return
        if not command & (LLRPC_IN | LLRPC_OUT) or not hasattr(e, "llrpc"):
            conn.message(UNIMPLEMENTED, f"Cannot call LLRPC '{name}' remotely")
            return
        size = _llrpc_size(command)
        if command & LLRPC_IN and len(data) < size:
            conn.message(LLRPC_ERROR, f"LLRPC '{name}' requires {size} bytes input data")
            return
        try:
            result = e.llrpc(command, data[:size]) or b""
        except HandlerError as err:
            conn.message(LLRPC_ERROR, f"LLRPC '{name}' error: {err}")
            return
        out = result[:size] if command & LLRPC_OUT else b""
        if command & LLRPC_OUT and len(out) < size:
            out = out + bytes(size - len(out))
        conn.message(OK, f"LLRPC '{name}' OK")
        conn.out += f"DATA {len(out)}\r\n".encode() + out

