"""IP elements: header checks and edits, encapsulation, fragmentation, printing."""
from clickpy.runtime.registry import import_family

import_family(__name__, __path__)
