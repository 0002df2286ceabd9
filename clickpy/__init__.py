"""clickpy: Click-language middleboxes on a fast Python/Cython data path.

Write your own elements by subclassing :class:`clickpy.Element` (see the
README); arguments and handlers are declared with ``clickpy.Arg``,
``clickpy.Read`` and ``clickpy.Write``.
"""

__version__ = "0.1.0"

_LAZY = {
    "Element": ("clickpy.runtime.element", "Element"),
    "SimpleElement": ("clickpy.runtime.element", "SimpleElement"),
    "PacketObject": ("clickpy.runtime.packet", "PacketObject"),
    "Task": ("clickpy.runtime.scheduler", "Task"),
    "Timer": ("clickpy.runtime.scheduler", "Timer"),
    "Arg": ("clickpy.runtime.args", "Arg"),
    "Read": ("clickpy.runtime.handlers", "Read"),
    "Write": ("clickpy.runtime.handlers", "Write"),
    "ReadWrite": ("clickpy.runtime.handlers", "ReadWrite"),
    "Router": ("clickpy.runtime.router", "Router"),
}


def __getattr__(name):
    # The data path is compiled; importing it only when asked keeps the
    # language tools usable on their own.
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'clickpy' has no attribute {name!r}") from None
    import importlib

    return getattr(importlib.import_module(module), attr)
