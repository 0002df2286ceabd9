"""Port backends. Importing this package registers every backend with
``clickpy.netmap_shim.ring.register_backend``; a backend whose kernel feature
or library is missing still registers, and says why when a port is opened."""
from clickpy.runtime.registry import import_modules

import_modules(__name__, __path__)
