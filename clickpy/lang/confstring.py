"""Click's configuration-string rules.

A configuration string is a comma-separated list of arguments; each argument
is a space-separated list of words. Comments become single spaces; quotes
protect commas, spaces and comment markers; inside double quotes (and in a
bare ``\\<...>``) backslash escapes are processed. Parameters (``$name``,
``${name}``, ``${name-default}``, ``${name[2]}``) are substituted by
:func:`expand`. Elements read their arguments through these functions, so
every element splits and unquotes exactly as Click does.
"""
from __future__ import annotations

import re

from clickpy.limits import MAX_EXPANDED_STRING

_SPACE = " \t\n\r\f\v"
_WORD_CHARS = re.compile(r"[A-Za-z0-9_]")


def _skip_comment(s: str, i: int) -> int:
    """s[i:i+2] is '//' or '/*'; return the position after the comment."""
    if s[i + 1] == "/":
        end = s.find("\n", i + 2)
        return len(s) if end < 0 else end + 1
    end = s.find("*/", i + 2)
    return len(s) if end < 0 else end + 2


def _skip_backslash(s: str, i: int) -> int:
    """s[i] is a backslash; return the position after the escape it starts."""
    if i + 1 >= len(s):
        return i + 1
    if s[i + 1] == "<":
        j = i + 2
        while j < len(s):
            if s[j] == ">":
                return j + 1
            if s[j] == "/" and j + 1 < len(s) and s[j + 1] in "/*":
                j = _skip_comment(s, j)
            else:
                j += 1
        return j
    return i + 2


def skip_double_quote(s: str, i: int) -> int:
    """s[i] is '"'; return the position after the closing quote (or len(s))."""
    j = i + 1
    n = len(s)
    while j < n:
        c = s[j]
        if c == "\\":
            j = _skip_backslash(s, j)
        elif c == '"':
            return j + 1
        else:
            j += 1
    return n


def _skip_single_quote(s: str, i: int) -> int:
    end = s.find("'", i + 1)
    return len(s) if end < 0 else end + 1


def _is_comment_start(s: str, i: int) -> bool:
    return s[i] == "/" and i + 1 < len(s) and s[i + 1] in "/*"


def skip_comment_space(s: str, i: int = 0) -> int:
    """Return the first position at or after i that is neither space nor comment."""
    n = len(s)
    while i < n:
        if s[i] in _SPACE:
            i += 1
        elif _is_comment_start(s, i):
            i = _skip_comment(s, i)
        else:
            break
    return i


def _uncomment_from(s: str, i: int, stop_at_comma: bool) -> tuple[str, int]:
    """Strip comments and outer space from s[i:], up to an unquoted comma if asked.

    Space next to a comment collapses to one space; other inner space is kept.
    Returns (text, position where scanning stopped).
    """
    n = len(s)
    i = skip_comment_space(s, i)
    out: list[str] = []
    left = right = i
    closed = False
    while i < n:
        c = s[i]
        if c in _SPACE:
            i += 1
        elif _is_comment_start(s, i):
            i = _skip_comment(s, i)
            closed = True
        elif c == "," and stop_at_comma:
            break
        else:
            if closed:
                out.append(s[left:right])
                out.append(" ")
                left = i
                closed = False
            if c == "'":
                i = _skip_single_quote(s, i)
            elif c == '"':
                i = skip_double_quote(s, i)
            elif c == "\\" and i + 1 < n and s[i + 1] == "<":
                i = _skip_backslash(s, i)
            else:
                i += 1
            right = i
    out.append(s[left:right])
    return "".join(out), i


def uncomment(s: str) -> str:
    """Remove comments and leading/trailing space (Click's cp_uncomment)."""
    return _uncomment_from(s, 0, False)[0]


def split_args(s: str) -> list[str]:
    """Split a configuration string at unquoted commas (Click's cp_argvec).

    Each argument is uncommented and stripped. An empty last argument is
    dropped, so ``F(1, )`` and ``F(1)`` are the same.
    """
    args: list[str] = []
    n = len(s)
    if n == 0:
        return args
    pos = 0
    while pos < n:
        arg, pos = _uncomment_from(s, pos, True)
        if arg or pos < n:
            args.append(arg)
        pos += 1
    return args


def join_args(args: list[str]) -> str:
    """Inverse of split_args for well-formed arguments (Click's cp_unargvec)."""
    return ", ".join(args)


def _skip_word(s: str, i: int) -> int:
    n = len(s)
    while i < n:
        c = s[i]
        if c == "/" and _is_comment_start(s, i):
            return i
        if c == '"':
            i = skip_double_quote(s, i)
        elif c == "'":
            i = _skip_single_quote(s, i)
        elif c == "\\" and i + 1 < n and s[i + 1] == "<":
            i = _skip_backslash(s, i)
        elif c in _SPACE:
            return i
        else:
            i += 1
    return i


def split_words(s: str) -> list[str]:
    """Split an argument into space-separated words (Click's cp_spacevec)."""
    words = []
    i = skip_comment_space(s, 0)
    while i < len(s):
        j = _skip_word(s, i)
        words.append(s[i:j])
        i = skip_comment_space(s, j)
    return words


def shift_word(s: str) -> tuple[str, str]:
    """Split off the first word: returns (word, rest) (Click's cp_shift_spacevec)."""
    i = skip_comment_space(s, 0)
    j = _skip_word(s, i)
    return s[i:j], s[skip_comment_space(s, j) :]


def process_backslash(s: str, i: int, out: list[str]) -> int:
    """Decode the escape starting at s[i] (a backslash) into out; return the next position."""
    n = len(s)
    if i == n - 1:
        out.append("\\")
        return n
    c = s[i + 1]
    if c == "\n":
        return i + 2
    simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
    if c in simple:
        out.append(simple[c])
        return i + 2
    if "0" <= c <= "7":
        j = i + 1
        value = 0
        while j < n and "0" <= s[j] <= "7" and j < i + 4:
            value = value * 8 + ord(s[j]) - 48
            j += 1
        out.append(chr(value & 0xFF))
        return j
    if c == "x":
        j = i + 2
        value = 0
        while j < n and s[j] in "0123456789abcdefABCDEF":
            value = value * 16 + int(s[j], 16)
            j += 1
        out.append(chr(value & 0xFF))
        return j
    if c == "<":
        j = i + 2
        value = digits = 0
        while j < n:
            d = s[j]
            if d == ">":
                return j + 1
            if d in "0123456789abcdefABCDEF":
                value = value * 16 + int(d, 16)
                digits += 1
                if digits == 2:
                    out.append(chr(value))
                    value = digits = 0
            elif _is_comment_start(s, j):
                j = _skip_comment(s, j)
                continue
            j += 1
        return n
    out.append(c)
    return i + 2


def unquote(s: str) -> str:
    """Remove one level of quoting (Click's cp_unquote).

    Comments are removed first; quoted pieces are concatenated with their
    neighbours; escapes are decoded inside double quotes and in bare
    ``\\<...>``. Bytes are represented as characters U+0000..U+00FF.
    """
    x = uncomment(s)
    if '"' not in x and "'" not in x and "\\" not in x:
        return x
    out: list[str] = []
    start = 0
    quote = ""
    i = 0
    n = len(x)
    while i < n:
        c = x[i]
        if c in "\"'":
            if not quote:
                out.append(x[start:i])
                start = i + 1
                quote = c
            elif quote == c:
                out.append(x[start:i])
                start = i + 1
                quote = ""
        elif c == "\\" and i + 1 < n and (quote == '"' or (not quote and x[i + 1] == "<")):
            out.append(x[start:i])
            start = process_backslash(x, i, out)
            i = start
            continue
        i += 1
    out.append(x[start:])
    return "".join(out)


def quote(s: str, allow_newlines: bool = False) -> str:
    """Quote s so that unquote() gives it back (Click's cp_quote)."""
    if not s:
        return '""'
    out = ['"']
    for c in s:
        if c in '\\"$':
            out.append("\\" + c)
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c == "\n":
            out.append("\n" if allow_newlines else "\\n")
        elif ord(c) < 32 or ord(c) >= 127:
            u = ord(c) & 0xFF
            out.append("\\%o%o%o" % (u >> 6, (u >> 3) & 7, u & 7))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


_KEYWORD_RE = re.compile(r"[A-Za-z0-9_.:?!]+")


def split_keyword(arg: str) -> tuple[str, str] | None:
    """If arg starts with a keyword, return (keyword, rest) (Click's cp_keyword).

    A keyword is made of letters, digits and ``_.:?!`` and ends at space.
    """
    m = _KEYWORD_RE.match(arg)
    if not m or (m.end() < len(arg) and arg[m.end()] not in _SPACE):
        return None
    return m.group(), arg[m.end() :].lstrip(_SPACE)


def is_word(s: str) -> bool:
    """A word is printable ASCII without quotes, backslashes or commas."""
    return bool(s) and all(32 < ord(c) < 127 and c not in "\"'\\," for c in s)


_CLICK_ID_RE = re.compile(r"[A-Za-z0-9_@]+(?:/[A-Za-z0-9_@]+)*\Z")


def is_click_id(s: str) -> bool:
    """True if s is a valid Click identifier."""
    return bool(_CLICK_ID_RE.match(s))


# --- Parameter substitution -------------------------------------------------


class VariableScope:
    """A chain of parameter definitions, innermost first (Click's VariableEnvironment).

    ``depth`` is the nesting depth of the compound (0 = file scope); compound
    expansion uses it to find the lexically enclosing scope. References to the
    parameters of a ``symbolic`` scope are kept as written: flattening keeps
    the file's own ``define``s that way, so the flat output can still be run
    with other values (as click-flatten does).
    """

    __slots__ = ("names", "values", "parent", "depth", "symbolic")

    def __init__(self, parent: VariableScope | None = None, symbolic: bool = False):
        self.names: list[str] = []
        self.values: list[str] = []
        self.parent = parent
        self.depth = parent.depth + 1 if parent is not None else 0
        self.symbolic = symbolic

    def define(self, name: str, value: str, override: bool = False) -> bool:
        """Define name; returns False if it was already defined in this scope."""
        try:
            i = self.names.index(name)
        except ValueError:
            self.names.append(name)
            self.values.append(value)
            return True
        if override:
            self.values[i] = value
        return False

    def lookup(self, name: str) -> str | None:
        scope = self.owner(name)
        return None if scope is None else scope.values[scope.names.index(name)]

    def owner(self, name: str) -> VariableScope | None:
        """The innermost scope that defines name."""
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope
            scope = scope.parent
        return None

    def parent_of(self, depth: int) -> VariableScope | None:
        """The nearest enclosing scope whose depth is below depth."""
        scope = self
        while scope is not None and scope.depth >= depth:
            scope = scope.parent
        return scope

    def reference(self, ref: str, kind: str, level: int):
        """Value of one reference ($name, ${...}) for expand_with: None if
        undefined and no default, and for $(...) (Script expressions are
        evaluated at run time); AS_WRITTEN if it names a parameter of a
        symbolic scope."""
        if kind == "(":
            return None
        default = None
        index = -1
        name = ref
        if kind == "{":
            m = re.match(r"[ \t\n]*([A-Za-z0-9_]*)[ \t\n]*", ref)
            name = m.group(1)
            rest = ref[m.end() :]
            im = re.match(r"\[[ \t\n]*([+-]?(?:0[xX][0-9a-fA-F]+|\d+))[ \t\n]*\][ \t\n]*", rest)
            if im:
                index = int(im.group(1), 0)
                rest = rest[im.end() :]
            if rest.startswith("-"):
                default = rest[1:]
        owner = self.owner(name)
        if owner is not None and owner.symbolic:
            return AS_WRITTEN
        value = None if owner is None else owner.values[owner.names.index(name)]
        if value is not None:
            value = expand(value, self, level=level + 1)
            if index < 0:
                return value
            word = ""
            while index >= 0 and (value or word):
                word, value = shift_word(value)
                index -= 1
            return word
        if default is not None:
            return expand(default, self, level=level + 1)
        return None


AS_WRITTEN = object()  # a reference kept unexpanded (see VariableScope.symbolic)


class ExpansionTooLarge(ValueError):
    """Parameter expansion would make a string longer than the limit."""


def expand(config: str, scope: VariableScope | None, level: int = 0) -> str:
    """Substitute a scope's parameters in a configuration string.

    ``$(...)`` is left alone unless its inner text names a variable (Script
    expressions are evaluated at run time). Values that name other values can
    multiply a short text exponentially: a result longer than
    ``limits.MAX_EXPANDED_STRING`` raises ExpansionTooLarge as soon as it is passed.
    """
    if scope is None:
        return config
    return expand_with(config, scope.reference, level, limit=MAX_EXPANDED_STRING)


def expand_with(config: str, lookup, level: int = 0, expand_quote: bool = False,
                limit: int | None = None) -> str:
    """Substitute $name, ${name} and $(...) references in config (Click's cp_expand).

    ``lookup(ref, kind, level)`` gives a reference's text, None to leave it
    (with any inner reference expanded), or AS_WRITTEN to keep it exactly as
    written; kind is "a" ($name, $?, $#, $$), "{" or "(". Configuration
    parameters (VariableScope.reference) and Script's variables and handler
    calls are both substituted by this one scan. References inside single
    quotes are not expanded; a value substituted inside double quotes (or,
    with expand_quote, anywhere outside quotes, then inside added quotes) is
    escaped so the string still unquotes to the value. A reference whose
    inner text has a '$' (outside single quotes) has it expanded first.
    A result longer than limit raises ExpansionTooLarge.
    """
    if "$" not in config:
        return config
    out: list[str] = []
    size = 0
    s = config
    n = len(s)
    uninterpolated = 0
    quote_char = ""
    i = 0
    while i < n:
        c = s[i]
        if c == "\\":
            if i + 1 < n and quote_char == '"':
                i += 1
        elif c in "\"'":
            if not quote_char:
                quote_char = c
            elif quote_char == c:
                quote_char = ""
        elif c == "/" and not quote_char and _is_comment_start(s, i):
            i = skip_comment_space(s, i)
            continue
        elif c == "$" and i + 1 < n and quote_char != "'" and level <= 10:
            before = i
            inner_has_dollar = False
            nxt = s[i + 1]
            if nxt == "{":
                close = s.find("}", i + 2)
                if close < 0:
                    break
                ref = s[i + 2 : close]
                inner_has_dollar = "$" in ref
                kind = "{"
                end = close + 1
            elif nxt == "(":
                end = _match_paren(s, i + 2)
                if end is None:
                    break
                ref = s[i + 2 : end - 1]
                inner_has_dollar = _has_dollar_outside_single_quotes(ref)
                kind = "("
            elif _WORD_CHARS.match(nxt):
                j = i + 1
                while j < n and _WORD_CHARS.match(s[j]):
                    j += 1
                ref, kind, end = s[i + 1 : j], "a", j
            elif nxt in "?#$":
                ref, kind, end = nxt, "a", i + 2
            else:
                i += 1
                continue
            out.append(s[uninterpolated:before])
            size += before - uninterpolated
            if inner_has_dollar:
                ref = expand_with(ref, lookup, level + 1, limit=limit)
            value = lookup(ref, kind, level)
            uninterpolated = end
            if value is AS_WRITTEN:
                out.append(s[before:end])
            elif value is None:
                if inner_has_dollar:
                    out.append(s[before : before + 2] + ref + s[end - 1])
                else:
                    uninterpolated = before
            elif quote_char == '"':
                out.append(quote(value)[1:-1])
            elif expand_quote and not quote_char:
                out.append(quote(value))
            else:
                out.append(value)
            if value is not None:
                size += len(out[-1])
            if limit is not None and size > limit:
                raise ExpansionTooLarge(f"parameters expand to more than {limit} characters")
            i = end
            continue
        i += 1
    if not out:
        return config
    out.append(s[uninterpolated:])
    return "".join(out)


def _has_dollar_outside_single_quotes(s: str) -> bool:
    q = ""
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in "\"'":
            q = c if not q else ("" if q == c else q)
        elif c == "\\" and q != "'":
            i += 1
        elif c == "$" and q != "'":
            return True
        i += 1
    return False


def _match_paren(s: str, i: int) -> int | None:
    """s[i-1] is '('; return the position after its matching ')'."""
    level = 1
    q = ""
    n = len(s)
    while i < n:
        c = s[i]
        if c in "\"'":
            if not q:
                q = c
            elif q == c:
                q = ""
        elif c == "\\" and q != "'" and i + 1 < n:
            i += 2
            continue
        elif not q and c == "(":
            level += 1
        elif not q and c == ")":
            level -= 1
            if level == 0:
                return i + 1
        i += 1
    return None


# --- Compound element arguments ----------------------------------------------


def assign_arguments(args: list[str], formal_types: list[str]) -> list[str] | None:
    """Match actual arguments to a compound's formals (Click's cp_assign_arguments).

    formal_types has one entry per formal: "" for positional, a keyword such
    as "COUNT", or "__REST__" (always last). Keyword formals are mandatory.
    Returns one value per formal, or None if the arguments do not fit.
    """
    if not formal_types or formal_types[-1] == "":
        return list(args) if len(args) == len(formal_types) else None
    rest = formal_types[-1] == "__REST__"
    nvalues = len(formal_types) - 1 if rest else len(formal_types)
    npositional = 0
    while npositional < nvalues and formal_types[npositional] == "":
        npositional += 1
    values = [""] * len(formal_types)
    supplied = [False] * nvalues
    used = [False] * len(args)
    positional_given = 0
    any_keywords = False
    bad_keyword = False
    for i, arg in enumerate(args):
        if positional_given >= npositional:
            kw = split_keyword(arg)
            slot = -1
            if kw is not None:
                for k in range(npositional, nvalues):
                    if formal_types[k] == kw[0]:
                        slot = k
                        break
            if slot >= 0:
                values[slot] = kw[1]
                supplied[slot] = True
                used[i] = True
                any_keywords = True
                continue
            if any_keywords:
                if not rest:
                    bad_keyword = True
                continue
        if positional_given < npositional:
            used[i] = True
            values[positional_given] = arg
            supplied[positional_given] = True
        positional_given += 1
    if bad_keyword or not all(supplied):
        return None
    if positional_given > npositional and not rest:
        return None
    if rest:
        values[-1] = ", ".join(a for a, u in zip(args, used) if not u)
    return values
