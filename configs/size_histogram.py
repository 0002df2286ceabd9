"""SizeHistogram: a Python element, written the way users extend clickpy.

It passes packets through unchanged and counts them by size class. The
'histogram' handler prints one line per class; 'reset' clears it.

Use it from a configuration with ``require(package "size_histogram.py")``
(a path, relative to where clickpy runs) or, when it is installed as a
module, ``require(package size_histogram)``.
"""
import clickpy
from clickpy.runtime.args import Arg, Unsigned


class SizeHistogram(clickpy.Element):
    """=c
    SizeHistogram([BUCKET])

    =s counters
    counts packets by length

    =d
    Counts packets in length classes BUCKET bytes wide (default 64) and
    passes them on unchanged.

    =h histogram read-only: "LOW-HIGH COUNT" lines, smallest class first
    =h reset write-only
    """

    port_count = "1/1"
    processing = "a"
    arguments = (Arg("BUCKET", Unsigned, 64, positional=True),)
    handlers = (
        clickpy.Read("histogram", lambda e: e.histogram()),
        clickpy.Write("reset", lambda e, value: e.counts.clear()),
    )

    def __init__(self):
        self.counts = {}

    def configure(self, conf, errh):
        if not super().configure(conf, errh):
            return
        if self.bucket == 0:
            errh.error("BUCKET must be positive")

    def simple_action(self, packet):
        size_class = len(packet) // self.bucket
        self.counts[size_class] = self.counts.get(size_class, 0) + 1
        return packet

    def histogram(self):
        return "".join(
            f"{c * self.bucket}-{(c + 1) * self.bucket - 1} {n}\n" for c, n in sorted(self.counts.items())
        )
