"""What the trace elements share: sampling probabilities and trace files.

(Times are read and printed with ``clickpy.runtime.args.parse_time`` and
``unparse_timestamp``, in nanoseconds.)

``TraceFile`` is the reading side of a trace (Click's FromFile): a file
named on the configuration, standard input (``-``) or a string (DATA),
transparently decompressed (gzip, bzip2, xz), read in large chunks, with the
line number and file offset that error messages name.
"""
from __future__ import annotations

import os
import re
import stat
import sys
from fractions import Fraction

from clickpy.runtime.args import ArgError


SAMPLING_SHIFT = 28


def SampleArg(text: str, element=None) -> int:
    """Argument type: a probability as Click's fixed point with 28 fraction bits."""
    m = re.fullmatch(r"\+?(\d*)(?:\.(\d*))?", text.strip())
    if not m or not (m.group(1) or m.group(2)):
        raise ArgError("expected unsigned real number")
    v = Fraction(int(m.group(1) or "0")) + (Fraction(int(m.group(2)), 10 ** len(m.group(2))) if m.group(2) else 0)
    return int(v * (1 << SAMPLING_SHIFT) + Fraction(1, 2))


def unparse_sample(prob: int) -> str:
    """A fixed-point probability as Click prints it (cp_unparse_real2)."""
    if prob >= (1 << SAMPLING_SHIFT):
        v = prob / (1 << SAMPLING_SHIFT)
        return str(int(v)) if v == int(v) else f"{v:.6g}"
    return f"{prob / (1 << SAMPLING_SHIFT):.6g}"


def FileOffsetArg(text: str, element=None) -> int:
    """Argument type: a file offset (unsigned 64-bit)."""
    t = text.strip()
    try:
        v = int(t, 0) if t.lower().startswith("0x") else int(t, 10)
    except ValueError:
        raise ArgError("expected file offset") from None
    if v < 0 or v >= 1 << 63:
        raise ArgError("expected file offset")
    return v


def print_filename(filename: str | None) -> str:
    """How error messages name a trace: '<stdin>' for '-', '<data>' for DATA."""
    if filename is None:
        return "<data>"
    if not filename or filename == "-":
        return "<stdin>"
    return filename


# --- compressed files ----------------------------------------------------------

_MAGICS = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "lzma"))


def compression_of(head: bytes) -> str | None:
    """Which decompressor the first bytes of a file call for, if any."""
    for magic, module in _MAGICS:
        if head.startswith(magic):
            return module
    return None


def open_decompressed(path: str, module: str):
    """A binary stream of a compressed file's contents."""
    if module == "gzip":
        import gzip

        return gzip.open(path, "rb")
    if module == "bz2":
        import bz2

        return bz2.open(path, "rb")
    import lzma

    return lzma.open(path, "rb")


class TraceFileError(Exception):
    """A trace cannot be opened or read; the message names the file."""


class TraceFile:
    """A trace read line by line or record by record, with its position for messages.

    ``filename`` '-' is standard input; ``data`` (bytes) replaces the file
    (FromIPSummaryDump's DATA). Lines end at '\\n', '\\r' or '\\r\\n' and are
    returned with their terminator, as Click's FromFile returns them.
    """

    CHUNK = 1 << 16

    def __init__(self, filename: str | None, data: bytes | None = None):
        self.filename = filename
        self.data = data
        self.stream = None
        self.fd = -1               # for fstat (filesize); -1 when unknown
        self.buf = b""
        self.pos = 0               # position in buf
        self.offset = 0            # file offset of buf[0]
        self.eof = False
        self.lineno = 0
        self.landmark_pattern = "%f:%l"
        self.initialized = False
        self.compressed = False

    # --- opening ------------------------------------------------------------------

    def open(self, allow_nonexistent: bool = False) -> bool:
        """Open the trace; raise TraceFileError (with Click's wording) on failure.

        Returns False for a nonexistent or empty file when allow_nonexistent.
        """
        self.buf, self.pos, self.offset, self.eof, self.lineno = b"", 0, 0, False, 0
        if self.data is not None:
            self.buf = self.data
            self.eof = True
            self.initialized = True
            return True
        name = print_filename(self.filename)
        if not self.filename or self.filename == "-":
            self.stream = sys.stdin.buffer
            try:
                self.fd = sys.stdin.fileno()
            except (OSError, ValueError):
                self.fd = -1
        else:
            try:
                f = open(self.filename, "rb")
            except FileNotFoundError as e:
                if allow_nonexistent:
                    return False
                raise TraceFileError(f"{name}: {e.strerror}") from None
            except OSError as e:
                raise TraceFileError(f"{name}: {e.strerror}") from None
            if stat.S_ISDIR(os.fstat(f.fileno()).st_mode):
                f.close()
                raise TraceFileError(f"{name}: Is a directory")
            head = f.read(8)
            module = compression_of(head)
            if module is not None:
                f.close()
                f = open_decompressed(self.filename, module)
                self.compressed = True
                self.fd = -1
            else:
                f.seek(0)
                self.fd = f.fileno()
            self.stream = f
        self.initialized = True
        if not self._fill(1):
            self.close()
            if allow_nonexistent:
                return False
            raise TraceFileError(f"{name}: empty file")
        return True

    def close(self) -> None:
        if self.stream is not None and self.stream is not sys.stdin.buffer:
            try:
                self.stream.close()
            except OSError:
                pass
        self.stream = None
        self.fd = -1
        self.initialized = False

    # --- reading --------------------------------------------------------------------

    def _fill(self, need: int) -> bool:
        """Make at least need bytes available at pos; False if the trace ends first."""
        while len(self.buf) - self.pos < need:
            if self.eof or self.stream is None:
                return False
            try:
                chunk = self.stream.read(max(self.CHUNK, need))
            except OSError as e:
                raise TraceFileError(f"{print_filename(self.filename)}: {e}") from None
            except EOFError:
                raise TraceFileError(f"{print_filename(self.filename)}: compressed data ends early") from None
            if not chunk:
                self.eof = True
                return False
            self.offset += self.pos
            self.buf = self.buf[self.pos:] + chunk
            self.pos = 0
        return True

    _EOL = re.compile(rb"\r\n|\r|\n")

    def read_line(self) -> bytes | None:
        """The next line with its terminator, or None at the end of the trace."""
        while True:
            m = self._EOL.search(self.buf, self.pos)
            # A lone '\r' at the end of the buffer may be the start of '\r\n'.
            if m and not (m.group() == b"\r" and m.end() == len(self.buf) and not self.eof):
                line = self.buf[self.pos:m.end()]
                self.pos = m.end()
                self.lineno += 1
                return line
            if not self._fill(len(self.buf) - self.pos + 1):
                if self.pos < len(self.buf):
                    line = self.buf[self.pos:]
                    self.pos = len(self.buf)
                    self.lineno += 1
                    return line
                return None

    def peek_line(self) -> bytes | None:
        pos, lineno = self.pos, self.lineno
        offset = self.offset
        line = self.read_line()
        # _fill may have moved the buffer; recompute the saved position.
        self.pos = pos - (self.offset - offset)
        self.lineno = lineno
        return line

    def read_bytes(self, n: int) -> bytes | None:
        """Exactly n bytes, or None if the trace ends first (the rest is consumed)."""
        if not self._fill(n):
            self.pos = len(self.buf)
            return None
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    # --- position and messages ----------------------------------------------------------

    @property
    def filepos(self) -> int:
        return self.offset + self.pos

    def filesize(self):
        """The file's size in bytes, or '-' when it cannot be known (pipe, compressed)."""
        if self.data is not None:
            return len(self.data)
        if self.fd >= 0:
            try:
                st = os.fstat(self.fd)
                if stat.S_ISREG(st.st_mode):
                    return st.st_size
            except OSError:
                pass
        return "-"

    def landmark(self) -> str:
        out = self.landmark_pattern.replace("%f", print_filename(self.filename if self.data is None else None))
        return out.replace("%l", str(self.lineno))

    def error(self, message: str) -> str:
        return f"{self.landmark()}: {message}"

    def warning(self, message: str) -> str:
        return f"{self.landmark()}: warning: {message}"


def report(message: str) -> None:
    """Print a runtime message from a trace element to standard error."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    print(message, file=sys.stderr)
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def open_output(filename: str, binary: bool):
    """A writable stream for an output trace: a file, or standard output for '-'.

    Raises OSError. Standard output is shared with the rest of the process:
    text goes through sys.stdout, so lines keep their order with other output.
    """
    if filename == "-":
        return sys.stdout.buffer if binary else sys.stdout
    if binary:
        return open(filename, "wb")
    return open(filename, "w", encoding="latin-1", newline="")


def stdout_is(stream) -> bool:
    return stream is sys.stdout or stream is getattr(sys.stdout, "buffer", None)


__all__ = ["SampleArg", "unparse_sample",
           "FileOffsetArg", "TraceFile", "TraceFileError", "print_filename", "report", "open_output",
           "compression_of", "open_decompressed"]
