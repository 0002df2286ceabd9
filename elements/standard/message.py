"""Message: prints a message, a warning or an error when the router is configured."""
from __future__ import annotations

from clickpy.runtime.args import Arg, ArgError, Keyword, String
from clickpy.runtime.element import Element


def _message_text(text: str, element=None) -> str:
    # One string, quotes allowed (Click's cp_string): '""' is the empty message.
    if not text.strip():
        raise ArgError("expected string")
    return String(text, element)


class Message(Element):
    """=c
    Message(MESSAGE [, TYPE])

    =s control
    prints a message when configured

    =d
    Reports MESSAGE (a string) while the router is being configured, under
    the element's 'While configuring' line: as a plain message when TYPE is
    MESSAGE (the default), a warning when it is WARNING, or an error when it
    is ERROR, in which case the router does not start. Useful to document a
    configuration, or to mark one as obsolete.

    =e
      Message("this configuration is deprecated; use nat.click instead", WARNING)
    """

    port_count = "0/0"
    processing = "a"
    arguments = (
        Arg("MESSAGE", _message_text, None, positional=True, mandatory=True),
        Arg("TYPE", Keyword, "MESSAGE", positional=True),
    )

    def configure(self, conf, errh):
        if not Element.configure(self, conf, errh):
            return False
        if self.type == "MESSAGE":
            errh.message(self.message)
        elif self.type == "WARNING":
            errh.warning(self.message)
        elif self.type == "ERROR":
            errh.error(self.message)
            return False
        else:
            errh.error("unrecognized message type")
            return False
        return True
