"""TCP and UDP elements: encapsulation and transport-header edits."""
from clickpy.runtime.registry import import_family

import_family(__name__, __path__)
