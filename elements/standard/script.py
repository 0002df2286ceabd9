"""Script: Click's scripting element (waits, handler calls, variables, control flow).

The language (instructions, substitutions, built-in handlers) is in
``script_language``; this module is the interpreter that steps through a
parsed script, and its ties to the router: the timer that ends waits, the
runcount a ``stop`` lowers (and that a TYPE DRIVER script raises again to keep
the driver running), the handlers, packet ports, and POSIX signals.
"""
from __future__ import annotations

import os
import signal
import sys
import traceback

from clickpy.lang.confstring import expand_with, shift_word, split_words, uncomment, unquote
from clickpy.runtime.args import AnyArg, Arg, Unparsed, parse_arguments, parse_bool, parse_int, parse_time, unparse_bool
from clickpy.runtime.element import Element
from clickpy.runtime.error_handler import ContextErrors, ErrorHandler, StderrErrors
from clickpy.runtime.handlers import Handler, HandlerError
from clickpy.runtime.scheduler import Timer

from clickpy.elements.standard.script_language import (
    BUILTINS, END, ERROR, ERRORQ, EXIT, EXPORT, EXPORTQ, GOTO, INIT, INITIAL, INITQ, OP_READ,
    OP_WRITE, PRINT, PRINTN, PRINTNQ, PRINTQ, READ, READQ, RETURN, RETURNQ, SET, SETQ, STOP,
    WAIT_STEP, WAIT_TIME, WRITE, WRITEQ, HandlerRef, ScriptError,
    call_with_errh, parse_program, parse_signal, unparse_handler_name, value_or_none,
)

# Script types.
ACTIVE, DRIVER, SIGNAL, PASSIVE, PROXY, PUSH = "ACTIVE", "DRIVER", "SIGNAL", "PASSIVE", "PROXY", "PUSH"

# How a step was asked for (Click's step types).
STEP_NORMAL, STEP_ROUTER, STEP_TIMER, STEP_JUMP = range(4)
# What a step-like handler does.
ST_STEP, ST_RUN, ST_GOTO = range(3)
# A script that jumps this often without blocking is looping: it is stopped.
MAX_JUMPS = 1000


def _bug(element, where: str) -> None:
    """An internal error in a script must not take the driver down: report it."""
    print(f"{element.declaration()}: internal error in {where}:", file=sys.stderr)
    traceback.print_exc()


# --- signals --------------------------------------------------------------------------


class _SignalTable:
    """Process-wide: which TYPE SIGNAL scripts wait for which signals (Click's Master).

    A signal handler only notes the signal and wakes the driver; the scripts
    run from the driver loop, in the order they were installed. A script
    that ends with 'end' is installed again; one that does not ('exit',
    'stop', an error, a block) is not, and once no script waits for a signal
    its disposition is the default again (the next one acts as usual).
    """

    def __init__(self):
        self.entries: list[tuple[int, "Script"]] = []
        self.pending: set[int] = set()
        self.original: dict[int, object] = {}

    def add(self, signo: int, script: "Script") -> None:
        if any(s == signo and sc is script for s, sc in self.entries):
            return
        self.entries.append((signo, script))
        self.install(signo)

    def install(self, signo: int) -> None:
        current = signal.getsignal(signo)
        if current is self.handler:
            return
        if signo not in self.original:
            self.original[signo] = current
        signal.signal(signo, self.handler)

    def handler(self, signo, frame) -> None:
        self.pending.add(signo)
        for s, script in self.entries:
            if s == signo:
                script._signal_arrived()

    def dispatch(self, router) -> None:
        dispatching: set[int] = set()
        happened, keep = [], []
        for signo, script in self.entries:
            if signo in self.pending and script.router is router:
                dispatching.add(signo)
                happened.append((signo, script))
            else:
                keep.append((signo, script))
        self.entries = keep
        self.pending -= dispatching
        handled: set[int] = set()
        for signo, script in happened:
            if script._run_for_signal() >= 0:
                handled.add(signo)
        active = {s for s, _ in self.entries}
        for signo in sorted(dispatching):
            again = False
            if signo not in active:
                try:
                    signal.signal(signo, signal.SIG_DFL)
                except (ValueError, OSError):
                    pass
                again = signo in self.pending
                self.pending.discard(signo)
            if again or signo not in handled:
                os.kill(os.getpid(), signo)

    def remove(self, script: "Script") -> None:
        self.entries = [(s, sc) for s, sc in self.entries if sc is not script]
        active = {s for s, _ in self.entries}
        for signo in script._signos:
            if signo not in active and signo in self.original:
                try:
                    signal.signal(signo, self.original.pop(signo))
                except (ValueError, OSError, TypeError):
                    pass


_signals = _SignalTable()


# --- handlers ---------------------------------------------------------------------------


def _step_like_handler(name: str, what: int, readable: bool, writable: bool) -> Handler:
    def read(e, param=None):
        return call_with_errh(lambda errh: e._step_handler(OP_READ, param or "", name, what, errh)[1])

    def write(e, value):
        return call_with_errh(lambda errh: e._step_handler(OP_WRITE, value, name, what, errh)[0])

    return Handler(name, read=read if readable else None, write=write if writable else None,
                   read_param=readable)


def _builtin_handler(name: str, fn, takes_param: bool) -> Handler:
    def read(e, param=None):
        return call_with_errh(lambda errh: e._run_builtin(fn, param or "", errh))

    return Handler(name, read=read, read_param=takes_param)


def _write_set(e, value):
    def run(errh):
        name, rest = shift_word(value)
        if not name:
            return errh.error("no variable")
        e.set_script_variable(name, rest, create=True)
        return 0

    return call_with_errh(run)


def _write_star(e, value):
    name = value.strip()
    if not name:
        raise HandlerError("expected handler name")
    e._proxy_handler(name)
    return 0


class Script(Element):
    """=c
    Script(INSTRUCTIONS...)

    =s control
    scripts a router configuration

    =d
    Each argument is an instruction (except TYPE). Scripts set variables,
    call handlers, wait for time to pass or for other elements to prod them,
    and stop the router.

    Text in instructions is substituted first: '$x' and '${x}' are script
    variables, '$(HANDLER ARGS...)' is the value of a read handler (which
    may be one of the script's own, below: '$(add $x 1)'), and '$?' is the
    status of the last write, '$args', '$1', '$#' and '$0' describe the
    current handler call, '$$' is the process ID. The q forms of
    instructions (setq, writeq...) remove a layer of quotes afterwards.

    Handler instructions: 'set VAR TEXT' / 'setq', 'init VAR TEXT' /
    'initq' (once, at initialization), 'export VAR [TEXT]' / 'exportq' (init,
    plus a read handler named VAR), 'print [>FILE|>>FILE] [TEXT|HANDLER]' /
    'printq' / 'printn' (no newline) / 'printnq' (TEXT that starts with a
    letter, '@' or '_' names a read handler), 'read HANDLER [ARGS]' /
    'readq' (prints 'name:' and the value to standard error), 'write HANDLER
    [ARGS]' / 'writeq', 'save TEXT [FILE]', 'append TEXT [FILE]'.

    Blocking instructions: 'pause [COUNT]' (wait for COUNT steps; also
    'wait_step', 'wait_stop', 'wait' with no argument), 'wait TIME' (wait
    for TIME or a step; also 'wait_time', 'wait_for').

    Control: 'label L', 'goto L [COND]' (L may also be exit, end, stop,
    error, loop or begin; more than 1000 jumps without blocking disable the
    script), 'loop', 'end', 'exit', 'stop' (end and ask the driver to stop),
    'return [VALUE]' / 'returnq', 'error [MSG]' / 'errorq'.

    TYPE is ACTIVE (the default without ports: runs when the router starts),
    PASSIVE (runs when its 'run' handler is called; '$args', '$1'... are the
    arguments; 'return' gives the result), PACKET (the default with ports:
    runs for every packet, '$input' is the input port, the returned value
    the output port; 'end' means port 0 and 'exit' drops), PROXY (every
    handler name it is asked for runs the script, with '$0' the name and
    '$write' true for writes), DRIVER (decides when the driver stops; see
    DriverManager) or 'SIGNAL SIGNO...' (runs when the process receives one
    of the signals: INT, HUP, TERM, USR1, USR2, ... or numbers; a script
    that ends with 'end' stays installed).

    =h step write-only
    Moves past the current 'pause' or 'wait' (a number: that many blocking instructions).
    =h goto write-only
    Jumps to a label.
    =h run read/write
    Runs the script from the start; reading returns what 'return' returned.
    =h add, sub, min, max, mul, div, idiv "read with parameters"
    Arithmetic on a space-separated list of numbers (integers, or reals).
    =h mod, rem "read with parameters"
    Integer modulus; real remainder.
    =h neg, abs "read with parameters"
    =h eq, ne, lt, gt, le, ge "read with parameters"
    Compares two numbers (or, if not both numbers, two strings).
    =h not, and, or, nand, nor "read with parameters"
    Boolean operations.
    =h if "read with parameters"
    'if BOOL A B' is A when BOOL is true, else B.
    =h in "read with parameters"
    True if the first word equals any of the others.
    =h first, length, unquote "read with parameters"
    =h sprintf "read with parameters"
    Formats the remaining words with the first (C's printf: d i u o x X s %).
    =h random "read with parameters"
    A random integer: [0, RAND_MAX], [0, N-1], or [N1, N2].
    =h now read-only
    The current time.
    =h readable, writable "read with parameters"
    True if every named handler exists and can be read (written).
    =h htons, htonl, ntohs, ntohl "read with parameters"
    =h cat, catq "read with parameters"
    A file's contents (catq: quoted).
    =h kill "read with parameters"
    'kill SIGNO PID...' sends a signal.
    =h get, shift "read with parameters"
    A variable's value; its first word, removed from it.
    =h set write-only
    'set VAR VALUE'.

    =e
    Prints 0 to 4, then stops the router:

      Script(set x 0, label l, print $x, set x $(add $x 1), goto l $(lt $x 5), stop)

    =a DriverManager
    """

    port_count = "-/-"
    processing = "ah/ah"
    arguments = (
        Arg("TYPE", AnyArg, None, doc="ACTIVE, PASSIVE, PACKET, PROXY, DRIVER or SIGNAL SIGNO..."),
        Arg("INSTRUCTION", Unparsed, rest=True, doc="the script, read by configure"),
    )
    default_type = None  # DriverManager: DRIVER
    handlers = (
        _step_like_handler("step", ST_STEP, False, True),
        _step_like_handler("goto", ST_GOTO, False, True),
        _step_like_handler("run", ST_RUN, True, True),
        *(_builtin_handler(name, fn, takes) for name, (fn, takes) in BUILTINS.items()),
        Handler("set", write=_write_set),
    )

    def __init__(self):
        self._type = self.default_type
        self._prog = None
        self._vars: dict[str, str] = {}
        self._insn_pos = 0
        self._step_count = 0
        self._write_status = 0
        self._run_handler_name = ""
        self._run_args = ""
        self._run_op = 0
        self._cur_steps = None
        self._signos: list[int] = []
        self._timer = None
        self._signal_timer = None
        self._hook = None
        self.extra_handlers = ()

    # --- configuration ----------------------------------------------------

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        type_arg, instructions = values["type"], values["instruction"]
        ok = True
        if type_arg is not None:
            word, rest = shift_word(type_arg)
            if word in ("ACTIVE", "PASSIVE", "PROXY", "DRIVER") and not rest:
                self._type = word
            elif word in ("PACKET", "PUSH") and not rest:
                self._type = PUSH
            elif word == "SIGNAL":
                self._type = SIGNAL
                self._signos = []
                while True:
                    word, rest = shift_word(rest)
                    signo = parse_signal(word) if word else None
                    if signo is None or not 0 <= signo < 32:
                        break
                    self._signos.append(signo)
                if word or not self._signos:
                    errh.error("bad signal number")
                    return False
            elif word:
                errh.error("bad TYPE")
                return False
        if self._type is None:
            self._type = PUSH if (self.ninputs or self.noutputs) else ACTIVE

        if self._type == DRIVER:
            attachments = _attachments(self.router)
            other = attachments.get("Script")
            if other is not None and other is not self:
                errh.error("router has more than one driver script")
                return False
            attachments["Script"] = self

        if self._type == PUSH and self.ninputs == 0:
            errh.error("PACKET script must have inputs")
            return False
        if self._type != PUSH and (self.ninputs or self.noutputs):
            errh.error("ports allowed only on PACKET scripts")
            return False

        self._prog = parse_program(instructions, errh, self._type == DRIVER)
        self._vars = {name: "" for name in self._prog.variables}

        extra = []
        if self._type == PROXY:
            extra.append(Handler("*", write=_write_star))
        class_handlers = {h.name: h for h in type(self).handlers}
        for i, insn in enumerate(self._prog.insns):
            if insn in (EXPORT, EXPORTQ):
                name = self._prog.var[i]
                old = class_handlers.get(name)
                extra.append(Handler(name, read=lambda e, name=name: e._vars.get(name, ""),
                                     write=old.write if old is not None else None))
        self.extra_handlers = tuple(extra)
        return ok and not errh.nerrors

    # --- initialization ------------------------------------------------------

    def initialize(self, errh):
        prog = self._prog
        self._insn_pos = 0
        self._step_count = 0
        sched = self.router.scheduler
        self._timer = Timer(callback=self._on_timer)
        self._timer.initialize(sched)

        lookup = self._lookup(errh)
        for i, insn in enumerate(prog.insns):
            if insn in (INIT, EXPORT):
                self._vars[prog.var[i]] = expand_with(prog.args3[i], lookup)
            elif insn in (INITQ, EXPORTQ):
                self._vars[prog.var[i]] = unquote(expand_with(prog.args3[i], lookup))

        first = prog.insns[0]
        if self._type in (SIGNAL, PASSIVE, PUSH, PROXY):
            pass
        elif first == WAIT_TIME:
            ns = value_or_none(parse_time, expand_with(prog.args3[0], lookup))
            if ns is not None:
                self._timer.schedule_at(sched.now() + ns)
            else:
                errh.error("syntax error at 'wait'")
        elif first == INITIAL:
            # Start at once: a driver script by giving up the router's first
            # runcount (so the driver asks it what to do), others by a timer.
            if self._type == DRIVER:
                sched.adjust_runcount(-1)
            else:
                self._timer.schedule_now()
            prog.args[0] = 1

        if self._type == DRIVER:
            self._hook = self._driver_stop_hook
            self.router.stop_hooks.append(self._hook)
        elif self._type == SIGNAL:
            try:
                for signo in self._signos:
                    _signals.add(signo, self)
            except (ValueError, OSError) as err:
                errh.error(f"cannot catch signal: {err}")
            self._signal_timer = Timer(callback=self._on_signal_timer)
            self._signal_timer.initialize(sched)
        return not errh.nerrors

    def star_handler(self, name):
        """A PROXY script answers any handler name by running itself (Click's '*')."""
        if self._type == PROXY and name and name != "*":
            return _step_like_handler(name, ST_RUN, True, True)
        return None

    def cleanup(self, stage):
        for t in (self._timer, self._signal_timer):
            if t is not None:
                t.unschedule()
        if self._hook is not None:
            try:
                self.router.stop_hooks.remove(self._hook)
            except ValueError:
                pass
            self._hook = None
        if self._type == SIGNAL:
            _signals.remove(self)
        if self._type == DRIVER and self.router is not None:
            attachments = _attachments(self.router)
            if attachments.get("Script") is self:
                del attachments["Script"]

    # --- variables (for the get/set/shift handlers) -------------------------------------

    def script_variable(self, name: str) -> str:
        if name == "args":
            return self._run_args
        if name not in self._vars:
            raise ScriptError(f"undefined variable '{name}'")
        return self._vars[name]

    def set_script_variable(self, name: str, value: str, create: bool) -> None:
        if name == "args":
            self._run_args = value
        elif create or name in self._vars:
            self._vars[name] = value
        else:
            raise ScriptError(f"undefined variable '{name}'")

    def _run_builtin(self, fn, param: str, errh: ErrorHandler) -> str:
        try:
            return fn(self, param, errh)
        except ScriptError as err:
            errh.error(str(err))
            return ""

    def _proxy_handler(self, name: str) -> None:
        self.router.handler(self, name)  # the PROXY table makes it on demand

    # --- substitution -------------------------------------------------------------------

    def _lookup(self, errh: ErrorHandler):
        def lookup(name: str, kind: str, depth: int):
            if kind == "(":
                hc = HandlerRef(name)
                if hc.initialize(OP_READ, self, errh):
                    return hc.call_read(errh)
                return None
            if name in self._vars:
                return self._vars[name]
            if name == "?":
                return str(self._write_status)
            if name == "args":
                return self._run_args
            if name == "$":
                return str(os.getpid())
            if name == "0":
                return self._run_handler_name
            if name and name[0] in "123456789":
                x = value_or_none(parse_int, name, 32)
                if x is not None:
                    words = split_words(self._run_args)
                    return words[x - 1] if x <= len(words) else ""
            if name == "#":
                return str(len(split_words(self._run_args)))
            if name == "write":
                return unparse_bool(self._run_op & OP_WRITE)
            return None

        return lookup

    # --- the interpreter ------------------------------------------------------------------

    def _adjust_runcount(self, delta: int) -> None:
        # A script a hot reload removed (or replaced) no longer steers the driver.
        if self.router.element(self.name) is self:
            self.router.scheduler.adjust_runcount(delta)

    def _step(self, nsteps: int, step_type: int, njumps: int, errh: ErrorHandler) -> int:
        """Run instructions until one blocks, the script ends, or it loops too much.

        nsteps is how many blocking instructions to move past. Returns the
        jump count so far, plus one.
        """
        prog = self._prog
        insns, args, args2, args3 = prog.insns, prog.args, prog.args2, prog.args3
        lookup = self._lookup(errh)
        nsteps += self._step_count
        while nsteps - self._step_count >= 0 and self._insn_pos < len(insns) and njumps < MAX_JUMPS:
            ipos = self._insn_pos
            self._insn_pos += 1
            insn = insns[ipos]

            if insn == STOP:
                self._step_count += 1
                self._insn_pos -= 1
                if step_type != STEP_ROUTER:
                    self._adjust_runcount(-1)
                return njumps + 1

            elif insn == WAIT_STEP:
                while self._step_count < nsteps and args2[ipos] < args[ipos]:
                    args2[ipos] += 1
                    self._step_count += 1
                if self._step_count == nsteps and args2[ipos] < args[ipos]:
                    self._insn_pos -= 1
                    break

            elif insn == WAIT_TIME:
                if self._step_count == nsteps:
                    ns = value_or_none(parse_time, expand_with(args3[ipos], lookup))
                    if ns is not None:
                        self._timer.schedule_at(self.router.scheduler.now() + ns)
                        self._insn_pos -= 1
                    else:
                        errh.error("syntax error at 'wait'")
                    break
                self._step_count += 1
                self._timer.unschedule()

            elif insn == INITIAL:
                if args[ipos]:
                    self._step_count += 1
                    args[ipos] = 0

            elif insn in (PRINT, PRINTQ, PRINTN, PRINTNQ):
                self._print(insn, args3[ipos], lookup, errh)

            elif insn in (READ, READQ):
                hc = HandlerRef(expand_with(args3[ipos], lookup))
                if hc.initialize(OP_READ, self, errh, unquote_value=insn == READQ):
                    result = hc.call_read(ContextErrors(errh, f"While calling '{hc.unparse()}':"))
                    StderrErrors().message(f"{unparse_handler_name(hc.element, hc.handler.name)}:\n{result}\n")

            elif insn in (WRITE, WRITEQ):
                hc = HandlerRef(expand_with(args3[ipos], lookup))
                if hc.initialize(OP_WRITE, self, errh, unquote_value=insn == WRITEQ):
                    self._write_status = hc.call_write(
                        ContextErrors(errh, f"While calling '{hc.unparse()}':"))

            elif insn in (RETURN, RETURNQ, SET, SETQ):
                value = expand_with(args3[ipos], lookup)
                if insn in (SETQ, RETURNQ):
                    value = unquote(value)
                self._vars[prog.var[ipos]] = value
                if insn in (RETURN, RETURNQ) and self._insn_pos == ipos + 1:
                    self._insn_pos -= 1
                    break

            elif insn == GOTO:
                cond_text = expand_with(args3[ipos], lookup)
                cond = value_or_none(parse_bool, cond_text) if cond_text else None
                if cond_text and cond is None:
                    errh.error(f"bad condition '{cond_text}'")
                elif not cond_text or cond:
                    target = args[ipos]
                    if target < 0:  # goto exit/end/stop/error: finish here
                        self._insn_pos -= 1
                        return njumps + 1
                    for i in range(target, ipos):
                        if insns[i] == WAIT_STEP:
                            args2[i] = 0
                    self._insn_pos = target

            elif insn in (ERROR, ERRORQ, END, EXIT):
                if insn != END and insn != EXIT:
                    msg = expand_with(args3[ipos], lookup)
                    if insn == ERRORQ:
                        msg = unquote(msg)
                    if msg:
                        errh.error(msg)
                self._insn_pos -= 1
                return njumps + 1

            # label, init, initq, export, exportq: nothing to do when reached

            if self._insn_pos != ipos + 1:
                njumps += 1

        if njumps >= MAX_JUMPS:
            StderrErrors().error(f"{self.declaration()}: too many jumps, giving up")
            self._insn_pos = len(insns)
            self._timer.unschedule()
        if step_type == STEP_ROUTER:
            self._adjust_runcount(1)
        return njumps + 1

    def _complete_step(self):
        """(status, value) after a step: -1 after an error, 1 after stop; the returned value."""
        prog = self._prog
        pos = self._insn_pos
        if pos < 0 or pos >= len(prog):
            last = EXIT
        else:
            last = prog.insns[pos]
            if last == GOTO and prog.args[pos] < 0:
                last = prog.args[pos]
        if last == END and self._type == SIGNAL:
            for signo in self._signos:
                try:
                    _signals.add(signo, self)
                except (ValueError, OSError):
                    pass
        value = ""
        if last in (RETURN, RETURNQ):
            value = self._vars.get("_", "")
        elif last == END and self._type == PUSH:
            value = "0"
        if last in (ERROR, ERRORQ):
            return -1, value
        if last == STOP:
            return 1, value
        return 0, value

    def _print(self, insn: int, text: str, lookup, errh: ErrorHandler) -> None:
        out = None
        if text.startswith(">"):
            append = text[1:2] == ">"
            text = text[2 if append else 1 :]
            filename, text = shift_word(text)
            if filename and filename != "-":
                try:
                    out = open(filename, "ab" if append else "wb")
                except OSError as err:
                    errh.error(f"{filename}: {err.strerror}")
                    return
        before = errh.nerrors
        result = ""
        if text and ((text[0].isascii() and text[0].isalpha()) or text[0] in "@_"):
            hc = HandlerRef(expand_with(text, lookup))
            if hc.initialize(OP_READ, self, errh, unquote_value=insn in (PRINTQ, PRINTNQ)):
                result = hc.call_read(ContextErrors(errh, f"While calling '{hc.unparse()}':"))
        else:
            result = unquote(expand_with(text, lookup, expand_quote=True))
        if errh.nerrors == before and not result.endswith("\n") and insn not in (PRINTN, PRINTNQ):
            result += "\n"
        data = result.encode("latin-1", "replace")
        if out is not None:
            try:
                out.write(data)
            except OSError as err:
                errh.error(f"{filename}: {err.strerror}")
            finally:
                out.close()
            return
        try:
            sys.stdout.flush()
            buf = getattr(sys.stdout, "buffer", None)
            if buf is not None:
                buf.write(data)
                buf.flush()
            else:
                sys.stdout.write(result)
                sys.stdout.flush()
        except (OSError, ValueError):
            pass

    def _step_handler(self, op: int, text: str, name: str, what: int, errh: ErrorHandler):
        """The step, goto and run handlers (and a PROXY script's): (status, returned value)."""
        prog = self._prog
        data = uncomment(text)
        self._run_handler_name = name
        self._run_op = op
        ret = 0
        value = ""
        if what == ST_GOTO:
            target = prog.find_label(uncomment(data))
            if target >= len(prog) or target < 0:
                self._run_handler_name = ""
                self._run_op = 0
                return errh.error("jump to nonexistent label"), ""
            for i in range(target, len(prog)):
                if prog.insns[i] == WAIT_STEP:
                    prog.args2[i] = 0
            self._insn_pos = target
            nsteps, step_type = 0, STEP_JUMP
        elif what == ST_RUN:
            self._insn_pos = 0
            self._run_args = text
            nsteps, step_type = 0, STEP_JUMP
        else:
            if data == "router":
                nsteps, step_type = 1, STEP_ROUTER
            elif not data:
                nsteps, step_type = 1, STEP_NORMAL
            else:
                n = value_or_none(parse_int, data, 32)
                if n is None:
                    ret = errh.error("syntax error")
                    nsteps = None
                else:
                    nsteps, step_type = n, STEP_NORMAL
        if nsteps is not None:
            if self._cur_steps is None:
                # Steps asked for while this one runs (a script stepping
                # itself) are added here and taken in turn.
                cur = [nsteps]
                self._cur_steps = cur
                njumps = 0
                try:
                    while cur[0] >= 0:
                        nsteps = cur[0]
                        cur[0] = -1
                        njumps = self._step(nsteps, step_type, njumps, errh)
                        step_type = STEP_NORMAL
                finally:
                    self._cur_steps = None
            elif what == ST_STEP:
                self._cur_steps[0] += nsteps
            ret, value = self._complete_step()
        self._run_handler_name = ""
        if ret or not self._run_args:
            self._run_args = ""
        self._run_op = 0
        return ret, value

    # --- the driver, the timer, signals, packets --------------------------------------------

    def _driver_stop_hook(self, router) -> bool:
        """The driver is stopping: step the script until it raises the runcount or ends."""
        sched = router.scheduler
        errh = StderrErrors()
        try:
            left = 1000
            while True:
                ret, _ = self._step_handler(OP_WRITE, "router", "step", ST_STEP, errh)
                if ret != 0 or sched.runcount > 0:
                    break
                left -= 1
                if left < 0:
                    break
        except Exception:
            _bug(self, "the driver's stop")
            return False
        return sched.runcount > 0

    def _on_timer(self, timer) -> None:
        try:
            errh = ContextErrors(StderrErrors(), f"While executing '{self.declaration()}':")
            self._step(1, STEP_TIMER, 0, errh)
            self._complete_step()
        except Exception:
            _bug(self, "a timer")

    def _on_signal_timer(self, timer) -> None:
        try:
            if _signals.pending:
                _signals.dispatch(self.router)
        except Exception:
            _bug(self, "signal dispatch")

    def _signal_arrived(self) -> None:
        """Called from the signal handler: run the dispatch from the driver loop, soon."""
        t = self._signal_timer
        if t is None or self.router is None:
            return
        sched = self.router.scheduler
        t.schedule_at(sched.now())
        try:
            os.write(sched.wakeup_fd, b"\0")
        except OSError:
            pass

    def _run_for_signal(self) -> int:
        try:
            return self._step_handler(OP_WRITE, "", "run", ST_RUN, StderrErrors())[0]
        except Exception:
            _bug(self, "a signal")
            return -1

    def _run_packet(self, port: int) -> int:
        errh = ContextErrors(StderrErrors(), f"While executing '{self.declaration()}':")
        self._vars["input"] = str(port)
        self._insn_pos = 0
        self._step(0, STEP_JUMP, 0, errh)
        _, out = self._complete_step()
        p = value_or_none(parse_int, out, 32)
        return -1 if p is None else p

    def push(self, port, packet):
        self.output_push_packet(self._run_packet(port), packet)

    def pull(self, port):
        packet = self.input_pull_packet(0)
        if packet is None:
            return None
        out = self._run_packet(0)
        if out == 0:
            return packet
        self.output_push_packet(out, packet)
        return None


def _attachments(router) -> dict:
    """Per-router named attachments (Click's Router::attachment)."""
    a = getattr(router, "attachments", None)  # Router has it; a test double may not
    if a is None:
        a = {}
        try:
            router.attachments = a
        except AttributeError:
            pass
    return a
