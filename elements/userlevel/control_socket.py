"""ControlSocket: Click's text protocol for reading and writing handlers over a socket."""
from __future__ import annotations

import os
import selectors
import socket
import time

from clickpy.runtime.args import Arg, Bool, Int, String, parse_arguments
from clickpy.runtime.element import Element
from clickpy.runtime.handlers import HandlerError, Read
from clickpy.runtime.pending import Pending

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


def _is_count(word: str) -> bool:
    """ASCII digits only: str.isdigit() also takes '²', which int() refuses."""
    return word.isascii() and word.isdigit()


class _Disconnect(Exception):
    """A client passed a bound: it is told why, and its connection is closed."""


def _llrpc_size(command: int) -> int:
    return (command >> 16) & 0x1FFF


# Bounds that keep one client from stopping the router or the other clients
# (as nginx and HAProxy bound every buffer): a command line, the data of one
# command, input read ahead, replies waiting for a client that does not read,
# and the number of connections. A client passing a bound is told why and
# disconnected.
MAX_LINE = 64 * 1024
MAX_DATA = 32 * 1024 * 1024
READ_AHEAD = 256 * 1024          # stop reading a client with this much unprocessed input...
REPLY_BACKLOG = 256 * 1024       # ...or this many bytes of replies it has not read yet
MAX_REPLY_BACKLOG = 64 * 1024 * 1024
MAX_CONNECTIONS = 64
PARTIAL_COMMAND_TIMEOUT = 30.0   # seconds a half-sent command may wait for the rest
LINGER = 2.0                     # seconds a refused client has to read why before the close
# While the router has packets to move, commands get at most this share of
# its time; an idle router runs them at once.
CONTROL_SHARE = 0.05
SLICE = 0.002                    # seconds of commands per turn


class _Connection:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.fd = sock.fileno()
        self.inbuf = bytearray()
        self.pos = 0                 # inbuf[:pos] is processed
        self.scanned = 0             # no newline in inbuf[pos:pos + scanned]
        self.need = 0                # bytes of command data still awaited (0: none)
        self.out = bytearray()
        self.in_closed = False
        self.out_closed = False
        self.waiting = None          # a Pending write whose reply comes later
        self.owner = None            # the ControlSocket serving it (a reload may hand it on)
        self.partial_since = None    # when an incomplete command started to wait
        self.stalled = False         # the input holds only part of a command
        self.refused = False         # told why it is disconnected; its input is dropped
        self.peer_closed = False
        self.linger_until = None     # when a refused connection is closed at the latest
        self.events = 0              # what the scheduler watches for

    def message(self, code: int, text: str, continuation: bool = False) -> None:
        printable = text.encode("latin-1", "replace")
        self.out += f"{code}{'-' if continuation else ' '}".encode() + printable + b"\r\n"

    def messages(self, code: int, headline: str, details: list[str]) -> None:
        """A headline, then one line per detail, as Click's transfer_messages."""
        if headline:
            self.message(code, headline + ":" if details else headline, bool(details))
        for i, line in enumerate(details):
            self.message(code, line, i < len(details) - 1)

    def unread(self) -> bytes:
        return bytes(self.inbuf[self.pos:])

    def consume(self, n: int) -> None:
        self.pos += n
        self.scanned = 0
        if self.pos >= len(self.inbuf):
            self.inbuf.clear()
            self.pos = 0
        elif self.pos > 65536 and self.pos * 2 > len(self.inbuf):
            del self.inbuf[:self.pos]   # compact now and then, not per command
            self.pos = 0

    def find_line(self) -> int:
        """The offset of the next newline after pos, or -1; each byte is scanned once."""
        start = self.pos + self.scanned
        nl = self.inbuf.find(b"\n", start)
        self.scanned = (len(self.inbuf) if nl < 0 else nl) - self.pos
        return nl

    def can_run(self) -> bool:
        """Has a command to run, and room to answer it."""
        return (self.waiting is None and not self.out_closed and len(self.out) < REPLY_BACKLOG
                and not self.stalled and (len(self.inbuf) > self.pos or self.in_closed))


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

    Clients cannot stop the router or each other: replies wait in a buffer
    for clients that read slowly, commands run in turns that take a small
    share of the router's time while it is moving packets, and a client that
    sends a line over 64 KiB, data over 32 MiB, leaves 64 MiB of replies
    unread or half a command for 30 seconds is disconnected (at most 64
    clients at once).

    =h port read-only: the TCP port listened on
    =h filename read-only: the Unix socket's file name
    """

    port_count = "0/0"
    processing = "a"
    arguments = (
        Arg("TYPE", String, positional=True, mandatory=True, doc="TCP or UNIX"),
        Arg("ADDRESS", String, positional=True, mandatory=True,
            doc="the TCP PORTNUMBER ('+': the first free port from it) or the UNIX FILENAME"),
        Arg("READONLY", Bool, False, attr="read_only"),
        Arg("PROXY", String, None),
        Arg("VERBOSE", Bool, False),
        Arg("LOCALHOST", Bool, False),
        Arg("RETRIES", Int, 0),
        Arg("RETRY_WARNINGS", Bool, True),
    )

    def __init__(self):
        self.kind = "TCP"
        self.port = 0
        self.port_search = False
        self.filename = None
        self.address = None         # ADDRESS as configured
        self.read_only = False
        self.localhost = False
        self.verbose = False
        self.retries = 0
        self.listener = None
        self.connections: dict[int, _Connection] = {}
        self.extra_handlers = (Read("port", lambda e: e.port), Read("filename", lambda e: e.filename or ""))

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        kind, target = values["type"].upper(), values["address"]
        if kind == "TCP":
            digits = target.rstrip("+")
            if not _is_count(digits) or not 0 <= int(digits) < 65536:
                return errh.error(f"bad port number '{target}'")
            self.port_search = target.endswith("+")
            self.port = int(digits)
        elif kind == "UNIX":
            self.filename = target
        else:
            return errh.error(f"unknown socket type '{values['type']}' (expected TCP or UNIX)")
        self.kind = kind
        self.address = target
        for attr in ("read_only", "proxy", "verbose", "localhost", "retries", "retry_warnings"):
            setattr(self, attr, values[attr])
        return True

    def initialize(self, errh):
        self._make_tasks()
        previous = getattr(self.router, "hotswap_from", None)
        if previous is not None:
            old = previous.element(self.name)
            if isinstance(old, ControlSocket) and old.listener is not None and self._same_address(old):
                return  # take_state adopts the old socket
        try:
            self.listener = self._listen()
        except OSError as e:
            where = self.filename if self.kind == "UNIX" else f"port {self.port}"
            return errh.error(f"{where}: {e.strerror}")
        self.router.scheduler.add_fd(self.listener.fileno(), selectors.EVENT_READ, self._accept)

    def _make_tasks(self):
        from clickpy.runtime.scheduler import Task, Timer

        sched = self.router.scheduler
        self._turn = Task(callback=self._run_turn)
        self._turn.initialize(sched, False)
        self._resume = Timer(callback=lambda timer: self._turn.reschedule())
        self._resume.initialize(sched)
        self._reaper = Timer(callback=self._reap)
        self._reaper.initialize(sched)

    def _listen(self) -> socket.socket:
        if self.kind == "UNIX":
            # Bound beside its name and renamed into place once listening, so the
            # path appears only when a client can connect (one waiting for the
            # file was refused in between).
            staging = f"{self.filename}.{os.getpid()}.new"
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                if os.path.exists(staging):
                    os.unlink(staging)
                s.bind(staging)
                s.listen(16)
                os.rename(staging, self.filename)
            except OSError:
                s.close()
                if os.path.exists(staging):
                    os.unlink(staging)
                raise
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

    def _same_address(self, other) -> bool:
        """True if other was configured to listen where this one is."""
        return (self.kind, self.address, self.localhost) == (other.kind, other.address, other.localhost)

    def take_state(self, old, errh):
        """Carry on old's listening socket (if this one is configured to listen at
        the same address, so initialize left it to old) and its connections (always:
        a client that asked for the reload gets its answer) in a hot reload.

        Descriptors move to this element's callbacks on the same scheduler;
        old is left without them, so its cleanup closes nothing this one took
        and ``old.take_state(self)`` gives them back.
        """
        if not isinstance(old, ControlSocket):
            return None
        sched = self.router.scheduler
        if old.listener is not None and self.listener is None and self._same_address(old):
            self.listener, old.listener = old.listener, None
            self.port, self.filename = old.port, old.filename
            sched.add_fd(self.listener.fileno(), selectors.EVENT_READ, self._accept)
        if old.connections:
            taken, old.connections = old.connections, {}
            for conn in taken.values():
                # Watched afresh with this element's callback (old's may watch
                # nothing, which _watch would leave in place).
                sched.remove_fd(conn.fd)
                conn.events = 0
                conn.owner = self
                self.connections[conn.fd] = conn
                self._watch(conn)
                if conn.partial_since is not None or conn.linger_until is not None:
                    self._reaper.schedule_after(0)
            self._turn.reschedule()
        return None

    def cleanup(self, stage):
        sched = self.router.scheduler if self.router is not None else None
        for t in (getattr(self, "_turn", None), getattr(self, "_resume", None), getattr(self, "_reaper", None)):
            if t is not None:
                t.unschedule()
        for conn in list(self.connections.values()):
            self._close(conn)
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
        if len(self.connections) >= MAX_CONNECTIONS:
            sock.close()  # refused: one more would pass the bound
            return
        sock.setblocking(False)
        conn = _Connection(sock)
        conn.owner = self
        self.connections[conn.fd] = conn
        conn.out += f"Click::ControlSocket/{PROTOCOL_VERSION}\r\n".encode()
        self._flush(conn)
        self._watch(conn)

    def _watch(self, conn: _Connection) -> None:
        """Tell the scheduler what conn waits for: input while there is room
        for it, the socket's room while replies are waiting."""
        if conn.sock.fileno() < 0:
            return
        events = 0
        room = READ_AHEAD if not conn.need else conn.need + MAX_LINE
        if conn.refused:
            if not conn.peer_closed:
                events |= selectors.EVENT_READ
        elif not conn.in_closed and len(conn.inbuf) - conn.pos < room and len(conn.out) < REPLY_BACKLOG:
            events |= selectors.EVENT_READ
        if conn.out and not conn.out_closed:
            events |= selectors.EVENT_WRITE
        if events == conn.events:
            return
        sched = self.router.scheduler
        if events:
            sched.add_fd(conn.fd, events, self._ready)
        else:
            sched.remove_fd(conn.fd)
        conn.events = events

    def _ready(self, fd, events):
        conn = self.connections.get(fd)
        if conn is None:
            return
        if events & selectors.EVENT_WRITE:
            self._flush(conn)
        if events & selectors.EVENT_READ:
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                data = b""
            if conn.refused:
                conn.peer_closed = conn.peer_closed or data == b""
            elif data:
                conn.inbuf += data
                conn.stalled = False
            elif data is not None:
                conn.in_closed = True
                conn.stalled = False
            if conn.can_run():
                self._turn.reschedule()
        self._settle(conn)

    def _settle(self, conn: _Connection) -> None:
        """Close conn if it is finished or broken; else update what it waits for."""
        if conn.out_closed or len(conn.out) > MAX_REPLY_BACKLOG:
            self._close(conn)
        elif conn.refused and not conn.out:
            # Closing with unread input would reset the connection and lose
            # the reason: say no more, drop what arrives, close at its EOF.
            if conn.linger_until is None:
                conn.linger_until = time.monotonic() + LINGER
                try:
                    conn.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    conn.peer_closed = True
                self._reaper.schedule_after(LINGER)
            if conn.peer_closed or time.monotonic() >= conn.linger_until:
                self._close(conn)
            else:
                self._watch(conn)
        elif conn.in_closed and conn.pos >= len(conn.inbuf) and conn.waiting is None and not conn.out:
            self._close(conn)
        else:
            self._watch(conn)

    def _refuse(self, conn: _Connection, why: str) -> None:
        conn.message(SYNTAX, why)
        conn.refused = conn.in_closed = True
        conn.inbuf.clear()
        conn.pos = conn.scanned = conn.need = 0
        conn.partial_since = None

    def _run_turn(self, task):
        """Run commands for a while, a connection at a time; then yield.

        While other tasks are waiting to move packets, the next turn comes
        only after enough time that commands keep to CONTROL_SHARE.
        """
        sched = self.router.scheduler
        start = time.perf_counter()
        more = True
        while more and time.perf_counter() - start < SLICE:
            more = False
            for conn in list(self.connections.values()):
                if sched.runcount <= 0:
                    return True  # the router is stopping or being replaced: its successor answers
                if conn.can_run():
                    self._step(conn)
                    more = more or conn.can_run()
        if not more:
            return True
        if sched.scheduled_tasks > 0:
            spent = time.perf_counter() - start
            self._resume.schedule_after(spent * (1 / CONTROL_SHARE - 1))
        else:
            self._turn.reschedule()
        return True

    def _step(self, conn: _Connection) -> None:
        """Run conn's next command, or learn that it is incomplete."""
        try:
            progressed = self._process_one(conn)
        except _Disconnect as why:
            self._refuse(conn, str(why))
            progressed = True
        conn.stalled = not progressed
        if progressed:
            conn.partial_since = None
        elif conn.partial_since is None and len(conn.inbuf) > conn.pos:
            conn.partial_since = time.monotonic()
            if not self._reaper.scheduled:
                self._reaper.schedule_after(PARTIAL_COMMAND_TIMEOUT)
        self._flush(conn)
        self._settle(conn)

    def _reap(self, timer):
        """Refuse clients whose half-sent command waited too long; close refused
        clients whose time to read why has passed."""
        now = time.monotonic()
        waiting = False
        for conn in list(self.connections.values()):
            if conn.linger_until is not None:
                if now >= conn.linger_until:
                    self._close(conn)
                else:
                    waiting = True
            elif conn.partial_since is not None:
                if now - conn.partial_since >= PARTIAL_COMMAND_TIMEOUT:
                    self._refuse(conn, "Timed out waiting for the rest of the command")
                    self._flush(conn)
                    self._settle(conn)
                waiting = True
        if waiting:
            timer.schedule_after(min(LINGER, PARTIAL_COMMAND_TIMEOUT) / 2)

    def _flush(self, conn: _Connection) -> None:
        """Send what the socket takes now; the rest waits for EVENT_WRITE."""
        while conn.out and not conn.out_closed:
            try:
                n = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                conn.out_closed = True
                break
            del conn.out[:n]

    def _close(self, conn: _Connection) -> None:
        if conn.events and self.router is not None:
            self.router.scheduler.remove_fd(conn.fd)
        conn.events = 0
        self.connections.pop(conn.fd, None)
        conn.sock.close()

    def _process_one(self, conn: _Connection) -> bool:
        """Run the next complete command; False if it is not all here yet."""
        nl = conn.find_line()
        if nl < 0:
            if len(conn.inbuf) - conn.pos > MAX_LINE:
                raise _Disconnect(f"Line too long (the limit is {MAX_LINE} bytes)")
            if not conn.in_closed:
                return False  # wait for the rest of the line
            nl = len(conn.inbuf)
        elif nl - conn.pos > MAX_LINE:
            raise _Disconnect(f"Line too long (the limit is {MAX_LINE} bytes)")
        line = bytes(conn.inbuf[conn.pos:nl])
        body = nl + 1
        used = self._command(conn, line.rstrip(b"\r").decode("latin-1"), conn.inbuf, body)
        if used is None:  # the command's data has not all arrived
            if conn.in_closed:
                conn.message(SYNTAX, "Not enough data")
                conn.consume(len(conn.inbuf) - conn.pos)
                return True
            return False
        conn.need = 0
        conn.consume(min(used, len(conn.inbuf)) - conn.pos)
        return True

    def _command(self, conn: _Connection, line: str, buf: bytearray, body: int):
        """Run one command whose line ends where its data (if any) starts, at
        buf[body]; returns where the next command starts, or None while the
        command's data has not all arrived."""
        words = line.split()
        if not words:
            return body
        command = words[0].upper()
        if command in ("READ", "GET", "WRITE", "SET"):
            if len(words) < 2:
                conn.message(SYNTAX, "Wrong number of arguments")
                return body
            data = line.split(None, 2)[2] if len(words) > 2 else ""
            if command[0] in "RG":
                self._read(conn, words[1], data)
            else:
                self._write(conn, words[1], data)
            return body
        if command in ("READDATA", "WRITEDATA", "SETDATA", "LLRPC"):
            if command == "LLRPC":
                if len(words) not in (2, 3) or (len(words) == 3 and not _is_count(words[2])):
                    conn.message(SYNTAX, "Wrong number of arguments" if len(words) not in (2, 3)
                                 else "Syntax error in 'llrpc'")
                    return body
                n = int(words[2]) if len(words) == 3 else 0
            else:
                if len(words) != 3:
                    conn.message(SYNTAX, "Wrong number of arguments")
                    return body
                if not _is_count(words[2]):
                    conn.message(SYNTAX, f"Syntax error in '{command}'")
                    return body
                n = int(words[2])
            if n > MAX_DATA:
                raise _Disconnect(f"Data too long (the limit is {MAX_DATA} bytes)")
            if len(buf) - body < n:
                conn.need = n
                return None
            data = bytes(buf[body:body + n])
            if command == "LLRPC":
                self._llrpc(conn, words[1], data)
            elif command[0] == "R":
                self._read(conn, words[1], data.decode("latin-1"))
            else:
                self._write(conn, words[1], data.decode("latin-1"))
            return body + n
        if command in ("READUNTIL", "WRITEUNTIL"):
            if len(words) < 2:
                conn.message(SYNTAX, "Wrong number of arguments")
                return body
            terminator = line.split(None, 2)[2].strip() if len(words) > 2 else ""
            start = body
            while True:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    if len(buf) - body > MAX_DATA:
                        raise _Disconnect(f"Data too long (the limit is {MAX_DATA} bytes)")
                    return None
                if bytes(buf[start:nl]).rstrip(b"\r").strip().decode("latin-1") == terminator:
                    data = bytes(buf[body:start]).decode("latin-1")
                    if command[0] == "R":
                        self._read(conn, words[1], data)
                    else:
                        self._write(conn, words[1], data)
                    return nl + 1
                start = nl + 1
        if command in ("CHECKREAD", "CHECKWRITE"):
            if len(words) != 2:
                conn.message(SYNTAX, "Wrong number of arguments")
            else:
                self._check(conn, words[1], command == "CHECKWRITE")
            return body
        if command in ("CLOSE", "QUIT"):
            if len(words) != 1:
                conn.message(SYNTAX, "Bad command syntax")
            conn.message(OK, "Goodbye!")
            conn.in_closed = True
            return len(buf)
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
            return body
        conn.message(UNIMPLEMENTED, f"Command '{command[:64]}' unimplemented")
        return body

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
            pending = self.router.call_write(e, h, data, allow_pending=True)
        except HandlerError as err:
            conn.messages(HANDLER_ERROR, f"Write handler '{full}' error", str(err).split("\n"))
            return
        if not isinstance(pending, Pending):
            conn.message(OK, f"Write handler '{full}' OK")
            return
        # The answer comes when the work ends; this client's later commands wait for it.
        conn.waiting = pending
        # The connection's owner answers: a reload the write started may have
        # handed the connection to a new ControlSocket by then.
        pending.add_done_callback(lambda p: conn.owner._answer_later(conn, full, p))

    def _answer_later(self, conn: _Connection, full: str, pending) -> None:
        conn.waiting = None
        if pending.error:
            conn.messages(HANDLER_ERROR, f"Write handler '{full}' error", pending.error.split("\n"))
        else:
            conn.message(OK, f"Write handler '{full}' OK")
        if conn.fd in self.connections:
            self._flush(conn)
            self._settle(conn)
            self._turn.reschedule()

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

