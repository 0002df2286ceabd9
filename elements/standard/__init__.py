"""Standard elements: sources, sinks, queues, schedulers, switches, basic packet edits."""
from clickpy.runtime.registry import import_family

import_family(__name__, __path__)
