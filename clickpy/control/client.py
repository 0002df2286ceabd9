"""A client for Click's ControlSocket protocol (1.3), as Click's own tools speak it.

    with ControlClient("/run/fw.sock") as c:     # or "9000", "localhost:9000"
        c.read("c.count")                        # -> "1234"
        c.write("q.capacity", "500")
        c.handlers("q")                          # -> [("name", "r"), ("capacity", "rw"), ...]

Values travel with READDATA/WRITEDATA, so they arrive byte for byte
(newlines included). A refused call raises ControlError with the router's
code and message lines.
"""
from __future__ import annotations

import os
import socket


class ControlError(Exception):
    def __init__(self, code: int, lines: list[str]):
        self.code = code
        self.lines = lines
        super().__init__("\n".join(lines))


def parse_target(target: str) -> tuple[int, object]:
    """A ControlSocket address: 'PORT', 'HOST:PORT', or a Unix socket's path."""
    host, sep, port = target.rpartition(":")
    if not sep and target.isascii() and target.isdigit():
        host, port = "127.0.0.1", target
    elif not (sep and port.isascii() and port.isdigit() and "/" not in target):
        return socket.AF_UNIX, target
    if not 0 < int(port) < 65536:
        raise OSError(f"port {port} is out of range (1 to 65535)")
    return socket.AF_INET, (host or "127.0.0.1", int(port))


class ControlClient:
    def __init__(self, target: str, timeout: float = 30.0):
        family, address = parse_target(target)
        if family == socket.AF_UNIX and not os.path.exists(address):
            raise OSError(f"no such socket (is a router running with -u {address}?)")
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self._buf = b""
        greeting = self._line()
        if not greeting.startswith("Click::ControlSocket/"):
            self.close()
            raise OSError(f"not a Click ControlSocket (it said {greeting[:60]!r})")
        self.version = greeting.split("/", 1)[1]

    # --- the wire ---------------------------------------------------------------

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the router closed the connection")
        self._buf += chunk

    def _line(self) -> str:
        while b"\r\n" not in self._buf:
            self._fill()
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def _reply(self) -> tuple[int, list[str]]:
        """One reply: its code and its message lines (continuations joined)."""
        lines = []
        while True:
            line = self._line()
            code, more, text = line[:3], line[3:4], line[4:]
            if not (code.isascii() and code.isdigit()):
                raise ConnectionError(f"unexpected line from the router: {line[:80]!r}")
            lines.append(text)
            if more != "-":
                return int(code), lines

    def _data(self) -> bytes:
        header = self._line()
        if not header.startswith("DATA "):
            raise ConnectionError(f"expected DATA, got {header[:80]!r}")
        n = int(header[5:])
        while len(self._buf) < n:
            self._fill()
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _call(self, request: bytes) -> tuple[int, list[str]]:
        self.sock.sendall(request)
        code, lines = self._reply()
        if code >= 300:
            raise ControlError(code, lines)
        return code, lines

    # --- calls ----------------------------------------------------------------------

    def read(self, handler: str, param: str = "") -> str:
        raw = param.encode("latin-1")
        self._call(b"READDATA %s %d\n" % (handler.encode("latin-1"), len(raw)) + raw)
        return self._data().decode("latin-1")

    def write(self, handler: str, value: str = "") -> list[str]:
        """Write value; the router's message lines (warnings, if any)."""
        raw = value.encode("latin-1")
        _, lines = self._call(b"WRITEDATA %s %d\n" % (handler.encode("latin-1"), len(raw)) + raw)
        return lines

    def handlers(self, element: str = "") -> list[tuple[str, str]]:
        """(name, flags) of an element's handlers, or of the router's own."""
        text = self.read(f"{element}.handlers" if element else "handlers")
        out = []
        for line in text.splitlines():
            name, _, flags = line.partition("\t")
            if name:
                out.append((name, flags))
        return out

    def close(self) -> None:
        try:
            self.sock.sendall(b"QUIT\n")
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> "ControlClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
