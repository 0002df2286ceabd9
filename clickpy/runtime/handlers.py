"""Handlers: named read and write hooks on elements, as in Click.

An element class declares its handlers once::

    handlers = (
        Read("count", lambda e: e.count),
        Write("reset_counts", lambda e, value: e.reset()),
    )

A read function returns the handler's text (anything ``str()`` can print;
``True``/``False`` print as Click's ``true``/``false``). A write function
takes the written text; it reports a problem by raising ``HandlerError``
(or returning an error string). Every element also has Click's generic
handlers: ``name``, ``class``, ``config``, ``ports`` and ``handlers``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class HandlerError(Exception):
    """A handler call failed; the message is for the user."""


@dataclass(frozen=True)
class Handler:
    name: str
    read: Callable[[Any], Any] | None = None
    write: Callable[[Any, str], Any] | None = None
    raw: bool = False        # the value is bytes-exact: no newline is added when printed
    calm: bool = False       # reading has no side effects and is cheap
    expensive: bool = False
    button: bool = False     # a write handler that ignores its value
    read_param: bool = False  # the read handler takes a parameter

    @property
    def readable(self) -> bool:
        return self.read is not None

    @property
    def writable(self) -> bool:
        return self.write is not None

    def flags(self) -> str:
        return ("r" if self.readable else "") + ("w" if self.writable else "")


def Read(name: str, fn: Callable[[Any], Any], **flags) -> Handler:
    return Handler(name, read=fn, **flags)


def Write(name: str, fn: Callable[[Any, str], Any], **flags) -> Handler:
    return Handler(name, write=fn, **flags)


def ReadWrite(name: str, read: Callable, write: Callable, **flags) -> Handler:
    return Handler(name, read=read, write=write, **flags)


def format_value(v: Any) -> str:
    """A read handler's result as Click prints it."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, float):
        return f"{v:g}" if v != int(v) or abs(v) >= 1e15 else str(int(v))
    return str(v)


def _ports_text(e) -> str:
    lines = [f"{e.ninputs} input{'s' if e.ninputs != 1 else ''}"]
    for i in range(e.ninputs):
        kind = "pull" if e.input_is_pull(i) else "push"
        peers = ", ".join(f"{el.name} [{p}]" for el, p in e.router.input_connections(e, i))
        lines.append(f"{kind}\t-\t{peers}")
    lines.append(f"{e.noutputs} output{'s' if e.noutputs != 1 else ''}")
    for i in range(e.noutputs):
        kind = "push" if e.output_is_push(i) else "pull"
        peers = ", ".join(f"[{p}] {el.name}" for el, p in e.router.output_connections(e, i))
        lines.append(f"{kind}\t-\t{peers}")
    return "\n".join(lines) + "\n"


def write_config(e, value: str):
    """Write 'config': reconfigure e in place, or keep the old configuration."""
    from clickpy.runtime.router import reconfigure_element

    reconfigure_element(e, value.strip())


# --- Click's keyword handlers (read_keyword_handler, reconfigure_keyword_handler) ---------
#
# A handler for one configuration argument works on the configuration text:
# reading returns the argument as written, writing replaces it (or appends
# ``KEYWORD value``) and reconfigures the element, so a later 'config' read
# shows the change. A positional argument counts as the argument when no
# keyword form of it is present.


def config_argument(e, keyword: str, argno: int = -1) -> str:
    """The text of argument KEYWORD (or positional argno) in e's configuration; '' if absent."""
    from clickpy.lang.confstring import split_args, split_keyword

    value, positional = None, []
    for arg in split_args(e.config):
        kw = split_keyword(arg)
        if kw is not None and kw[0] == keyword:
            value = kw[1]
        else:
            positional.append(arg)
    if value is None and 0 <= argno < len(positional) and _is_positional(positional[argno]):
        return positional[argno]
    return value if value is not None else ""


def config_with_argument(config: str, keyword: str, value: str, argno: int = -1) -> str:
    """config with argument KEYWORD (positional argno if written so) set to value."""
    from clickpy.lang.confstring import join_args, split_args, split_keyword

    conf = split_args(config)
    kept = [a for a in conf if (split_keyword(a) or ("",))[0] != keyword]
    if len(kept) == len(conf) and 0 <= argno < len(kept) and _is_positional(kept[argno]):
        kept[argno] = value
    else:
        kept.append(f"{keyword} {value}")
    return join_args(kept)


def _is_positional(arg: str) -> bool:
    from clickpy.lang.confstring import split_keyword

    kw = split_keyword(arg)
    return kw is None or not kw[1]


def read_keyword(keyword: str, argno: int = -1) -> Callable[[Any], str]:
    return lambda e: config_argument(e, keyword, argno)


def write_keyword(keyword: str, argno: int = -1) -> Callable[[Any, str], None]:
    def write(e, value):
        from clickpy.runtime.router import reconfigure_element

        reconfigure_element(e, config_with_argument(e.config, keyword, value.strip(), argno))
    return write


def KeywordHandler(name: str, keyword: str, argno: int = -1, **flags) -> Handler:
    """A read/write handler for one configuration argument."""
    return Handler(name, read=read_keyword(keyword, argno), write=write_keyword(keyword, argno), **flags)


def generic_handlers(element) -> list[Handler]:
    """The handlers every element has."""
    hs = [
        Handler("name", read=lambda e: e.name, calm=True),
        Handler("class", read=lambda e: type(e).__name__, calm=True),
        Handler("config", read=lambda e: e.config,
                write=write_config if getattr(type(element), "live_reconfigure", False) else None,
                calm=True),
        Handler("ports", read=_ports_text, calm=True),
        Handler("handlers", read=lambda e: "".join(
            f"{h.name}\t{h.flags()}\n" for h in e.router.element_handlers(e).values()), calm=True),
    ]
    if getattr(element, "task", None) is not None:
        hs += [
            Handler("scheduled", read=lambda e: e.task.scheduled),
            Handler("tickets", read=lambda e: e.task.tickets, write=_write_tickets),
            Handler("home_thread", read=lambda e: 0),
        ]
    return hs


def _write_tickets(e, value: str):
    # As Click's: any integer, pinned to 1..MAX_TICKETS.
    from clickpy.runtime.args import ArgError, Int
    from clickpy.runtime.scheduler import MAX_TICKETS

    try:
        n = Int(value)
    except ArgError as err:
        raise HandlerError(f"tickets: {err}") from None
    e.task.tickets = min(max(n, 1), MAX_TICKETS)


class HandlerCall:
    """A handler named in a configuration, with a value: 'element.handler value'.

    Elements take these as arguments (for example END_CALL) and resolve them
    when the router is initialized, relative to their own compound.
    """

    def __init__(self, text: str):
        from clickpy.lang.confstring import shift_word

        self.text = text.strip()
        self.name, self.value = shift_word(self.text)
        self.element = None
        self.handler = None
        self.router = None

    def initialize(self, context, write: bool = True) -> None:
        """Find the handler; raises HandlerError if it does not exist or cannot be used so."""
        router = context.router
        e, h = router.resolve_handler(self.name, context)
        if write and not h.writable:
            raise HandlerError(f"'{self.name}' is not a write handler")
        if not write and not h.readable:
            raise HandlerError(f"'{self.name}' is not a read handler")
        self.router, self.element, self.handler = router, e, h

    def call_write(self, value: str | None = None) -> bool:
        """Call the handler; a failure is printed, as Click prints it, and returns False."""
        import sys

        try:
            self.router.call_write(self.element, self.handler, self.value if value is None else value)
            return True
        except HandlerError as err:
            print(f"{self.name}: {err}", file=sys.stderr)
            return False

    def call_read(self) -> str:
        return self.router.call_read(self.element, self.handler)

    def __str__(self) -> str:
        return self.text


def HandlerCallArg(text: str, element=None) -> HandlerCall:
    """Argument type: a handler call, resolved when the router initializes."""
    from clickpy.runtime.args import ArgError

    call = HandlerCall(text)
    if not call.name:
        raise ArgError("expected handler call")
    return call
