"""Stage 1: tokenize Click source text into a list of tokens with landmarks.

The Click language has one context-dependent lexical rule: a ``(`` right after
an identifier, a ``}``, a group's closing ``)`` or the keywords ``require``,
``provide`` and ``define`` opens a *configuration string*, which runs to the
matching unquoted ``)`` and is kept as raw text (comments and quotes are
resolved later, by the element that reads it). Anywhere else ``(`` opens an
element group. The lexer applies that rule by looking at the previous token,
so the parser never has to re-lex.

Line directives (``# 100 "file.click"`` or ``#line 100``) at the start of a
physical line renumber the lines that follow, in the token stream and inside
configuration strings, as the C preprocessor does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from clickpy.errors import Diagnostics, Landmark

# Token kinds. Single-character punctuation uses the character itself.
IDENT = "identifier"
VARIABLE = "variable"
CONFIG = "configuration string"
ARROW = "'->'"
DARROW = "'=>'"
DCOLON = "'::'"
DBAR = "'||'"
ELLIPSIS = "'...'"
ELEMENTCLASS = "'elementclass'"
REQUIRE = "'require'"
PROVIDE = "'provide'"
DEFINE = "'define'"
EOF = "end of file"

KEYWORDS = {
    "elementclass": ELEMENTCLASS,
    "require": REQUIRE,
    "provide": PROVIDE,
    "define": DEFINE,
}
_MULTI = {"->": ARROW, "=>": DARROW, "::": DCOLON, "||": DBAR}
# After these token kinds, '(' starts a configuration string.
_CONFIG_OPENERS = frozenset({IDENT, "}", ")", REQUIRE, PROVIDE, DEFINE})

_IDENT_RE = re.compile(r"[A-Za-z0-9_@]+(?:/[A-Za-z0-9_@]+)*")
_VARIABLE_RE = re.compile(r"\$[A-Za-z0-9_]*")
_SPACE_RE = re.compile(r"[ \t\f\v]+")
_DIRECTIVE_RE = re.compile(r'#[ \t]*(?:line[ \t]+)?(\d+)?[ \t]*(?:"((?:[^"\\\n]|\\.)*)"?)?[^\n]*')


@dataclass(slots=True)
class Token:
    kind: str
    text: str
    landmark: Landmark

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind == EOF:
            return "end of file"
        if self.kind == CONFIG:
            return "configuration string"
        return f"'{self.text}'"


class _Scanner:
    """Walks the text once, tracking logical file name, line and physical column."""

    def __init__(self, text: str, filename: str, diagnostics: Diagnostics):
        # Click accepts \r\n and \r line ends; normalise once so every rule
        # below only has to know about \n.
        self.text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.pos = 0
        self.file = filename
        self.original_file = filename
        self.line = 1
        self.line_start = 0
        self.diagnostics = diagnostics
        self.unterminated_quote = False  # reported once; the unclosed '(' follows from it

    def landmark(self, pos: int | None = None) -> Landmark:
        pos = self.pos if pos is None else pos
        return Landmark(self.file, self.line, pos - self.line_start + 1)

    def _newlines(self, start: int, end: int) -> None:
        """Account for the newlines in text[start:end] (end is exclusive)."""
        n = self.text.count("\n", start, end)
        if n:
            self.line += n
            self.line_start = self.text.rfind("\n", start, end) + 1

    def at_line_start(self, pos: int) -> bool:
        return pos == 0 or self.text[pos - 1] == "\n"

    def line_directive(self) -> None:
        """Consume a '#' directive at self.pos (which starts a physical line)."""
        m = _DIRECTIVE_RE.match(self.text, self.pos)
        number, name = m.group(1), m.group(2)
        where = self.landmark(m.start(1)) if number is not None else None
        if number is None:
            self.diagnostics.error(self.landmark(), "unknown preprocessor directive")
        end = m.end()
        if end < len(self.text):  # swallow the newline itself
            end += 1
        self.pos = end
        self.line_start = end
        if number is None:
            self.line += 1
            return
        if len(number) > 9:
            self.diagnostics.error(where, "line number too large in line directive")
            self.line += 1
            return
        self.line = int(number)
        if name is not None:
            from clickpy.lang.confstring import unquote

            # The name ends up in every message about the lines below it:
            # control characters in it are shown escaped, never printed raw.
            name = unquote('"' + name + '"')
            self.file = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name) or self.original_file

    def skip_block_comment(self, start: int) -> int:
        """Return the position after the '*/' closing the comment at start, or EOF."""
        end = self.text.find("*/", start + 2)
        if end < 0:
            self.diagnostics.error(self.landmark(start), "unterminated '/*' comment")
            end = len(self.text)
        else:
            end += 2
        self._newlines(start, end)
        return end

    def skip_space_and_comments(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c == "\n":
                self.pos += 1
                self.line += 1
                self.line_start = self.pos
            elif c in " \t\f\v":
                self.pos = _SPACE_RE.match(text, self.pos).end()
            elif c == "/" and text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
            elif c == "/" and text.startswith("/*", self.pos):
                self.pos = self.skip_block_comment(self.pos)
            elif c == "#" and self.at_line_start(self.pos):
                self.line_directive()
            else:
                return

    def config_string(self, open_landmark: Landmark) -> Token:
        """Scan a configuration string; self.pos is just after its '('.

        Returns a CONFIG token; self.pos ends just after the closing ')'.
        Parentheses inside quotes, comments and ``\\<...>`` do not count.
        """
        text, n = self.text, len(self.text)
        start_landmark = self.landmark()
        pieces: list[str] = []
        piece_start = self.pos
        depth = 1
        i = self.pos
        while i < n:
            c = text[i]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    break
            elif c == "\n":
                self.line += 1
                self.line_start = i + 1
                if i + 1 < n and text[i + 1] == "#":
                    # A line directive inside a configuration string is
                    # obeyed and removed from the string.
                    pieces.append(text[piece_start : i + 1])
                    self.pos = i + 1
                    self.line_directive()
                    i = piece_start = self.pos
                    continue
            elif c == "/" and i + 1 < n and text[i + 1] == "/":
                end = text.find("\n", i)
                i = n if end < 0 else end
                continue
            elif c == "/" and i + 1 < n and text[i + 1] == "*":
                i = self.skip_block_comment(i)
                continue
            elif c == '"' or c == "'":
                i = self._skip_quote(i, c)
                continue
            elif c == "\\" and i + 1 < n and text[i + 1] == "<":
                i = self._skip_backslash_angle(i)
                continue
            i += 1
        if i >= n and not self.unterminated_quote:
            self.diagnostics.error(
                open_landmark, "unbalanced '(': configuration string has no closing ')'"
            )
        pieces.append(text[piece_start:i])
        self.pos = min(i + 1, n)
        return Token(CONFIG, "".join(pieces), start_landmark)

    def _skip_quote(self, start: int, quote: str) -> int:
        """Return the position after the quoted string starting at start."""
        text, n = self.text, len(self.text)
        i = start + 1
        while i < n:
            c = text[i]
            if c == quote:
                self._newlines(start, i)
                return i + 1
            if c == "\\" and quote == '"' and i + 1 < n:
                if text[i + 1] == "<":
                    i = self._skip_backslash_angle(i, count_lines=False)
                    continue
                i += 2
                continue
            i += 1
        self.diagnostics.error(self.landmark(start), f"unterminated string: no closing {quote} for this {quote}")
        self.unterminated_quote = True
        self._newlines(start, n)
        return n

    def _skip_backslash_angle(self, start: int, count_lines: bool = True) -> int:
        end = self.text.find(">", start + 2)
        end = len(self.text) if end < 0 else end + 1
        if count_lines:
            self._newlines(start, end)
        return end


def tokenize(
    text: str, filename: str = "config", diagnostics: Diagnostics | None = None
) -> list[Token]:
    """Split Click source into tokens; lexical errors go to diagnostics.

    The list always ends with an EOF token.
    """
    diagnostics = diagnostics if diagnostics is not None else Diagnostics()
    sc = _Scanner(text, filename, diagnostics)
    src = sc.text
    n = len(src)
    tokens: list[Token] = []
    prev_kind = None
    while True:
        sc.skip_space_and_comments()
        if sc.pos >= n:
            tokens.append(Token(EOF, "", sc.landmark()))
            return tokens
        pos = sc.pos
        c = src[pos]
        lm = Landmark(sc.file, sc.line, pos - sc.line_start + 1)
        m = _IDENT_RE.match(src, pos)
        if m:
            word = m.group()
            tok = Token(KEYWORDS.get(word, IDENT), word, lm)
            sc.pos = m.end()
        elif c == "$":
            m = _VARIABLE_RE.match(src, pos)
            tok = Token(VARIABLE, m.group()[1:], lm)
            sc.pos = m.end()
        elif c == "(" and prev_kind in _CONFIG_OPENERS:
            sc.pos = pos + 1
            tokens.append(Token("(", "(", lm))
            tokens.append(sc.config_string(lm))
            tok = Token(")", ")", sc.landmark(sc.pos - 1))
            # The ')' closing a configuration string is not a group's ')':
            # a '(' after it must open a group, so record a neutral kind.
            tokens.append(tok)
            prev_kind = CONFIG
            continue
        elif src.startswith("...", pos):
            tok = Token(ELLIPSIS, "...", lm)
            sc.pos = pos + 3
        elif src[pos : pos + 2] in _MULTI:
            two = src[pos : pos + 2]
            tok = Token(_MULTI[two], two, lm)
            sc.pos = pos + 2
        else:
            tok = Token(c, c, lm)
            sc.pos = pos + 1
        tokens.append(tok)
        prev_kind = tok.kind
