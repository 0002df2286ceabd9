"""The language of Click's Script and DriverManager elements (not an element).

Script and DriverManager share everything here:

* Click's way of printing real numbers (``%.12g``); values are read by the
  runtime's parsers (``clickpy.runtime.args``), substitutions made by
  ``clickpy.lang.confstring.expand_with`` and errors reported to the
  runtime's error handlers (``clickpy.runtime.error_handler``);
* the error handler of the script calling a handler (``call_with_errh``);
* ``HandlerRef``, a handler named in a script ("[element.]handler [value]"),
  resolved by the router's ``handler_name`` (Click's ``cp_handler_name``);
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
import signal as _signal

from clickpy.lang.confstring import quote, shift_word, split_words, unquote
from clickpy.runtime.args import (
    ArgError, parse_bool, parse_double, parse_int, parse_time, unparse_bool, unparse_timestamp,
)
from clickpy.runtime.error_handler import EINVAL, ElementErrors, ErrorHandler
from clickpy.runtime.handlers import HandlerError

DIGITS = "0123456789"  # str.isdigit() also takes '²', which int() refuses


# --- values --------------------------------------------------------------------
# Values are read by the runtime's parsers (clickpy.runtime.args), Click's rules.

INT64_MIN = -(1 << 63)


def value_or_none(parse, text: str, *args):
    """parse(text, *args), or None when text is not such a value: Script tries
    one reading after another (integer, then real, then string), so a text
    that is not a number is an answer here, not an error."""
    try:
        return parse(text, *args)
    except ArgError:
        return None


def format_double(x: float) -> str:
    """A real number as Click's String(double) prints it."""
    return "%.12g" % x


def cp_string(word: str) -> str | None:
    """One word (quotes allowed), unquoted; None if empty or more than one word."""
    words = split_words(word)
    if len(words) != 1 or words[0] != word.strip():
        return None
    return unquote(words[0])


def is_space_only(text: str) -> bool:
    return not text.strip(" \t\n\r\f\v")


# --- error reporting ----------------------------------------------------------------


# Handlers written in this module (Script's own) report to the error handler
# of the script that calls them, as Click passes an ErrorHandler to every
# handler call; this stack holds it while a script calls a handler.
_errh_stack: list[ErrorHandler] = []


def current_errh() -> ErrorHandler | None:
    return _errh_stack[-1] if _errh_stack else None


def call_with_errh(fn):
    """Run fn(errh) with the calling script's errh, or collect and raise.

    From outside a script (the command line, another element), errors
    become a HandlerError, as clickpy reports handler failures.
    """
    errh = current_errh()
    if errh is not None:
        return fn(errh)
    collect = ElementErrors()
    result = fn(collect)
    if collect.nerrors:
        raise HandlerError(collect.text())
    return result


class ScriptError(Exception):
    """A built-in handler's error message."""


# --- handler references -------------------------------------------------------------

OP_READ = 1
OP_WRITE = 2


def unparse_handler_name(element, hname: str) -> str:
    return f"{element.name}.{hname}" if element is not None else hname


class HandlerRef:
    """A handler call written in a script: '[element.]handler [value]'."""

    __slots__ = ("text", "element", "handler", "value", "router")

    def __init__(self, text: str):
        self.text = text
        self.element = None
        self.handler = None
        self.value = ""
        self.router = None

    def initialize(self, op: int, context, errh: ErrorHandler | None, unquote_value: bool = False) -> bool:
        word, value = shift_word(self.text)
        name = cp_string(word) if word else None
        try:
            if not name:
                raise HandlerError("syntax error")
            element, hname = context.router.handler_name(name, context)
        except HandlerError as err:
            if errh is not None:
                errh.error(str(err))
            return False
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

    def call_read(self, errh: ErrorHandler) -> str:
        """Call the read handler through the router; a failure goes to errh."""
        _errh_stack.append(errh)
        try:
            return self.router.call_read(self.element, self.handler, self.value or None)
        except HandlerError as err:
            if str(err):
                errh.error(str(err))
            return ""
        finally:
            _errh_stack.pop()

    def call_write(self, errh: ErrorHandler) -> int:
        """Call the write handler through the router (a write that finishes
        later is waited for); returns Click's status (0, or negative on error)."""
        _errh_stack.append(errh)
        try:
            return self.router.call_write(self.element, self.handler, self.value)
        except HandlerError as err:
            return errh.error(str(err)) if str(err) else -EINVAL
        finally:
            _errh_stack.pop()


def handler_exists(context, text: str, op: int) -> bool:
    return HandlerRef(text).initialize(op, context, None)


# --- built-in handlers ------------------------------------------------------------------
# Each takes (script element, parameter text, errh) and returns the result
# text, or raises ScriptError with Click's message.

_AR_ADD, _AR_SUB, _AR_MIN, _AR_MAX, _AR_MUL, _AR_DIV, _AR_IDIV = range(7)


def _wrap64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= (1 << 63) else v


def _arithmetic(what: int):
    def fn(script, text: str, errh: ErrorHandler) -> str:
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
                arg = value_or_none(parse_int, word, 64)
                if arg is None:
                    use_double = True
                    daccum = float(accum)
            if use_double:
                darg = value_or_none(parse_double, word)
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
    def fn(script, text: str, errh: ErrorHandler) -> str:
        astr, bstr = _two_words(text)
        a, b = value_or_none(parse_int, astr, 64), value_or_none(parse_int, bstr, 64)
        if a is None or b is None:
            da, db = value_or_none(parse_double, astr), value_or_none(parse_double, bstr)
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
    def fn(script, text: str, errh: ErrorHandler) -> str:
        x = value_or_none(parse_int, text, 64)
        if x is None:
            dx = value_or_none(parse_double, text)
            if dx is None:
                raise ScriptError("expected one number")
            return format_double(-dx if is_neg else abs(dx))
        return str(_wrap64(-x) if is_neg or x < 0 else x)

    return fn


_LT, _EQ, _GT, _GE, _NE, _LE = range(6)


def _compare(what: int):
    def fn(script, text: str, errh: ErrorHandler) -> str:
        astr, bstr = _two_words(text)
        a, b = value_or_none(parse_int, astr, 64), value_or_none(parse_int, bstr, 64)
        if a is not None and b is not None:
            cmp = _LT if a < b else (_EQ if a == b else _GT)
        else:
            da, db = value_or_none(parse_double, astr), value_or_none(parse_double, bstr)
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


def _sprintf(script, text: str, errh: ErrorHandler) -> str:
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
            w = value_or_none(parse_int, word, 32)
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
                p = value_or_none(parse_int, word, 32)
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
            v = value_or_none(parse_int, word, 64, False)
            if v is None:
                raise ScriptError("syntax error")
            if size == "h":
                v &= 0xFFFF
            out.append(_c_int_format(flags, width, precision, conv, v))
        elif conv and conv in "di":
            word, rest = shift_word(rest)
            v = value_or_none(parse_int, word, 64)
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
    b = value_or_none(parse_bool, text)
    if b is None:
        raise ScriptError("syntax error")
    return unparse_bool(not b)


def _andor(is_and: bool, negate: bool):
    def fn(script, text: str, errh: ErrorHandler) -> str:
        zero = is_and
        value = zero
        rest = text
        while value == zero and rest:
            word, rest = shift_word(rest)
            x = value_or_none(parse_bool, word)
            if x is None:
                raise ScriptError("syntax error")
            value = (value and x) if is_and else (value or x)
        return unparse_bool(not value if negate else value)

    return fn


def _if(script, text, errh):
    word, rest = shift_word(text)
    x = value_or_none(parse_bool, word)
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
        v = value_or_none(parse_int, w, 32, False)
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
        x = value_or_none(parse_int, text, 32)
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
    return value_or_none(parse_int, word, 32)


def _kill(script, text, errh):
    word, rest = shift_word(text)
    signo = parse_signal(word) if word else None
    if signo is None or signo < 0 or signo > 32:
        raise ScriptError("bad SIGNO")
    while rest:
        w, rest = shift_word(rest)
        pid = value_or_none(parse_int, w, 32)
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
            count = value_or_none(parse_int, rest, 32, False) if rest else 1
            if count is None:
                errh.error(f"syntax error at '{name}'")
                continue
            prog.add(WAIT_STEP, count)
        elif insn == WAIT_TIME:
            # Click checks a wait's time only when it runs; one that can never
            # parse (no substitutions in it) is reported now.
            if "$" not in rest and value_or_none(parse_time, rest) is None:
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
    "BUILTINS", "HandlerRef", "INSTRUCTIONS", "OP_READ",
    "OP_WRITE", "Program", "ScriptError", "call_with_errh", "current_errh",
    "format_double", "parse_program", "parse_signal", "unparse_handler_name", "value_or_none",
]
