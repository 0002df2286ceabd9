"""Reading `.clicktest` files.

A test file is a series of sections, each opened by a line starting with
``%``: ``%script`` (the shell script under test), ``%require`` (scripts that
must succeed for the test to run), ``%file``/``%stdin`` (inputs),
``%expect``/``%expectv``/``%expectx``/``%stdout``/``%stderr`` (expected
outputs), ``%ignore``/``%ignorev``/``%ignorex`` (output lines to disregard),
``%info`` and ``%cut`` (text only), ``%include`` (another test file's
sections) and ``%eof`` (the rest is ignored). A section's body runs to the
next section, or is exactly ``+LENGTH`` bytes; with ``-d`` the first
character of each body line is deleted, with ``-e`` the body is Base64.

The file is read as bytes, since inputs and outputs may be binary. Script
text is decoded with ``surrogateescape``, so any bytes survive the round trip
to the shell.

Not supported: ``%eot`` (several tests in one file), which no conformance
test uses; it is reported as an error rather than silently dropping tests.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from clickpy.clicktest.match import LineSyntax, PatternError, compile_body

STDIN = "stdin"
STDOUT = "stdout"
STDERR = "stderr"
ALL_FILES = "all"  # %ignore target meaning every checked file


class ClickTestFormatError(Exception):
    """A malformed test file; ``str()`` gives ``file:line: message``."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(f"{source}:{line}: {message}" if line else f"{source}: {message}")


class Requirement(NamedTuple):
    quiet: bool  # %require -q: a failure needs no explanation
    script: str


@dataclass(frozen=True)
class BodyOrigin:
    """Where a section body came from, to point messages at the test file."""

    source: str
    header_line: int
    encoded: bool = False  # -e: the decoded lines have no line numbers of their own

    @property
    def section(self) -> str:
        return f"{self.source}:{self.header_line}"

    def line_of(self, index: int) -> int:
        """Line number in the test file of body line ``index`` (0-based)."""
        return self.header_line if self.encoded else self.header_line + 1 + index

    def locate(self, index: int) -> str:
        if self.encoded:
            return f"{self.section} (decoded line {index + 1})"
        return f"{self.source}:{self.line_of(index)}"


@dataclass(frozen=True)
class Expectation:
    """An ``%expect``-family section for one output file."""

    name: str  # a file in the test directory, or "stdout" / "stderr"
    syntax: LineSyntax  # WILDCARD: %expect, VERBATIM: %expectv, REGEX: %expectx
    body: bytes
    origin: BodyOrigin
    alternate: bool = False  # -a
    ignore_case: bool = False  # -i
    ignore_space: bool = False  # -w


@dataclass(frozen=True)
class IgnoreRule:
    """An ``%ignore``-family section: output lines to drop before comparing."""

    target: str  # an output file name, or ALL_FILES
    syntax: LineSyntax  # WILDCARD: %ignore, VERBATIM: %ignorev, REGEX: %ignorex
    body: bytes
    origin: BodyOrigin
    ignore_case: bool = False
    ignore_space: bool = False


@dataclass
class ClickTest:
    source: str  # the test file's path, or a label for in-memory data
    script: str
    info: str = ""
    requires: list[Requirement] = field(default_factory=list)
    stdin: bytes | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    expectations: dict[str, list[Expectation]] = field(default_factory=dict)
    ignores: list[IgnoreRule] = field(default_factory=list)

    def ignores_for(self, name: str) -> list[IgnoreRule]:
        return [rule for rule in self.ignores if rule.target in (name, ALL_FILES)]


@dataclass(frozen=True)
class _SectionKind:
    flags: str  # option letters the section accepts
    takes_length: bool  # accepts +LENGTH
    names: str  # "none", "one", "some" (one or more) or "any"
    implicit_name: str | None = None  # %stdin, %stdout, %stderr


_EXPECT_SYNTAX = {
    "expect": LineSyntax.WILDCARD,
    "stdout": LineSyntax.WILDCARD,
    "stderr": LineSyntax.WILDCARD,
    "expectv": LineSyntax.VERBATIM,
    "expectx": LineSyntax.REGEX,
}
_IGNORE_SYNTAX = {
    "ignore": LineSyntax.WILDCARD,
    "ignorev": LineSyntax.VERBATIM,
    "ignorex": LineSyntax.REGEX,
}
# Option letters as listed in Click's manual. %ignore/%ignorev accept -a
# because the manual lists it; it means nothing for ignore patterns.
_SECTIONS = {
    "info": _SectionKind("", False, "none"),
    "cut": _SectionKind("", False, "none"),
    "require": _SectionKind("q", False, "none"),
    "script": _SectionKind("", False, "none"),
    "file": _SectionKind("de", True, "some"),
    "stdin": _SectionKind("de", True, "none", STDIN),
    "expect": _SectionKind("adeiw", True, "some"),
    "stdout": _SectionKind("adeiw", True, "none", STDOUT),
    "stderr": _SectionKind("adeiw", True, "none", STDERR),
    "expectv": _SectionKind("ade", True, "some"),
    "expectx": _SectionKind("adiw", True, "some"),
    "ignore": _SectionKind("adeiw", True, "any"),
    "ignorev": _SectionKind("adeiw", True, "any"),
    "ignorex": _SectionKind("di", True, "any"),
    "include": _SectionKind("", False, "one"),
    "eof": _SectionKind("", False, "none"),
    "eot": _SectionKind("", False, "none"),
}
_FIRST_CHARACTER = re.compile(rb"^[^\n]", re.MULTILINE)


@dataclass(frozen=True)
class _Header:
    keyword: str
    flags: frozenset[str]
    length: int | None
    names: list[str]
    line: int


class _Parser:
    def __init__(self) -> None:
        self.info: list[str] = []
        self.requires: list[Requirement] = []
        self.script: str | None = None
        self.script_place = ""  # "file:line" of the %script header
        self.stdin: bytes | None = None
        self.files: dict[str, bytes] = {}
        self.file_places: dict[str, str] = {}  # "file:line" of each %file header
        self.expectations: dict[str, list[Expectation]] = {}
        self.ignores: list[IgnoreRule] = []
        self.open_files: list[Path] = []  # the %include chain, to resolve names and refuse cycles

    def parse(self, data: bytes, source: str) -> None:
        header: _Header | None = None  # the open section, if it runs to the next header
        after_length_body = False  # a +LENGTH body ended; only blank lines may follow
        body_start = 0
        position = 0
        line_number = 1
        while position < len(data):
            end = data.find(b"\n", position)
            end = len(data) if end < 0 else end + 1
            line = data[position:end]
            if line.startswith(b"%"):
                if header is not None:
                    self._section(header, data[body_start:position], source)
                header = self._header(line, source, line_number)
                if header.keyword == "eof":
                    return
                after_length_body = False
                if header.length is not None:
                    body_end = end + header.length
                    if body_end > len(data):
                        raise ClickTestFormatError(
                            source,
                            line_number,
                            f"%{header.keyword} wants {header.length} bytes, "
                            f"but the file has only {len(data) - end} left",
                        )
                    body = data[end:body_end]
                    self._section(header, body, source)
                    header = None
                    after_length_body = True
                    line_number += 1 + body.count(b"\n")
                    position = body_end
                    continue
                body_start = end
            elif header is None and line.strip():
                where = (
                    "after a +LENGTH section body"
                    if after_length_body
                    else "before the first section"
                )
                raise ClickTestFormatError(source, line_number, f"unexpected text {where}")
            position = end
            line_number += 1
        if header is not None:
            self._section(header, data[body_start:], source)

    def _header(self, line: bytes, source: str, line_number: int) -> _Header:
        words = line.decode("utf-8", "surrogateescape").split()
        keyword = words[0][1:]
        kind = _SECTIONS.get(keyword)
        if kind is None:
            raise ClickTestFormatError(source, line_number, f"unknown section '%{keyword}'")
        flags: set[str] = set()
        length = None
        names: list[str] = []
        for word in words[1:]:
            if names:  # options come before file names
                names.append(word)
            elif word.startswith("-") and len(word) > 1:
                for letter in word[1:]:
                    if letter not in kind.flags:
                        raise ClickTestFormatError(
                            source, line_number, f"%{keyword} has no option '-{letter}'"
                        )
                    flags.add(letter)
            elif word.startswith("+"):
                digits = word[1:]
                if not kind.takes_length:
                    raise ClickTestFormatError(source, line_number, f"%{keyword} takes no +LENGTH")
                if not (digits.isascii() and digits.isdigit()):
                    raise ClickTestFormatError(source, line_number, f"bad length '{word}'")
                length = int(digits)
            else:
                names.append(word)
        self._check_names(kind, keyword, names, source, line_number)
        if kind.implicit_name:
            names = [kind.implicit_name]
        return _Header(keyword, frozenset(flags), length, names, line_number)

    @staticmethod
    def _check_names(
        kind: _SectionKind, keyword: str, names: list[str], source: str, line: int
    ) -> None:
        if kind.names == "none" and names:
            raise ClickTestFormatError(source, line, f"%{keyword} takes no file name")
        if kind.names == "one" and len(names) != 1:
            raise ClickTestFormatError(source, line, f"%{keyword} takes exactly one file name")
        if kind.names == "some" and not names:
            raise ClickTestFormatError(source, line, f"%{keyword} needs a file name")
        if keyword == "include":
            return
        for name in names:
            path = PurePosixPath(name)
            # Files are created and read inside the test's temporary directory only.
            if path.is_absolute() or ".." in path.parts:
                raise ClickTestFormatError(
                    source,
                    line,
                    f"file name '{name}' must be a relative path inside the test directory",
                )

    def _section(self, header: _Header, body: bytes, source: str) -> None:
        keyword = header.keyword
        origin = BodyOrigin(source, header.line, encoded="e" in header.flags)
        body = self._decode(header, body, origin)
        text = body.decode("utf-8", "surrogateescape")
        if keyword == "info":
            self.info.append(text.strip())
        elif keyword == "require":
            self.requires.append(Requirement("q" in header.flags, text))
        elif keyword == "script":
            if self.script is not None:
                raise ClickTestFormatError(
                    source,
                    header.line,
                    f"second %script section (the first is at {self.script_place})",
                )
            self.script = text
            self.script_place = origin.section
        elif keyword in ("file", "stdin"):
            self._add_files(header, body, origin)
        elif keyword in _EXPECT_SYNTAX:
            self._add_expectations(header, body, origin)
        elif keyword in _IGNORE_SYNTAX:
            self._add_ignores(header, body, origin)
        elif keyword == "include":
            self._include(header, source)
        elif keyword == "eot":
            raise ClickTestFormatError(
                source, header.line, "%eot (several tests in one file) is not supported"
            )
        # %cut is ignored by definition; %eof never gets here (parse stops at it).

    @staticmethod
    def _decode(header: _Header, body: bytes, origin: BodyOrigin) -> bytes:
        if "d" in header.flags:
            body = _FIRST_CHARACTER.sub(b"", body)
        if "e" in header.flags:
            try:
                # Line breaks are normal in Base64 text; other bytes outside it are errors.
                body = base64.b64decode(b"".join(body.split()), validate=True)
            except binascii.Error as error:
                raise ClickTestFormatError(
                    origin.source, origin.header_line, f"bad Base64 data: {error}"
                ) from None
        return body

    def _add_files(self, header: _Header, body: bytes, origin: BodyOrigin) -> None:
        for name in header.names:
            if name in self.file_places:
                raise ClickTestFormatError(
                    origin.source,
                    header.line,
                    f"'{name}' is already defined at {self.file_places[name]}",
                )
            self.file_places[name] = origin.section
            if name == STDIN:
                self.stdin = body
            else:
                self.files[name] = body

    def _add_expectations(self, header: _Header, body: bytes, origin: BodyOrigin) -> None:
        syntax = _EXPECT_SYNTAX[header.keyword]
        self._check_patterns(body, syntax, header, origin)
        for name in header.names:
            expectation = Expectation(
                name,
                syntax,
                body,
                origin,
                alternate="a" in header.flags,
                ignore_case="i" in header.flags,
                ignore_space="w" in header.flags,
            )
            previous = self.expectations.setdefault(name, [])
            if previous and not (
                expectation.alternate and all(other.alternate for other in previous)
            ):
                raise ClickTestFormatError(
                    origin.source,
                    header.line,
                    f"'{name}' is already expected at {previous[0].origin.section}; "
                    "mark every alternative with -a",
                )
            previous.append(expectation)

    def _add_ignores(self, header: _Header, body: bytes, origin: BodyOrigin) -> None:
        syntax = _IGNORE_SYNTAX[header.keyword]
        self._check_patterns(body, syntax, header, origin)
        for target in header.names or [ALL_FILES]:
            self.ignores.append(
                IgnoreRule(
                    target,
                    syntax,
                    body,
                    origin,
                    ignore_case="i" in header.flags,
                    ignore_space="w" in header.flags,
                )
            )

    @staticmethod
    def _check_patterns(
        body: bytes, syntax: LineSyntax, header: _Header, origin: BodyOrigin
    ) -> None:
        """Report bad {{regex}} blocks now, with their line, rather than when comparing."""
        try:
            compile_body(
                body, syntax, ignore_case="i" in header.flags, ignore_space="w" in header.flags
            )
        except PatternError as error:
            message = error.message
            if origin.encoded:
                message = f"decoded line {error.index + 1}: {message}"
            raise ClickTestFormatError(
                origin.source, origin.line_of(error.index), message
            ) from None

    def _include(self, header: _Header, source: str) -> None:
        # Relative to the including file; in-memory data has no directory, so the current one.
        directory = self.open_files[-1].parent if self.open_files else Path()
        path = directory / header.names[0]
        if any(path.resolve() == other.resolve() for other in self.open_files):
            raise ClickTestFormatError(source, header.line, f"'{path}' includes itself")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ClickTestFormatError(
                source, header.line, f"cannot include '{path}': {error.strerror}"
            ) from None
        self.open_files.append(path)
        self.parse(data, str(path))
        self.open_files.pop()

    def result(self, source: str) -> ClickTest:
        if self.script is None:
            raise ClickTestFormatError(source, None, "no %script section")
        return ClickTest(
            source=source,
            script=self.script,
            info="\n\n".join(part for part in self.info if part),
            requires=self.requires,
            stdin=self.stdin,
            files=self.files,
            expectations=self.expectations,
            ignores=self.ignores,
        )


def parse_clicktest(path_or_bytes: str | Path | bytes, *, source: str | None = None) -> ClickTest:
    """Parse a `.clicktest` file, given as a path or as its contents.

    ``source`` names in-memory data in messages (default ``<clicktest>``).
    Raises :class:`ClickTestFormatError` for a malformed test and
    :class:`OSError` if a path cannot be read.
    """
    parser = _Parser()
    if isinstance(path_or_bytes, (bytes, bytearray)):
        source = source or "<clicktest>"
        parser.parse(bytes(path_or_bytes), source)
    else:
        path = Path(path_or_bytes)
        source = source or str(path)
        data = path.read_bytes()
        parser.open_files.append(path)
        parser.parse(data, source)
    return parser.result(source)
