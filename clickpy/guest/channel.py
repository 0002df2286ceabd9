"""The control channel between a switch, its zygote and its guests.

Each message is one msgpack map, sent back to back over a connected Unix
stream socket. A message may carry descriptors (``"nfds": N``): they travel
as SCM_RIGHTS with the message's first bytes, and the receiver hands the
next N descriptors it received to that message.

Neither side trusts the other: a message that is not a map, is larger than
``MAX_MESSAGE``, or claims descriptors that did not arrive is a
``ChannelError``, and so is a peer that hung up. Sending never blocks: what
the socket cannot take now waits in an outbox that ``flush`` sends when the
socket is writable (``wants_write``).
"""
from __future__ import annotations

import os
import select
import socket
import time

import msgpack

MAX_MESSAGE = 64 << 20     # a guest image's Plan is far below this
MAX_FDS = 16               # descriptors one message may carry
READ_SIZE = 1 << 16


class ChannelError(Exception):
    """The peer broke the protocol or went away; the channel is unusable."""


class Channel:
    def __init__(self, sock: socket.socket):
        sock.setblocking(False)
        self.sock = sock
        self.closed = False
        self._unpacker = msgpack.Unpacker(raw=False, max_buffer_size=MAX_MESSAGE,
                                          strict_map_key=True, use_list=True)
        self._fds: list[int] = []           # received, not yet handed to a message
        self._outbox = bytearray()
        self._ready: list[dict] = []         # received by wait() beyond the one it returned
        self._eof = False

    @classmethod
    def pair(cls) -> tuple["Channel", socket.socket]:
        """A channel and the socket of its other end (to pass to a process)."""
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return cls(a), b

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def wants_write(self) -> bool:
        return bool(self._outbox)

    def send(self, message: dict, fds=()) -> None:
        """Queue message (and fds, sent at once with its first bytes) and send what the socket takes."""
        if self.closed:
            raise ChannelError("the channel is closed")
        if fds:
            message = {**message, "nfds": len(fds)}
        data = msgpack.packb(message, use_bin_type=True)
        if fds:
            # Descriptors cannot wait in the outbox: send what is queued first.
            self.flush(block=True)
            try:
                sent = socket.send_fds(self.sock, [data], list(fds))
            except BlockingIOError:
                self._wait_writable(5.0)
                sent = socket.send_fds(self.sock, [data], list(fds))
            except OSError as e:
                raise ChannelError(f"cannot send: {e.strerror}") from None
            self._outbox += data[sent:]
        else:
            self._outbox += data
        self.flush()

    def flush(self, block: bool = False) -> None:
        while self._outbox:
            try:
                n = self.sock.send(self._outbox)
            except BlockingIOError:
                if not block:
                    return
                self._wait_writable(5.0)
                continue
            except OSError as e:
                raise ChannelError(f"cannot send: {e.strerror}") from None
            del self._outbox[:n]

    def _wait_writable(self, timeout: float) -> None:
        _, w, _ = select.select([], [self.sock], [], timeout)
        if not w:
            raise ChannelError("the peer does not read its channel")

    def receive(self) -> list[dict]:
        """The complete messages that have arrived (without waiting)."""
        if self.closed:
            raise ChannelError("the channel is closed")
        eof = self._eof
        while not eof:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.sock, READ_SIZE, MAX_FDS)
            except BlockingIOError:
                break
            except OSError as e:
                raise ChannelError(f"cannot receive: {e.strerror}") from None
            self._fds.extend(fds)
            if len(self._fds) > 4 * MAX_FDS:
                raise ChannelError("the peer sends descriptors no message claims")
            if not data:
                eof = True
                break
            try:
                self._unpacker.feed(data)
            except msgpack.BufferFull:
                raise ChannelError(f"a message larger than {MAX_MESSAGE} bytes") from None
            if len(data) < READ_SIZE:
                break
        out, self._ready = self._ready, []
        try:
            for message in self._unpacker:
                if not isinstance(message, dict):
                    raise ChannelError(f"expected a map, got {type(message).__name__}")
                nfds = message.get("nfds", 0)
                if nfds:
                    if not isinstance(nfds, int) or nfds < 0 or nfds > len(self._fds):
                        raise ChannelError("a message claims descriptors that did not arrive")
                    message["fds"] = self._fds[:nfds]
                    del self._fds[:nfds]
                out.append(message)
        except (ValueError, msgpack.UnpackException) as e:
            raise ChannelError(f"not msgpack ({e})") from None
        if eof:
            self._eof = True
        if self._eof and not out:
            raise ChannelError("the peer hung up")
        return out

    def wait(self, timeout: float) -> dict:
        """Block for the next message (tests, tools and a guest before it runs)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.receive()
            if messages:
                self._ready = messages[1:]
                return messages[0]
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelError(f"no message within {timeout:g} s")
            select.select([self.sock], [], [], left)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for fd in self._fds:
                os.close(fd)
            self._fds = []
            self.sock.close()
