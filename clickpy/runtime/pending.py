"""A write handler's answer that arrives later.

Most handler writes finish at once. A few start work that must not stop the
router while it runs, such as building a new router for ``hotconfig``: their
write function returns a :class:`Pending`, settled when the work ends. The
ControlSocket holds that client's reply, and its later commands, until then;
a caller that cannot wait in the driver loop (a Script, the Python API)
calls :meth:`Pending.wait`, which finishes the work in place.
"""
from __future__ import annotations

from typing import Callable


class Pending:
    def __init__(self, finish_now: Callable[[], None] | None = None):
        self.done = False
        self.error: str | None = None
        self._callbacks: list[Callable[[Pending], None]] = []
        self._finish_now = finish_now

    def settle(self, error: str | None = None) -> None:
        """The work ended: successfully (no error), or with the message error."""
        if self.done:
            return
        self.done = True
        self.error = error
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn(self)

    def add_done_callback(self, fn: Callable[[Pending], None]) -> None:
        if self.done:
            fn(self)
        else:
            self._callbacks.append(fn)

    def wait(self) -> None:
        """Finish the work now, blocking the caller, if it is not done yet."""
        if not self.done and self._finish_now is not None:
            self._finish_now()
        if not self.done:
            raise RuntimeError("a pending handler write could not finish")
