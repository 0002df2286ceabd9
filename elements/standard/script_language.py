"""The language of Click's Script and DriverManager elements (not an element).

Script and DriverManager share everything here:

* value syntax as Click reads it: integers (``IntArg``: decimal, ``0x``
  hex, ``0b`` binary, leading-zero octal, ``_`` between digits), reals
  (``strtod``), booleans (``BoolArg``, exact spelling), time intervals
  (``cp_time``), and Click's ways of printing numbers (``%.12g``) and
  timestamps;
* error reporting as Click's ErrorHandlers do it: a plain handler on
  standard error, a context handler that prints "While executing ...:" once
  and indents what follows, and a collector for handlers called from
  outside a script;
* ``expand``, the ``$x`` / ``${x}`` / ``$(handler args)`` substitution
  (Click's ``cp_expand``), parameterised by a lookup function;
* ``HandlerRef``, a handler named in a script ("[element.]handler [value]"),
  resolved as Click's ``cp_handler_name`` resolves it: the element relative
  to the script's compound, else a handler of the script itself, else a
  handler of the router;
* ``BUILTINS``, the read handlers every Script has (``add``, ``lt``,
  ``sprintf``, ``random``, ``cat``, ...);
* ``parse_program``, which turns a Script's configuration arguments into its
  instruction list (the interpreter that steps through it is the Script
  element itself, because stepping is tied to its timer and to the router's
  runcount).
"""
from __future__ import annotations

import math
import os
import random
import re
import signal as _signal
import sys

from clickpy.lang.confstring import quote, shift_word, split_words, unquote
from clickpy.runtime.args import ArgError, parse_time, unparse_timestamp
from clickpy.runtime.handlers import HandlerError, format_value
from clickpy.runtime.pending import Pending

DIGITS = "0123456789"  # str.isdigit() also takes '²', which int() refuses

EINVAL = 22

# --- values --------------------------------------------------------------------

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def parse_int(text: str, bits: int = 64, signed: bool = True) -> int | None:
    """The whole of text as an integer the way Click's IntArg reads it, or None.

    Base prefixes ``0x`` and ``0b``, a leading ``0`` for octal, ``_``
    between digits; out of range for the type (``bits``, ``signed``) is None.
    """
    n = len(text)
    i = 0
    if i < n and ((signed and text[i] == "-") or text[i] == "+"):
        i += 1
    if i + 2 < n and text[i] == "0" and text[i + 1] in "xX":
        base, i = 16, i + 2
    elif i + 2 < n and text[i] == "0" and text[i + 1] in "bB":
        base, i = 2, i + 2
    elif i < n and text[i] == "0":
        base = 8
    else:
        base = 10
    digits = []
    last_was_digit = False
    j = i
    while j < n:
        c = text[j]
        if c == "_" and last_was_digit:
            last_was_digit = False
        else:
            try:
                d = int(c, 36)
            except ValueError:
                break
            if d >= base:
                break
            digits.append(c)
            last_was_digit = True
        j += 1
    # A trailing '_' is not part of the number, so the parse stops short.
    if not digits or j != n or text[-1] == "_":
        return None
    value = int("".join(digits), base)
    if text[0] == "-":
        value = -value
    if signed:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1
    return value if lo <= value <= hi else None


_REAL_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEXREAL_RE = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?\Z")
_SPECIAL_RE = re.compile(r"[+-]?(?:inf|infinity|nan(?:\([0-9A-Za-z_]*\))?)\Z", re.IGNORECASE)


def parse_double(text: str) -> float | None:
    """The whole of text as a real number (C's strtod, no leading space), or None."""
    if not text or text[0].isspace():
        return None
    if _REAL_RE.match(text):
        v = float(text)
        if math.isinf(v):
            return None  # ERANGE: overflow
        if v == 0.0 and any(c in "123456789" for c in text.split("e")[0].split("E")[0]):
            return None  # ERANGE: underflow
        return v
    if _HEXREAL_RE.match(text):
        sign = -1.0 if text[0] == "-" else 1.0
        body = text.lstrip("+-")
        if "p" not in body.lower():
            body += "p0"
        try:
            return sign * float.fromhex(body)
        except (OverflowError, ValueError):
            return None
    if _SPECIAL_RE.match(text):
        t = text.lower()
        sign = -1.0 if t.startswith("-") else 1.0
        return sign * (math.nan if "nan" in t else math.inf)
    return None


_BOOLS = {"0": False, "n": False, "f": False, "false": False, "no": False,
          "1": True, "y": True, "t": True, "true": True, "yes": True}


def parse_bool(text: str) -> bool | None:
    """Click's BoolArg: exactly one of its spellings, case-sensitive; else None."""
    return _BOOLS.get(text)


def unparse_bool(b) -> str:
    return "true" if b else "false"


def format_double(x: float) -> str:
    """A real number as Click's String(double) prints it."""
    return "%.12g" % x


def parse_time_ns(text: str) -> int | None:
    """A time interval (Click's cp_time) in nanoseconds, or None."""
    try:
        return parse_time(text)
    except ArgError:
        return None


def cp_string(word: str) -> str | None:
    """One word (quotes allowed), unquoted; None if empty or more than one word."""
    words = split_words(word)
    if len(words) != 1 or words[0] != word.strip():
        return None
    return unquote(words[0])


def is_space_only(text: str) -> bool:
    return not text.strip(" \t\n\r\f\v")


# --- error reporting ----------------------------------------------------------------


class Errors:
    """Where a script reports errors and messages (Click's ErrorHandler, reduced).

    ``emit(text, kind)`` prints; kind is "error" or "message", so a handler
    that forwards to the router's configure-time errh keeps errors errors.
    """

    def __init__(self, parent: "Errors | None" = None):
        self.parent = parent
        self.nerrors = 0

    def _count(self) -> None:
        e = self
        while e is not None:
            e.nerrors += 1
            e = e.parent

    def error(self, text: str) -> int:
        self._count()
        self.emit(text, "error")
        return -EINVAL

    def message(self, text: str) -> int:
        self.emit(text, "message")
        return 0

    def emit(self, text: str, kind: str) -> None:
        raise NotImplementedError


class StderrErrors(Errors):
    """Click's default handler at user level: each message on standard error."""

    def emit(self, text: str, kind: str) -> None:
        if not text.endswith("\n"):
            text += "\n"
        try:
            sys.stdout.flush()
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


class ContextErrors(Errors):
    """Prints a context line before the first message, and indents the messages."""

    def __init__(self, parent: Errors, context: str, indent: str = "  "):
        super().__init__(parent)
        self.context = context
        self.indent = indent
        self.printed = False

    def emit(self, text: str, kind: str) -> None:
        if not self.printed:
            self.printed = True
            self.parent.emit(self.context, kind)
        lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
        self.parent.emit("\n".join(self.indent + line for line in lines), kind)


class CollectErrors(Errors):
    """Keeps messages, for a handler called from outside any script."""

    def __init__(self):
        super().__init__(None)
        self.lines: list[str] = []

    def emit(self, text: str, kind: str) -> None:
        self.lines.append(text.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)


# Handlers written in this module (Script's own) report to the error handler
# of the script that calls them, as Click passes an ErrorHandler to every
# handler call; this stack holds it while a script calls a handler.
_errh_stack: list[Errors] = []


def current_errh() -> Errors | None:
    return _errh_stack[-1] if _errh_stack else None


def call_with_errh(fn):
    """Run fn(errh) with the calling script's errh, or collect and raise.

    From outside a script (the command line, another element), errors
    become a HandlerError, as clickpy reports handler failures.
    """
    errh = current_errh()
    if errh is not None:
        return fn(errh)
    collect = CollectErrors()
    result = fn(collect)
    if collect.nerrors:
        raise HandlerError(collect.text())
    return result


class ScriptError(Exception):
    """A built-in handler's error message."""


# --- handler references -------------------------------------------------------------

OP_READ = 1
OP_WRITE = 2
_ROOT = object()  # the router itself (Click's root element)


def unparse_handler_name(element, hname: str) -> str:
    return f"{element.name}.{hname}" if element is not None else hname


def resolve_handler_name(context, text: str, errh: Errors | None):
    """'[element.]handler' -> (element or None for the router, handler name), or None.

    Click's cp_handler_name: a leading dot names a router handler; an element
    name is looked up relative to the context's compound; failing that, a
    handler of the context element with the whole name, then a router handler.
    """
    name = cp_string(text) if text else None
    if not name:
        if errh is not None:
            errh.error("syntax error")
        return None
    router = context.router
    dot = name.find(".")
    element = None
    start = 0
    if dot == 0:
        return None, name[1:]
    if dot == len(name) - 1:
        if errh is not None:
            errh.error("syntax error")
        return None
    if dot > 0:
        element = router.find(name[:dot], context)
        if element is not None:
            start = dot + 1
    if element is None:
        if context.eindex >= 0 and router.handler(context, name) is not None:
            element = context
        elif dot < 0 or router.handler(None, name) is not None:
            element = None
        else:
            if errh is not None:
                errh.error(f"no element named '{name[:dot]}'")
            return None
    return element, name[start:]


class HandlerRef:
    """A handler call written in a script: '[element.]handler [value]'."""

    __slots__ = ("text", "element", "handler", "value", "router")

    def __init__(self, text: str):
        self.text = text
        self.element = None
        self.handler = None
        self.value = ""
        self.router = None

    def initialize(self, op: int, context, errh: Errors | None, unquote_value: bool = False) -> bool:
        word, value = shift_word(self.text)
        found = resolve_handler_name(context, word, errh)
        if found is None:
            return False
        element, hname = found
        if unquote_value:
            value = unquote(value)
        router = context.router
        h = router.handler(element, hname)
        full = unparse_handler_name(element, hname)
        if h is None or (op == OP_WRITE and not h.writable):
            if errh is not None:
                errh.error(f"no '{full}' {'write' if op == OP_WRITE else 'read'} handler")
            return False
        if op == OP_READ and not h.readable:
            if errh is not None:
                errh.error(f"no '{full}' read handler")
            return False
        if value and op == OP_READ and not h.read_param:
            if errh is not None:
                errh.error(f"read handler '{full}' does not take parameters")
            return False
        self.router, self.element, self.handler, self.value = router, element, h, value
        return True

    def unparse(self) -> str:
        name = unparse_handler_name(self.element, self.handler.name)
        return f"{name} {self.value}" if self.value else name

    def call_read(self, errh: Errors) -> str:
        h = self.handler
        _errh_stack.append(errh)
        try:
            v = h.read(self.element, self.value) if h.read_param else h.read(self.element)
        except HandlerError as err:
            if str(err):
                errh.error(str(err))
            return ""
        except Exception as exc:  # a broken handler must not stop the script
            errh.error(f"{self.unparse()}: {exc!r}")
            return ""
        finally:
            _errh_stack.pop()
        return format_value(v)

    def call_write(self, errh: Errors) -> int:
        """Call the write handler; returns Click's status (0, or negative on error)."""
        _errh_stack.append(errh)
        try:
            r = self.handler.write(self.element, self.value)
        except HandlerError as err:
            if str(err):
                return errh.error(str(err))
            return -EINVAL
        except Exception as exc:
            return errh.error(f"{self.unparse()}: {exc!r}")
        finally:
            _errh_stack.pop()
        if isinstance(r, Pending):  # a write that finishes later: a script waits for it
            r.wait()
            r = r.error
        if isinstance(r, bool) or r is None:
            return 0
        if isinstance(r, int):
            return r
        if isinstance(r, str) and r:
            return errh.error(r)
        return 0


def handler_exists(context, text: str, op: int) -> bool:
    return HandlerRef(text).initialize(op, context, None)


# --- substitution -------------------------------------------------------------------


def expand(config: str, lookup, expand_quote: bool = False, depth: int = 0) -> str:
    """Substitute $name, ${name} and $(handler ...) in config (Click's cp_expand).

    lookup(name, kind, depth) returns the text for a reference, or None to
    leave it as written; kind is 'a' ($name, $?, $#, $$), '{' or '('.
    Nothing inside single quotes is substituted. A value substituted inside
    double quotes (or anywhere, with expand_quote) is quoted so that
    unquoting the result gives the value back exactly.
    """
    if not config or "$" not in config:
        return config
    s = config
    end = len(s)
    out: list[str] = []
    uninterpolated = 0
    quote_char = ""
    i = 0
    while i < end:
        c = s[i]
        if c == "\\":
            if i + 1 < end and quote_char == '"':
                i += 1
        elif c in "'\"":
            if not quote_char:
                quote_char = c
            elif quote_char == c:
                quote_char = ""
        elif c == "/":
            if i + 1 < end and s[i + 1] in "/*" and not quote_char:
                i = _skip_comment_space(s, i) - 1
        elif c == "$":
            if i + 1 >= end or quote_char == "'" or depth > 10:
                i += 1
                continue
            before = i
            expand_name = False
            nxt = s[i + 1]
            if nxt == "{":
                kind = "{"
                j = i + 2
                start = j
                while j < end and s[j] != "}":
                    if s[j] == "$":
                        expand_name = True
                    j += 1
                if j == end:
                    break
                name = s[start:j]
                j += 1
            elif nxt == "(":
                kind = "("
                level = 1
                nquote = ""
                j = i + 2
                start = j
                while j < end and level:
                    d = s[j]
                    if d == "(":
                        if not nquote:
                            level += 1
                    elif d == ")":
                        if not nquote:
                            level -= 1
                    elif d in "\"'":
                        if not nquote:
                            nquote = d
                        elif nquote == d:
                            nquote = ""
                    elif d == "\\":
                        if j + 1 < end and nquote != "'":
                            j += 1
                    elif d == "$":
                        if nquote != "'":
                            expand_name = True
                    j += 1
                if j == start or s[j - 1] != ")":
                    break
                name = s[start : j - 1]
            elif nxt.isalnum() and nxt.isascii() or nxt == "_":
                kind = "a"
                j = i + 1
                while j < end and ((s[j].isalnum() and s[j].isascii()) or s[j] == "_"):
                    j += 1
                name = s[i + 1 : j]
            elif nxt in "?#$":
                kind = "a"
                name = nxt
                j = i + 2
            else:
                i += 1
                continue
            out.append(s[uninterpolated:before])
            if expand_name:
                name = expand(name, lookup, False, depth + 1)
            text = lookup(name, kind, depth)
            uninterpolated = j
            if text is None:
                if expand_name:
                    out.append(s[before : before + 2] + name + s[j - 1])
                else:
                    uninterpolated = before
            elif quote_char == '"' or (expand_quote and not quote_char):
                q = quote(text)[1:-1]
                out.append(q if quote_char == '"' else '"' + q + '"')
            else:
                out.append(text)
            i = j
            continue
        i += 1
    if not out:
        return config
    out.append(s[uninterpolated:])
    return "".join(out)


def _skip_comment_space(s: str, i: int) -> int:
    from clickpy.lang.confstring import skip_comment_space

    return skip_comment_space(s, i)


# --- built-in handlers ------------------------------------------------------------------
# Each takes (script element, parameter text, errh) and returns the result
# text, or raises ScriptError with Click's message.

_AR_ADD, _AR_SUB, _AR_MIN, _AR_MAX, _AR_MUL, _AR_DIV, _AR_IDIV = range(7)


def _wrap64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= (1 << 63) else v


def _arithmetic(what: int):
    def fn(script, text: str, errh: Errors) -> str:
        zero = what in (_AR_ADD, _AR_SUB)
        accum = 0 if zero else 1
        daccum = 0.0 if zero else 1.0
        use_double = what in (_AR_DIV, _AR_IDIV)
        first = True
        rest = text
        while True:
            word, rest = shift_word(rest)
            if not word and is_space_only(rest):
                break
            if not use_double:
                arg = parse_int(word)
                if arg is None:
                    use_double = True
                    daccum = float(accum)
            if use_double:
                darg = parse_double(word)
                if darg is None:
                    raise ScriptError("expected list of numbers")
                if first:
                    daccum = darg
                elif what == _AR_ADD:
                    daccum += darg
                elif what == _AR_SUB:
                    daccum -= darg
                elif what == _AR_MIN:
                    daccum = daccum if daccum < darg else darg
                elif what == _AR_MAX:
                    daccum = daccum if daccum > darg else darg
                elif what == _AR_MUL:
                    daccum *= darg
                else:
                    daccum = _fdiv(daccum, darg)
            else:
                if first:
                    accum = arg
                elif what == _AR_ADD:
                    accum = _wrap64(accum + arg)
                elif what == _AR_SUB:
                    accum = _wrap64(accum - arg)
                elif what == _AR_MIN:
                    accum = min(accum, arg)
                elif what == _AR_MAX:
                    accum = max(accum, arg)
                elif what == _AR_MUL:
                    accum = _wrap64(accum * arg)
            first = False
        if what == _AR_IDIV:
            return str(_trunc64(daccum))
        return format_double(daccum) if use_double else str(accum)

    return fn


def _fdiv(a: float, b: float) -> float:
    """IEEE division, as C does it (no exception on zero)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _trunc64(x: float) -> int:
    # C's (int64_t) conversion; out-of-range values (undefined in C) give
    # what x86-64 gives, the minimum.
    if math.isnan(x) or math.isinf(x) or not (INT64_MIN <= x < 2.0 ** 63):
        return INT64_MIN
    return int(x)


def _two_words(text: str):
    a, rest = shift_word(text)
    b, rest = shift_word(rest)
    if rest or not a or not b:
        raise ScriptError("expected two numbers")
    return a, b


def _c_mod(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        q = -q
    return _wrap64(a - b * q)


def _modrem(is_mod: bool):
    def fn(script, text: str, errh: Errors) -> str:
        astr, bstr = _two_words(text)
        a, b = parse_int(astr), parse_int(bstr)
        if a is None or b is None:
            da, db = parse_double(astr), parse_double(bstr)
            if is_mod or da is None or db is None:
                raise ScriptError("expected two numbers")
            try:
                return format_double(math.fmod(da, db))
            except ValueError:
                return format_double(math.nan)
        if b == 0:
            raise ScriptError("division by zero")
        return str(_c_mod(a, b))

    return fn


def _negabs(is_neg: bool):
    def fn(script, text: str, errh: Errors) -> str:
        x = parse_int(text)
        if x is None:
            dx = parse_double(text)
            if dx is None:
                raise ScriptError("expected one number")
            return format_double(-dx if is_neg else abs(dx))
        return str(_wrap64(-x) if is_neg or x < 0 else x)

    return fn


_LT, _EQ, _GT, _GE, _NE, _LE = range(6)


def _compare(what: int):
    def fn(script, text: str, errh: Errors) -> str:
        astr, bstr = _two_words(text)
        a, b = parse_int(astr), parse_int(bstr)
        if a is not None and b is not None:
            cmp = _LT if a < b else (_EQ if a == b else _GT)
        else:
            da, db = parse_double(astr), parse_double(bstr)
            if da is not None and db is not None:
                cmp = _LT if da < db else (_EQ if da == db else _GT)
            else:
                ua = unquote(astr).encode("latin-1", "replace")
                ub = unquote(bstr).encode("latin-1", "replace")
                cmp = _LT if ua < ub else (_EQ if ua == ub else _GT)
        return unparse_bool(what == cmp or (what >= _GE and what != cmp + 3))

    return fn


def _c_int_format(flags: str, width: int | None, precision: int | None, conv: str, value: int) -> str:
    """One C printf integer conversion (d i u o x X) with flags, width, precision."""
    negative = value < 0
    digits = format(abs(value), {"d": "d", "i": "d", "u": "d", "o": "o", "x": "x", "X": "X"}[conv])
    if precision is not None:
        digits = "" if precision == 0 and value == 0 else digits.rjust(precision, "0")
    prefix = ""
    if conv in "di":
        prefix = "-" if negative else ("+" if "+" in flags else (" " if " " in flags else ""))
    if "#" in flags:
        if conv == "o" and not digits.startswith("0"):
            digits = "0" + digits
        elif conv in "xX" and value != 0:
            prefix = "0" + conv
    body = prefix + digits
    if width is not None and len(body) < width:
        if "-" in flags:
            body = body.ljust(width)
        elif "0" in flags and precision is None:
            body = prefix + digits.rjust(width - len(prefix), "0")
        else:
            body = body.rjust(width)
    return body


def _sprintf(script, text: str, errh: Errors) -> str:
    fmt_word, rest = shift_word(text)
    fmt = unquote(fmt_word)
    out: list[str] = []
    i = 0
    n = len(fmt)
    while True:
        pct = fmt.find("%", i)
        if pct < 0:
            break
        out.append(fmt[i:pct])
        j = pct + 1
        flags = ""
        while j < n and fmt[j] in "0#- +":
            flags += fmt[j]
            j += 1
        width = None
        if j < n and fmt[j] == "*":
            word, rest = shift_word(rest)
            w = parse_int(word, 32)
            if w is None:
                raise ScriptError("syntax error")
            if w < 0:
                flags += "-"
                w = -w
            width = w
            j += 1
        else:
            k = j
            while j < n and fmt[j] in DIGITS:
                j += 1
            if j > k:
                width = int(fmt[k:j])
        precision = None
        if j < n and fmt[j] == ".":
            j += 1
            if j < n and fmt[j] == "*":
                word, rest = shift_word(rest)
                p = parse_int(word, 32)
                if p is None or p < 0:
                    raise ScriptError("syntax error")
                precision = p
                j += 1
            elif j < n and fmt[j] in DIGITS:
                k = j
                while j < n and fmt[j] in DIGITS:
                    j += 1
                precision = int(fmt[k:j])
        size = ""
        while j < n:
            if fmt[j] == "h":
                size = "h"
            elif fmt[j] == "l":
                size = "q" if size == "l" else "l"
            elif fmt[j] in "Lq":
                size = "q"
            else:
                break
            j += 1
        conv = fmt[j] if j < n else ""
        if conv and conv in "oxXu":
            word, rest = shift_word(rest)
            v = parse_int(word, 64, signed=False)
            if v is None:
                raise ScriptError("syntax error")
            if size == "h":
                v &= 0xFFFF
            out.append(_c_int_format(flags, width, precision, conv, v))
        elif conv and conv in "di":
            word, rest = shift_word(rest)
            v = parse_int(word, 64)
            if v is None:
                raise ScriptError("syntax error")
            if size == "h":
                v = ((v + 0x8000) & 0xFFFF) - 0x8000
            out.append(_c_int_format(flags, width, precision, conv, v))
        elif conv == "%":
            out.append("%")
        elif conv == "s":
            word, rest = shift_word(rest)
            s = cp_string(word) if word else None
            if s is None:
                raise ScriptError("syntax error")
            if precision is not None:
                s = s[:precision]
            if width is not None and len(s) < width:
                s = s.ljust(width) if "-" in flags else s.rjust(width)
            out.append(s)
        else:
            raise ScriptError("syntax error")
        i = j + 1
    if rest:
        raise ScriptError("syntax error")
    out.append(fmt[i:])
    return "".join(out)


def _first(script, text, errh):
    return shift_word(text)[0]


def _not(script, text, errh):
    b = parse_bool(text)
    if b is None:
        raise ScriptError("syntax error")
    return unparse_bool(not b)


def _andor(is_and: bool, negate: bool):
    def fn(script, text: str, errh: Errors) -> str:
        zero = is_and
        value = zero
        rest = text
        while value == zero and rest:
            word, rest = shift_word(rest)
            x = parse_bool(word)
            if x is None:
                raise ScriptError("syntax error")
            value = (value and x) if is_and else (value or x)
        return unparse_bool(not value if negate else value)

    return fn


def _if(script, text, errh):
    word, rest = shift_word(text)
    x = parse_bool(word)
    if x is None:
        raise ScriptError("syntax error")
    if x:
        return shift_word(rest)[0]
    _, rest = shift_word(rest)
    return shift_word(rest)[0]


def _in(script, text, errh):
    word, rest = shift_word(text)
    word = unquote(word)
    answer = False
    while word and rest and not answer:
        other, rest = shift_word(rest)
        answer = word == unquote(other)
    return unparse_bool(answer)


def _now(script, text, errh):
    return unparse_timestamp(script.router.scheduler.now())


RAND_MAX = 2147483647


def _random(script, text, errh):
    if not text:
        return str(random.randint(0, RAND_MAX))
    words = split_words(text)
    if len(words) > 2:
        raise ScriptError("too many arguments")
    values = []
    for keyword, w in zip(("N1", "N2"), words):
        v = parse_int(w, 32, signed=False)
        if v is None:
            raise ScriptError(f"{keyword}: expected unsigned integer")
        values.append(v)
    if len(values) == 2:
        if values[1] < values[0]:
            raise ScriptError("bad N")
        return str(random.randint(values[0], values[1]))
    if values[0] == 0:
        raise ScriptError("bad N")
    return str(random.randint(0, values[0] - 1))


def _byteorder(width: int):
    def fn(script, text, errh):
        x = parse_int(text, 32)
        if x is None:
            raise ScriptError("syntax error")
        if width == 16:
            v = x & 0xFFFF
            return str(((v & 0xFF) << 8) | (v >> 8))
        return str(int.from_bytes((x & 0xFFFFFFFF).to_bytes(4, "little"), "big"))

    return fn


def _filename(text: str) -> str | None:
    """Click's FilenameArg: one string, '~' expanded, doubled slashes collapsed."""
    fn = cp_string(text) if text else None
    if not fn:
        return None
    if fn.startswith("~"):
        fn = os.path.expanduser(fn)
    while "//" in fn:
        fn = fn.replace("//", "/")
    return fn


def _cat(quoted: bool):
    def fn(script, text, errh):
        filename = _filename(text)
        if filename is None:
            raise ScriptError("bad FILE")
        try:
            with open(filename, "rb") as f:
                data = f.read().decode("latin-1")
        except OSError as err:
            raise ScriptError(f"{filename}: {err.strerror}") from None
        return quote(data) if quoted else data

    return fn


SIGNALS = {"ABRT": _signal.SIGABRT, "ALRM": _signal.SIGALRM, "HUP": _signal.SIGHUP, "INT": _signal.SIGINT,
           "IO": _signal.SIGIO, "PIPE": _signal.SIGPIPE, "QUIT": _signal.SIGQUIT, "TERM": _signal.SIGTERM,
           "TSTP": _signal.SIGTSTP, "USR1": _signal.SIGUSR1, "USR2": _signal.SIGUSR2}


def parse_signal(word: str) -> int | None:
    """A signal name from Click's table (INT, HUP, USR1, ...) or a number."""
    if word in SIGNALS:
        return int(SIGNALS[word])
    return parse_int(word, 32)


def _kill(script, text, errh):
    word, rest = shift_word(text)
    signo = parse_signal(word) if word else None
    if signo is None or signo < 0 or signo > 32:
        raise ScriptError("bad SIGNO")
    while rest:
        w, rest = shift_word(rest)
        pid = parse_int(w, 32)
        if pid is None:
            raise ScriptError("bad PID")
        try:
            os.kill(pid, signo)
        except OSError as err:
            raise ScriptError(f"kill({pid}, {signo}): {err.strerror}") from None
    return ""


def _handlers_exist(op: int):
    def fn(script, text, errh):
        rest = text
        while True:
            word, rest = shift_word(rest)
            if not word:
                return "true"
            if not handler_exists(script, word, op):
                return "false"

    return fn


def _length(script, text, errh):
    return str(len(text))


def _unquote(script, text, errh):
    return unquote(text)


def _var_get(script, text, errh):
    name, rest = shift_word(text)
    if not name:
        raise ScriptError("no variable")
    if rest:
        raise ScriptError("too many arguments")
    return script.script_variable(name)


def _var_shift(script, text, errh):
    name, rest = shift_word(text)
    name = name or "args"
    if rest:
        raise ScriptError("too many arguments")
    value = script.script_variable(name)
    word, value = shift_word(value)
    script.set_script_variable(name, value, create=False)
    return word


# name -> (function, takes a parameter)
BUILTINS = {
    "add": (_arithmetic(_AR_ADD), True),
    "sub": (_arithmetic(_AR_SUB), True),
    "min": (_arithmetic(_AR_MIN), True),
    "max": (_arithmetic(_AR_MAX), True),
    "mul": (_arithmetic(_AR_MUL), True),
    "div": (_arithmetic(_AR_DIV), True),
    "idiv": (_arithmetic(_AR_IDIV), True),
    "mod": (_modrem(True), True),
    "rem": (_modrem(False), True),
    "neg": (_negabs(True), True),
    "abs": (_negabs(False), True),
    "eq": (_compare(_EQ), True),
    "ne": (_compare(_NE), True),
    "gt": (_compare(_GT), True),
    "ge": (_compare(_GE), True),
    "lt": (_compare(_LT), True),
    "le": (_compare(_LE), True),
    "not": (_not, True),
    "sprintf": (_sprintf, True),
    "first": (_first, True),
    "random": (_random, True),
    "and": (_andor(True, False), True),
    "or": (_andor(False, False), True),
    "nand": (_andor(True, True), True),
    "nor": (_andor(False, True), True),
    "if": (_if, True),
    "in": (_in, True),
    "now": (_now, False),
    "readable": (_handlers_exist(OP_READ), True),
    "writable": (_handlers_exist(OP_WRITE), True),
    "length": (_length, True),
    "unquote": (_unquote, True),
    "htons": (_byteorder(16), True),
    "htonl": (_byteorder(32), True),
    "ntohs": (_byteorder(16), True),
    "ntohl": (_byteorder(32), True),
    "cat": (_cat(False), True),
    "catq": (_cat(True), True),
    "kill": (_kill, True),
    "get": (_var_get, True),
    "shift": (_var_shift, True),
}


# --- instructions ------------------------------------------------------------------

# Instruction codes, in Click's order. The negative ones end the script and
# double as labels ('goto exit', 'goto stop', ...).
(INITIAL, WAIT_STEP, WAIT_TIME, PRINT, PRINTQ, PRINTN, PRINTNQ, READ, READQ, WRITE, WRITEQ,
 SET, SETQ, INIT, INITQ, EXPORT, EXPORTQ, SAVE, APPEND, LABEL, GOTO, RETURN, RETURNQ,
 WAIT_PSEUDO, LOOP_PSEUDO) = range(25)
EXIT, END, STOP, ERROR, ERRORQ = -1, -2, -3, -4, -5

INSTRUCTIONS = {
    "append": APPEND, "end": END, "error": ERROR, "errorq": ERRORQ, "exit": EXIT,
    "export": EXPORT, "exportq": EXPORTQ, "goto": GOTO, "init": INIT, "initq": INITQ,
    "label": LABEL, "loop": LOOP_PSEUDO, "pause": WAIT_STEP, "print": PRINT, "printn": PRINTN,
    "printnq": PRINTNQ, "printq": PRINTQ, "read": READ, "readq": READQ, "return": RETURN,
    "returnq": RETURNQ, "save": SAVE, "set": SET, "setq": SETQ, "stop": STOP,
    "wait": WAIT_PSEUDO, "wait_for": WAIT_TIME, "wait_step": WAIT_STEP, "wait_stop": WAIT_STEP,
    "wait_time": WAIT_TIME, "write": WRITE, "writeq": WRITEQ,
}
_ENDINGS = {"exit": EXIT, "end": END, "stop": STOP, "error": ERROR, "errorq": ERRORQ}


class Program:
    """A parsed script: parallel lists, one entry per instruction.

    ``args`` holds the count of a pause or the target of a goto, ``args2``
    how many steps a pause has taken, ``args3`` the instruction's text (a
    variable's value, a handler call, a condition...), ``var`` the variable an
    assignment sets. ``variables`` lists, in order, the names the script
    assigns (they exist, empty, from the start).
    """

    def __init__(self):
        self.insns: list[int] = []
        self.args: list[int] = []
        self.args2: list[int] = []
        self.args3: list[str] = []
        self.var: list[str] = []
        self.variables: list[str] = []

    def __len__(self) -> int:
        return len(self.insns)

    def add(self, insn: int, arg: int = 0, text: str = "", var: str = "") -> None:
        # The first instruction is one a script can rest at: a wait, or INITIAL.
        if not self.insns and insn not in (INITIAL, WAIT_STEP, WAIT_TIME):
            self.add(INITIAL)
        self.insns.append(insn)
        self.args.append(arg)
        self.args2.append(0)
        self.args3.append(text)
        self.var.append(var)

    def declare(self, name: str) -> None:
        if name not in self.variables:
            self.variables.append(name)

    def find_label(self, label: str) -> int:
        """Index of a label; the negative code of exit/end/stop/error; len() if none."""
        for i, insn in enumerate(self.insns):
            if insn == LABEL and self.args3[i] == label:
                return i
        if label in _ENDINGS:
            return _ENDINGS[label]
        if label in ("begin", "loop"):
            return 0
        return len(self.insns)


def parse_program(conf: list[str], errh, driver: bool) -> Program:
    """Instructions from configuration arguments; errors go to errh (all of them)."""
    prog = Program()
    for arg in conf:
        name, rest = shift_word(arg)
        if not name:
            continue  # an empty argument is harmless
        insn = INSTRUCTIONS.get(name)
        if insn is None:
            errh.error(f"syntax error at '{name}'")
            continue
        if insn == WAIT_PSEUDO:
            insn = WAIT_TIME if rest else WAIT_STEP
        if insn == WAIT_STEP:
            count = parse_int(rest, 32, signed=False) if rest else 1
            if count is None:
                errh.error(f"syntax error at '{name}'")
                continue
            prog.add(WAIT_STEP, count)
        elif insn == WAIT_TIME:
            # Click checks a wait's time only when it runs; one that can never
            # parse (no substitutions in it) is reported now.
            if "$" not in rest and parse_time_ns(rest) is None:
                errh.error(f"syntax error at '{name}'")
                continue
            prog.add(WAIT_TIME, 0, rest)
        elif insn in (WRITE, WRITEQ, READ, READQ, PRINT, PRINTQ, PRINTN, PRINTNQ, GOTO):
            prog.add(insn, 0, rest)
        elif insn in (SAVE, APPEND):
            # 'save TEXT [FILE]' is 'print >FILE TEXT'; 'append' uses '>>'.
            word, file = shift_word(rest)
            prog.add(PRINT, 0, (">" if insn == SAVE else ">>") + (file or "-") + " " + word)
        elif insn in (RETURN, RETURNQ, INIT, INITQ, EXPORT, EXPORTQ, SET, SETQ):
            if insn in (RETURN, RETURNQ):
                rest = "_ " + rest
            word, value = shift_word(rest)
            if not word or (insn in (SET, SETQ) and not value):
                errh.error(f"syntax error at '{name}'")
                continue
            prog.declare(word)
            prog.add(insn, 0, value, word)
        elif insn == LABEL:
            word, extra = shift_word(rest)
            if not word or extra:
                errh.error(f"syntax error at '{name}'")
                continue
            prog.add(LABEL, 0, word)
        else:  # loop, end, exit, stop, error, errorq
            if insn == LOOP_PSEUDO:
                insn = GOTO
            if rest and insn not in (ERROR, ERRORQ):
                errh.error(f"syntax error at '{name}'")
                continue
            prog.add(insn, 0, rest)
    # Resolve goto targets now that every label is known.
    for i, insn in enumerate(prog.insns):
        if insn == GOTO and prog.args3[i]:
            word, cond = shift_word(prog.args3[i])
            prog.args3[i] = cond
            prog.args[i] = prog.find_label(word)
            if prog.args[i] >= len(prog):
                errh.error(f"no such label '{word}'")
    if not prog.insns and driver:
        prog.add(WAIT_STEP, 1)
    prog.add(STOP if driver else END)
    return prog


__all__ = [
    "BUILTINS", "CollectErrors", "ContextErrors", "Errors", "HandlerRef", "INSTRUCTIONS", "OP_READ",
    "OP_WRITE", "Program", "ScriptError", "StderrErrors", "call_with_errh", "current_errh", "expand",
    "format_double", "parse_bool", "parse_double", "parse_int", "parse_program",
    "parse_signal", "parse_time_ns", "unparse_bool", "unparse_handler_name",
]
