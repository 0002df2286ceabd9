"""DriverManager: a Script of TYPE DRIVER, which decides when the driver stops."""
from __future__ import annotations

from clickpy.elements.standard.script import DRIVER, Script


class DriverManager(Script):
    """=c
    DriverManager(INSTRUCTIONS...)

    =s control
    a Script that decides when the driver stops

    =d
    DriverManager is a Script whose TYPE defaults to DRIVER; its instructions
    and handlers are Script's.

    Elements ask the driver to stop when they are done (a source with 'STOP
    true', a write to the router's 'stop' handler, a Script's 'stop'
    instruction): each such request lowers the router's runcount, and the
    driver stops when it reaches zero. With a DriverManager, the driver
    steps the manager's script instead ('pause', also spelled 'wait_stop',
    waits for one such request; 'wait TIME' ends early on one). The driver
    stops only when the script executes 'stop' or runs off its end. Without
    other instructions, DriverManager waits for the first request, then
    stops. A script that starts with other instructions than a wait runs
    them as soon as the driver starts.

    A router has at most one DriverManager (or TYPE DRIVER Script).

    =e
    Give an element time to send its last packets before the router ends:

      DriverManager(pause, write k.flush, wait 0.1s, stop)

    Time a run:

      DriverManager(set t0 $(now), pause, print $(sub $(now) $t0))

    =a Script
    """

    default_type = DRIVER
