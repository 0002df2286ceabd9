"""Where elements, handlers and scripts report errors, warnings and messages (Click's ErrorHandler).

One family: ``ElementErrors`` collects (the router turns what configure and
initialize report into diagnostics with the element's landmark; a handler
called from outside a script turns it into a HandlerError), ``StderrErrors``
prints each message on standard error, and ``ContextErrors`` prints a context
line ("While executing ...:") before its first message and indents the
messages under it. Every error counts on the handler it was reported to and
on each parent a ContextErrors passes it to.
"""
from __future__ import annotations

import sys

EINVAL = 22


class ErrorHandler:
    """error(), warning() and message() report; emit(text, kind) is where a kind of handler puts them."""

    def __init__(self, parent: ErrorHandler | None = None):
        self.parent = parent
        self.nerrors = 0

    def error(self, text) -> int:
        """Report an error; returns Click's status for it (-EINVAL), for 'return errh.error(...)'."""
        e = self
        while e is not None:
            e.nerrors += 1
            e = e.parent
        self.emit(str(text), "error")
        return -EINVAL

    def warning(self, text) -> int:
        self.emit(str(text), "warning")
        return 0

    def message(self, text) -> int:
        self.emit(str(text), "message")
        return 0

    def emit(self, text: str, kind: str) -> None:
        raise NotImplementedError


class ElementErrors(ErrorHandler):
    """Keeps what is reported, as (kind, text) items."""

    def __init__(self):
        super().__init__(None)
        self.items: list[tuple[str, str]] = []

    def emit(self, text: str, kind: str) -> None:
        self.items.append((kind, text))

    def text(self) -> str:
        return "\n".join(text.rstrip("\n") for _, text in self.items)


class StderrErrors(ErrorHandler):
    """Click's default handler at user level: each message on standard error."""

    def emit(self, text: str, kind: str) -> None:
        if not text.endswith("\n"):
            text += "\n"
        try:
            sys.stdout.flush()
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):  # standard error closed: nowhere left to report
            pass


class ContextErrors(ErrorHandler):
    """Passes messages to parent, indented, after a context line printed once."""

    def __init__(self, parent: ErrorHandler, context: str, indent: str = "  "):
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
