"""Comparing a test script's output with a `.clicktest` expectation.

Semantics follow Click's clicktest manual:

* ``%expect`` compares line by line. Blank lines and trailing whitespace never
  matter, and output lines matching an applicable ``%ignore``/``%ignorev``/
  ``%ignorex`` pattern are dropped before comparing. Text is literal except
  inside ``{{ }}``, which holds a regular expression; ``{{?text}}`` is a
  comment, shown when its line fails to match.
* ``%expectx`` treats every line as a regular expression.
* ``%expectv`` must match byte for byte; ignore patterns do not apply.
* ``-i`` makes the regular expressions case-insensitive (in ``%expect``, text
  outside ``{{ }}`` still has to match case, as the manual says).
* ``-w`` ignores differences in the amount of whitespace: runs of whitespace
  count as one space, and leading whitespace is ignored.
* ``-a`` marks alternatives: the output has to match one of them.

Expected and ignore lines must match whole output lines. Regular expressions
are Python's, on bytes; the common Perl syntax means the same in both.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clickpy.clicktest.format import BodyOrigin, Expectation, IgnoreRule


class LineSyntax(enum.Enum):
    """How the lines of an expectation or ignore section are read."""

    WILDCARD = "wildcard"  # literal text with {{regex}} blocks (%expect, %ignore)
    VERBATIM = "verbatim"  # literal text (%expectv, %ignorev)
    REGEX = "regex"  # each line a regular expression (%expectx, %ignorex)


class PatternError(ValueError):
    """A line of an expectation or ignore section is not a valid pattern."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index  # 0-based line within the section body
        self.message = message


@dataclass(frozen=True)
class LinePattern:
    """One expected (or ignored) line, compiled."""

    index: int  # 0-based line within the section body
    text: bytes  # the line as written, for messages
    regex: re.Pattern[bytes]
    ignore_space: bool
    comment: str  # from {{?comment}} blocks; shown on mismatch

    def matches(self, line: bytes) -> bool:
        if self.ignore_space:
            line = _squeeze_space(line)
        return self.regex.fullmatch(line) is not None


@dataclass(frozen=True)
class Mismatch:
    """Why an output file does not meet its expectation."""

    summary: str  # one line, for the PASS/FAIL report
    detail: str  # a few lines: the first difference, expected vs actual
    # Expected lines matched before the difference, to pick the closest alternative.
    matched_lines: int


# Trailing whitespace never matters, so every line pattern accepts some.
_TRAILING_SPACE = rb"[ \t\r\f\v]*"
_COMMENT = re.compile(rb"\s*\{\{\?(.*?)\}\}\s*")
_SPACE_RUN = re.compile(rb"\s+")


def _squeeze_space(line: bytes) -> bytes:
    """What ``-w`` compares: whitespace runs as one space, leading whitespace dropped."""
    return _SPACE_RUN.sub(b" ", line).lstrip(b" ")


def _strip_comments(line: bytes) -> tuple[bytes, str]:
    comments = [
        match.group(1).decode("utf-8", "replace").strip() for match in _COMMENT.finditer(line)
    ]
    return _COMMENT.sub(b"", line), "; ".join(comments)


def _split_wildcards(text: bytes, index: int) -> list[tuple[bool, bytes]]:
    """Split a %expect line into (is_regex, text) chunks."""
    chunks = []
    position = 0
    while (start := text.find(b"{{", position)) >= 0:
        end = text.find(b"}}", start + 2)
        if end < 0:
            raise PatternError(index, "'{{' without a matching '}}'")
        # A regular expression may itself end in '}' (as in \d{2}): the block
        # closes at the last two braces of a run.
        while text[end + 2 : end + 3] == b"}":
            end += 1
        chunks.append((False, text[position:start]))
        chunks.append((True, text[start + 2 : end]))
        position = end + 2
    chunks.append((False, text[position:]))
    return chunks


def _literal(text: bytes, ignore_space: bool) -> bytes:
    if ignore_space:
        text = _SPACE_RUN.sub(b" ", text)
    return re.escape(text)


def _compile_line(
    line: bytes, index: int, syntax: LineSyntax, *, ignore_case: bool, ignore_space: bool
) -> LinePattern | None:
    """Compile one section line; ``None`` for a blank line, which matches nothing."""
    text, comment = (line, "") if syntax is LineSyntax.VERBATIM else _strip_comments(line)
    text = text.rstrip()
    if ignore_space:
        text = text.lstrip()
    if not text.strip():
        return None
    if syntax is LineSyntax.REGEX:
        source = b"(?:" + text + b")"
        flags = re.IGNORECASE if ignore_case else 0
    elif syntax is LineSyntax.VERBATIM:
        source = _literal(text, ignore_space)
        flags = 0
    else:
        group = b"(?i:" if ignore_case else b"(?:"
        source = b"".join(
            group + chunk + b")" if is_regex else _literal(chunk, ignore_space)
            for is_regex, chunk in _split_wildcards(text, index)
        )
        flags = 0
    try:
        regex = re.compile(source + _TRAILING_SPACE, flags)
    except re.error as error:
        raise PatternError(
            index, f"bad regular expression in {_show(text)!r}: {error.msg}"
        ) from None
    return LinePattern(index, line.rstrip(), regex, ignore_space, comment)


def compile_body(
    body: bytes, syntax: LineSyntax, *, ignore_case: bool, ignore_space: bool
) -> list[LinePattern]:
    """Compile every non-blank line of a section body. Raises :class:`PatternError`."""
    patterns = []
    for index, line in enumerate(_split_lines(body)):
        pattern = _compile_line(
            line, index, syntax, ignore_case=ignore_case, ignore_space=ignore_space
        )
        if pattern is not None:
            patterns.append(pattern)
    return patterns


def _split_lines(data: bytes) -> list[bytes]:
    """Lines without their newlines; a final newline does not start another line."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def _show(line: bytes) -> str:
    """A line as readable text, with control characters escaped."""
    text = line.decode("utf-8", "backslashreplace")
    return "".join(
        c if c.isprintable() or c == "\t" else c.encode("unicode_escape").decode() for c in text
    )


def _detail(
    name: str, expected: tuple[str, str], actual: tuple[str, str], comment: str = ""
) -> str:
    """Two aligned rows: where and what was expected, where and what was found."""
    width = max(len(expected[0]), len(actual[0]))
    rows = [
        f"first difference in {name}:",
        f"  expected  {expected[0]:<{width}}  {expected[1]}",
        f"  actual    {actual[0]:<{width}}  {actual[1]}",
    ]
    if comment:
        rows.append(f"  comment   {comment}")
    return "\n".join(rows)


def compare_output(
    name: str, actual: bytes, expectations: Sequence[Expectation], ignores: Sequence[IgnoreRule]
) -> Mismatch | None:
    """Compare output file ``name`` with its expectations (alternatives if several).

    ``ignores`` are the ignore rules that apply to this file. Returns ``None``
    when some expectation matches, else the mismatch of the closest one.
    """
    mismatches = []
    for expectation in expectations:
        mismatch = _compare_one(name, actual, expectation, ignores)
        if mismatch is None:
            return None
        mismatches.append(mismatch)
    if len(mismatches) == 1:
        return mismatches[0]
    closest = max(mismatches, key=lambda mismatch: mismatch.matched_lines)
    return Mismatch(
        f"{name} matches none of {len(mismatches)} alternatives (closest: {closest.summary})",
        closest.detail,
        closest.matched_lines,
    )


def _compare_one(
    name: str, actual: bytes, expectation: Expectation, ignores: Sequence[IgnoreRule]
) -> Mismatch | None:
    if expectation.syntax is LineSyntax.VERBATIM:
        return _compare_verbatim(name, actual, expectation.body, expectation.origin)
    expected = compile_body(
        expectation.body,
        expectation.syntax,
        ignore_case=expectation.ignore_case,
        ignore_space=expectation.ignore_space,
    )
    ignored = [
        pattern
        for rule in ignores
        for pattern in compile_body(
            rule.body, rule.syntax, ignore_case=rule.ignore_case, ignore_space=rule.ignore_space
        )
    ]
    significant = [
        (number, line)
        for number, line in enumerate(_split_lines(actual), 1)
        if line.strip() and not any(pattern.matches(line) for pattern in ignored)
    ]
    origin = expectation.origin
    for matched, (pattern, (number, line)) in enumerate(zip(expected, significant, strict=False)):
        if not pattern.matches(line):
            return Mismatch(
                f"{name} differs at line {number}",
                _detail(
                    name,
                    (origin.locate(pattern.index), _show(pattern.text)),
                    (f"{name}:{number}", _show(line)),
                    pattern.comment,
                ),
                matched,
            )
    if len(expected) > len(significant):
        missing = expected[len(significant)]
        return Mismatch(
            f"{name} ends early: {len(expected) - len(significant)} expected line(s) missing",
            _detail(
                name,
                (origin.locate(missing.index), _show(missing.text)),
                (name, "(end of output)"),
                missing.comment,
            ),
            len(significant),
        )
    if len(significant) > len(expected):
        number, line = significant[len(expected)]
        return Mismatch(
            f"{name} has unexpected output at line {number}",
            _detail(
                name, (origin.section, "(end of expectation)"), (f"{name}:{number}", _show(line))
            ),
            len(expected),
        )
    return None


def _compare_verbatim(
    name: str, actual: bytes, expected: bytes, origin: BodyOrigin
) -> Mismatch | None:
    if actual == expected:
        return None
    expected_lines = _keep_newlines(expected)
    actual_lines = _keep_newlines(actual)
    index = 0
    while (
        index < min(len(expected_lines), len(actual_lines))
        and expected_lines[index] == actual_lines[index]
    ):
        index += 1
    # Exact comparison: show the raw bytes so whitespace and newlines are visible.
    if index < len(expected_lines):
        expected_row = (origin.locate(index), repr(expected_lines[index]))
    else:
        expected_row = (origin.section, "(end of expectation)")
    actual_row = (
        f"{name}:{index + 1}",
        repr(actual_lines[index]) if index < len(actual_lines) else "(end of output)",
    )
    return Mismatch(
        f"{name} differs at line {index + 1} (exact comparison)",
        _detail(name, expected_row, actual_row),
        index,
    )


def _keep_newlines(data: bytes) -> list[bytes]:
    """Lines with their newlines (bytes.splitlines would also split at carriage returns)."""
    lines = [line + b"\n" for line in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]
