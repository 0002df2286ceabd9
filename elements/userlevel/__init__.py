"""User-level elements: control sockets and host interaction."""
from clickpy.runtime.registry import import_family

import_family(__name__, __path__)
