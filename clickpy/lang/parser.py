"""Stage 2: parse tokens into a syntax tree (``clickpy.lang.ast``).

The grammar is Click's (``click(5)``), including the places where Click
infers an ``input`` or ``output`` at the start or end of a connection inside a
compound element or group. ``require(library FILE)`` is resolved here, as in
Click: the file is found on ``CLICKPATH`` (or beside the including file),
parsed once, and attached to the requirement node.

Errors never stop the parser: each is recorded with its landmark and parsing
resumes at the next statement.
"""
from __future__ import annotations

import os
from pathlib import Path

from clickpy.errors import Diagnostics, Landmark
from clickpy.limits import MAX_CONNECTIONS, MAX_NESTING, MAX_PORT
from clickpy.lang import ast
from clickpy.lang.confstring import shift_word, split_args, split_words, unquote
from clickpy.lang.lexer import (
    ARROW,
    CONFIG,
    DARROW,
    DBAR,
    DCOLON,
    DEFINE,
    ELEMENTCLASS,
    ELLIPSIS,
    EOF,
    IDENT,
    PROVIDE,
    REQUIRE,
    VARIABLE,
    Token,
    tokenize,
)

FILE, COMPOUND, GROUP = "file", "compound", "group"

_STATEMENT_END = frozenset(
    {IDENT, "{", "}", "[", ")", DBAR, ELEMENTCLASS, REQUIRE, PROVIDE, DEFINE}
)


class _LibraryState:
    """Libraries already included in this parse (each is included at most once)."""

    def __init__(self) -> None:
        self.included: set[str] = set()


def find_library(name: str, including_file: str) -> str | None:
    """Find a ``require(library NAME)`` file as Click does.

    Absolute names are used as given. Otherwise each CLICKPATH directory is
    tried (``DIR/conf/click/NAME``, ``DIR/conf/NAME``, ``DIR/NAME``); an empty
    CLICKPATH entry, or no CLICKPATH, means the including file's directory.
    """
    if name.startswith("/"):
        return name if os.path.isfile(name) else None
    here = os.path.dirname(including_file) or "."
    clickpath = os.environ.get("CLICKPATH")
    dirs = clickpath.split(":") if clickpath else [""]
    for d in dirs:
        if not d:
            candidates = [os.path.join(here, name)]
        else:
            candidates = [
                os.path.join(d, "conf", "click", name),
                os.path.join(d, "conf", name),
                os.path.join(d, name),
            ]
        for c in candidates:
            if os.path.isfile(c):
                return os.path.normpath(c)
    return None


class Parser:
    def __init__(
        self,
        tokens: list[Token],
        diagnostics: Diagnostics,
        filename: str,
        libraries: _LibraryState | None = None,
    ):
        self.tokens = tokens
        self.i = 0
        self.d = diagnostics
        self.filename = filename
        self.libraries = libraries or _LibraryState()
        self.depth = 0
        self.context = FILE
        # Port ranges ('[0-999]') expand to lists: their total is bounded.
        self.ports_listed = 0

    # --- token helpers -----------------------------------------------------

    def peek(self, k: int = 0) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def next(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != EOF:
            self.i += 1
        return t

    def accept(self, kind: str) -> Token | None:
        if self.peek().kind == kind:
            return self.next()
        return None

    def syntax_error(self, t: Token) -> None:
        self.d.error(t.landmark, f"syntax error near {t.describe()}")

    def config(self) -> str | None:
        """Consume '(' CONFIG ')' if present and return the text."""
        if self.peek().kind == "(" and self.peek(1).kind == CONFIG:
            self.next()
            text = self.next().text
            self.next()  # ')'
            return text
        return None

    # --- statements ----------------------------------------------------------

    def program(self) -> ast.Program:
        statements, _ = self.statements(FILE, None)
        return ast.Program(statements, self.filename, Landmark(self.filename, 1, 1))

    def statements(self, context: str, opener: Token | None) -> tuple[list[ast.Statement], Token]:
        """Parse statements until the end of this context; return them and the closing token."""
        saved_context = self.context
        self.context = context
        out: list[ast.Statement] = []
        ends_output = [True]  # did the previous connection end at 'output'?
        try:
            while True:
                t = self.peek()
                k = t.kind
                start = self.i
                if k in (IDENT, "[", "{", "(", ARROW, DARROW):
                    conn = self.connection(ends_output)
                    if conn is not None:
                        out.append(conn)
                    elif self.i == start:
                        # Nothing here starts a connection (a stranded port
                        # before a configuration string, say): every error
                        # path must consume input, or the parse never ends.
                        self.syntax_error(t)
                        self.next()
                elif k == ELEMENTCLASS:
                    self.next()
                    stmt = self.elementclass(t)
                    if stmt is not None:
                        out.append(stmt)
                elif k in (REQUIRE, PROVIDE):
                    self.next()
                    stmt = self.require(t, context)
                    if stmt is not None:
                        out.append(stmt)
                elif k == DEFINE:
                    self.next()
                    stmt = self.define(t)
                    if stmt is not None:
                        out.append(stmt)
                elif k == ";":
                    self.next()
                elif k in ("}", DBAR):
                    if context == COMPOUND:
                        return out, self.next()
                    self.syntax_error(t)
                    if context == GROUP:
                        self.d.note(opener.landmark, "(the element group opened here is not closed)")
                        return out, t
                    self.next()
                elif k == ")":
                    if context == GROUP:
                        return out, self.next()
                    self.syntax_error(t)
                    self.next()
                elif k == EOF:
                    if context == GROUP:
                        self.d.error(opener.landmark, "unbalanced '(': element group is never closed")
                    elif context == COMPOUND:
                        self.d.error(opener.landmark, "unbalanced '{': compound element is never closed")
                    return out, t
                else:
                    self.syntax_error(t)
                    self.next()
        finally:
            self.context = saved_context

    # --- connections ---------------------------------------------------------

    def connection(self, ends_output: list[bool]) -> ast.Connection | None:
        start = self.peek().landmark
        sets: list[list[ast.ElementRef]] = []
        arrows: list[str] = []
        while True:
            items = self.element_list(first_set=not sets, ends_output=ends_output[0])
            if items is None:
                break
            sets.append(items)
            # connector
            while True:
                t = self.peek()
                if t.kind in (",", DCOLON):
                    self.syntax_error(t)
                    self.next()
                    continue
                break
            if t.kind in (ARROW, DARROW):
                self.next()
                arrows.append(t.text)
                continue
            if t.kind == ";":
                self.next()
            elif t.kind not in _STATEMENT_END and t.kind != EOF:
                self.syntax_error(t)
                if t.kind in ("(", CONFIG) or len(t.kind) == 1:
                    self.next()
            break
        if not sets:
            return None
        last = sets[-1]
        ends_output[0] = (
            len(arrows) < len(sets)
            and len(last) == 1
            and (
                isinstance(last[0].target, ast.Implicit)
                and last[0].target.which == "output"
                or isinstance(last[0].target, ast.Name)
                and last[0].target.name == "output"
                and last[0].target.config is None
            )
        )
        return ast.Connection(sets, arrows, start)

    def ports(self) -> ast.Ports | None:
        if self.peek().kind != "[":
            return None
        open_tok = self.next()
        numbers: list[int] = []
        expandable = False
        dash = False
        last = -1
        while True:
            t = self.next()
            if t.kind == IDENT:
                port = _port_number(t.text)
                if port is None:
                    self.d.error(t.landmark, "syntax error: port number should be integer")
                    port = 0
                elif port > MAX_PORT:
                    self.d.error(t.landmark, f"port number {t.text} too large (the largest is {MAX_PORT})")
                    port = 0
                if dash and port - last > MAX_CONNECTIONS - self.ports_listed:
                    self.d.error(t.landmark, f"port ranges list more than {MAX_CONNECTIONS} ports in all")
                elif dash:
                    numbers.extend(range(last + 1, port + 1))
                    self.ports_listed += max(0, port - last)
                else:
                    numbers.append(port)
                last = port
            elif t.kind == "]":
                if not numbers:
                    numbers.append(0)
                expandable = True
                break
            else:
                self.d.error(t.landmark, "syntax error: expected port number")
                self.i -= 1 if t.kind != EOF else 0
                break
            t = self.next()
            if t.kind == "]":
                break
            if t.kind == "-" and not dash:
                dash = True
            elif t.kind == ",":
                dash = False
            else:
                self.d.error(t.landmark, "syntax error: expected ','")
                self.i -= 1 if t.kind != EOF else 0
        return ast.Ports(numbers, expandable, open_tok.landmark)

    def element_list(self, first_set: bool, ends_output: bool) -> list[ast.ElementRef] | None:
        """Parse one comma list of elements; None if there is none here."""
        nested = self.context != FILE
        items: list[ast.ElementRef] = []
        any_implicit = False
        while True:
            inputs = self.ports()
            t = self.peek()
            if t.kind == IDENT:
                self.next()
                item = self.named_element(t, inputs)
            elif t.kind == "{":
                self.next()
                compound = self.compound(t, None)
                config = self.config()
                outputs = self.ports()
                item = ast.ElementRef(
                    inputs, ast.AnonymousCompound(compound, config, t.landmark), outputs, t.landmark
                )
            elif t.kind == "(" and self.peek(1).kind != CONFIG:
                self.next()
                item = self.group(t, inputs)
            else:
                implicit = False
                if nested and t.kind in (ARROW, DARROW):
                    implicit = first_set and (inputs is not None or not items)
                    if implicit and inputs is None and not ends_output:
                        self.d.warning(
                            t.landmark,
                            f"suggest 'input {t.text}' or '[0] {t.text}' to start connection",
                        )
                elif nested and t.kind == ",":
                    implicit = inputs is not None
                elif nested and t.kind != DCOLON:
                    implicit = not first_set and (inputs is not None or not items)
                if implicit:
                    any_implicit = True
                    which = "input" if first_set else "output"
                    lm = inputs.landmark if inputs is not None else t.landmark
                    if first_set:  # '[1] -> x' means 'input [1] -> x'
                        item = ast.ElementRef(None, ast.Implicit(which, lm), inputs, lm)
                    else:
                        item = ast.ElementRef(inputs, ast.Implicit(which, lm), None, lm)
                else:
                    if inputs is not None:
                        self.d.error(inputs.landmark, "stranded port ignored")
                    if not items:
                        if not (nested and first_set):
                            self.syntax_error(t)
                            if t.kind != EOF:
                                self.next()
                        return None
                    break
            items.append(item)
            if not self.accept(","):
                break
        nxt = self.peek()
        if any_implicit and not first_set and nxt.kind in (ARROW, DARROW):
            self.d.error(nxt.landmark, "implicit ports used in the middle of a chain")
        return items

    def named_element(self, name_tok: Token, inputs: ast.Ports | None) -> ast.ElementRef:
        target: ast.Target
        if self.peek().kind == DCOLON:
            self.next()
            t = self.peek()
            if t.kind == IDENT:
                self.next()
                cls: str | ast.CompoundClass = t.text
            elif t.kind == "{":
                self.next()
                cls = self.compound(t, None)
            else:
                self.d.error(t.landmark, "missing element type in declaration")
                cls = name_tok.text
            config = self.config()
            target = ast.Declaration(name_tok.text, cls, config, name_tok.landmark, t.landmark)
        else:
            target = ast.Name(name_tok.text, self.config(), name_tok.landmark)
        outputs = self.ports()
        return ast.ElementRef(inputs, target, outputs, name_tok.landmark)

    def skip_nested(self, open_tok: Token, closer: str) -> Token:
        """Skip to the token closing open_tok, without recursing; return it.

        Used past the nesting limit, so that no input, however deep, can
        exhaust the parser's stack.
        """
        opener = open_tok.kind
        level = 1
        while True:
            t = self.next()
            if t.kind == EOF:
                return t
            if t.kind == opener:
                level += 1
            elif t.kind == closer:
                level -= 1
                if level == 0:
                    return t

    def group(self, open_tok: Token, inputs: ast.Ports | None) -> ast.ElementRef:
        if self.depth >= MAX_NESTING:
            self.d.error(open_tok.landmark,
                         f"element groups and compound elements nested too deeply (more than {MAX_NESTING})")
            statements, close = [], self.skip_nested(open_tok, ")")
        else:
            self.depth += 1
            statements, close = self.statements(GROUP, open_tok)
            self.depth -= 1
        group = ast.Group(statements, open_tok.landmark, close.landmark)
        if self.peek().kind == DCOLON:
            self.d.error(self.peek().landmark, "an element group cannot be given a class")
            self.next()
            self.accept(IDENT)
        if self.config() is not None:
            self.d.error(close.landmark, "configuration string ignored on element group")
        outputs = self.ports()
        return ast.ElementRef(inputs, group, outputs, open_tok.landmark)

    # --- compound elements ---------------------------------------------------

    def compound(self, open_tok: Token, name: str | None) -> ast.CompoundClass:
        """Parse a compound class; the '{' is already consumed."""
        bodies: list[ast.CompoundBody] = []
        extends = False
        end = open_tok
        while True:
            t = self.peek()
            if t.kind == ELLIPSIS:
                self.next()
                extends = True
                if not bodies or self.peek().kind != "}":
                    self.d.error(t.landmark, "'...' should occur last, after one or more compounds")
                end = self.peek()
                if end.kind == "}":
                    self.next()
                elif end.kind == EOF:
                    self.d.error(open_tok.landmark, "unbalanced '{': compound element is never closed")
                else:
                    continue
                break
            if self.depth >= MAX_NESTING:
                self.d.error(open_tok.landmark,
                             f"element groups and compound elements nested too deeply (more than {MAX_NESTING})")
                end = self.skip_nested(open_tok, "}")
                break
            self.depth += 1
            formals = self.formals()
            statements, end = self.statements(COMPOUND, open_tok)
            self.depth -= 1
            bodies.append(ast.CompoundBody(formals, statements, t.landmark))
            if end.kind != DBAR:
                break
        return ast.CompoundClass(bodies, extends, open_tok.landmark, end.landmark)

    def formals(self) -> list[ast.Formal]:
        formals: list[ast.Formal] = []
        order_error = False
        while True:
            t1 = self.peek()
            if t1.kind == IDENT:
                t2 = self.peek(1)
                if t2.kind != VARIABLE:
                    if formals:
                        self.d.error(t1.landmark, "expected variable")
                    break
                self.i += 2
                keyword, name, lm = t1.text, t2.text, t1.landmark
            elif t1.kind == VARIABLE:
                self.next()
                keyword, name, lm = "", t1.text, t1.landmark
            elif t1.kind == "|":
                self.next()
                break
            else:
                if formals:
                    self.d.error(t1.landmark, "expected variable")
                break
            if any(f.name == name for f in formals):
                self.d.error(lm, f"parameter '${name}' multiply defined")
            elif keyword and any(f.keyword == keyword for f in formals):
                self.d.error(lm, f"repeated keyword parameter '{keyword}' in compound element")
            if formals and not order_error:
                prev = formals[-1].keyword
                if prev == "__REST__" or (not keyword and prev):
                    self.d.error(
                        lm,
                        "compound element parameters out of order\n"
                        "(The correct order is '[positional], [keywords], [__REST__]'.)",
                    )
                    order_error = True
            formals.append(ast.Formal(keyword, name, lm))
            sep = self.peek()
            if sep.kind == "|":
                self.next()
                break
            if sep.kind != ",":
                self.d.error(sep.landmark, "expected ',' or '|'")
                break
            self.next()
        return formals

    def elementclass(self, kw: Token) -> ast.ElementClass | None:
        t = self.peek()
        if t.kind != IDENT:
            self.d.error(t.landmark, "expected element class name after 'elementclass'")
            return None
        self.next()
        d = self.peek()
        if d.kind == "{":
            self.next()
            return ast.ElementClass(t.text, self.compound(d, t.text), kw.landmark, d.landmark)
        if d.kind == IDENT:
            self.next()
            return ast.ElementClass(t.text, d.text, kw.landmark, d.landmark)
        self.syntax_error(d)
        return None

    # --- require and define --------------------------------------------------

    def require(self, kw: Token, context: str) -> ast.Require | None:
        text = self.config()
        if text is None:
            self.d.error(self.peek().landmark, f"expected '(' after '{kw.text}'")
            return None
        self.accept(";")
        reqs: list[ast.Requirement] = []
        for arg in split_args(text):
            words = split_words(arg)
            if not words:
                continue
            kind = unquote(words[0])
            if kind not in ("compact_config", "package", "library") and len(words) == 1:
                words = ["package", words[0]]  # 'require(foo)' means 'require(package foo)'
                kind = "package"
            if kind == "compact_config" and len(words) == 1:
                reqs.append(ast.Requirement(kind, "", kw.landmark))
            elif kind in ("package", "library") and len(words) == 2:
                req = ast.Requirement(kind, unquote(words[1]), kw.landmark)
                if kind == "library" and kw.kind == REQUIRE:
                    self.include_library(req, context)
                reqs.append(req)
            else:
                self.d.error(kw.landmark, f"syntax error at requirement '{arg}'")
        return ast.Require(text, reqs, kw.landmark, kw.text)

    def include_library(self, req: ast.Requirement, context: str) -> None:
        if self.depth > 0:
            self.d.error(req.landmark, "'require library' must be used at file scope")
            return
        found = find_library(req.value, req.landmark.file)
        if found is None:
            where = os.environ.get("CLICKPATH")
            place = f"CLICKPATH '{where}'" if where else "the including file's directory"
            self.d.error(req.landmark, f"library '{req.value}' not found in {place}")
            return
        key = os.path.realpath(found)
        if key in self.libraries.included:
            return
        self.libraries.included.add(key)
        try:
            text = Path(found).read_text(encoding="latin-1")
        except OSError as e:
            self.d.error(req.landmark, f"library '{req.value}': {e.strerror}")
            return
        req.library = parse(text, found, self.d, self.libraries)

    def define(self, kw: Token) -> ast.Define | None:
        text = self.config()
        if text is None:
            self.d.error(self.peek().landmark, "expected '(' after 'define'")
            return None
        definitions = []
        for arg in split_args(text):
            if not arg:
                continue
            var, value = shift_word(arg)
            if len(var) < 2 or var[0] != "$" or not all(c.isascii() and (c.isalnum() or c == "_") for c in var[1:]):
                self.d.error(kw.landmark, f"bad 'define' declaration: '{var}' is not a variable")
                continue
            definitions.append((var[1:], value, kw.landmark))
        return ast.Define(text, definitions, kw.landmark)


def _port_number(text: str) -> int | None:
    try:
        if text.startswith(("0x", "0X")):
            return int(text, 16)
        return int(text, 10)
    except ValueError:
        return None


def parse(
    text: str,
    filename: str = "config",
    diagnostics: Diagnostics | None = None,
    _libraries: _LibraryState | None = None,
) -> ast.Program:
    """Tokenize and parse Click source; errors are added to diagnostics."""
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    tokens = tokenize(text, filename, diagnostics)
    return Parser(tokens, diagnostics, filename, _libraries).program()


def parse_file(path: str, diagnostics: Diagnostics | None = None) -> ast.Program:
    """Parse a configuration file (read as Latin-1, so any bytes survive)."""
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    text = Path(path).read_text(encoding="latin-1")
    return parse(text, path, diagnostics)
