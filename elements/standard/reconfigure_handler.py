"""Write handlers that change one argument of an element's configuration.

Click gives queues a ``capacity`` write handler and rate limiters a ``rate``
write handler that work by rewriting the element's configuration string
(``reconfigure_keyword_handler``): the argument is replaced, or appended as
``KEYWORD value``, the element is reconfigured with the result, and on
success the new string becomes the element's configuration, so reading
``config`` afterwards shows it (``Queue`` then reads ``CAPACITY 10``). On
failure the element keeps its old configuration and the write fails.
"""
from __future__ import annotations

from clickpy.lang.confstring import join_args, split_args, split_keyword
from clickpy.runtime.handlers import HandlerError


def rewrite_argument(config: str, argno: int, keyword: str, value: str) -> list[str]:
    """The argument list of config with argument argno / KEYWORD set to value (Click's rule)."""
    conf = split_args(config)
    found_keyword = False
    kept = []
    for arg in conf:
        kw = split_keyword(arg)
        if kw is not None and kw[0] == keyword:
            found_keyword = True
            continue
        kept.append(arg)
    conf = kept
    if not found_keyword and 0 <= argno < len(conf):
        kw = split_keyword(conf[argno])
        # A positional argument is there unless that slot holds some other keyword.
        if kw is None or not kw[1]:
            conf[argno] = value
            return conf
    conf.append(f"{keyword} {value}")
    return conf


def reconfigure_argument(e, argno: int, keyword: str, value: str) -> None:
    """Reconfigure e with one argument changed; raises HandlerError (state unchanged) on error."""
    from clickpy.runtime.router import ElementErrors

    conf = rewrite_argument(e.config, argno, keyword, value.strip())
    new_config = join_args(conf)
    errh = ElementErrors()
    result = e.configure(conf, errh)
    if errh.nerrors or result is False:
        messages = [text for kind, text in errh.items if kind == "error"]
        raise HandlerError("\n".join(messages) or f"bad {keyword}")
    e.config = new_config


def keyword_write_handler(argno: int, keyword: str):
    """A write function for Handler(...) that sets argument argno, keyword KEYWORD."""
    def write(e, value):
        reconfigure_argument(e, argno, keyword, value)
    return write


def write_config(e, value):
    """Write handler for 'config' on an element whose 'config' read handler is its own.

    (Click's RatedUnqueue, RatedSplitter and Shaper answer a 'config' read
    with their rate, yet their configuration stays writable.)
    """
    from clickpy.runtime.router import reconfigure_element

    reconfigure_element(e, value)
