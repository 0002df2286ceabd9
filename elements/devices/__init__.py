"""Device elements: FromDevice, ToDevice (network interfaces through AF_XDP or
AF_PACKET), FromHost and ToHost (the host stack through a tap device)."""
from clickpy.runtime.registry import import_family

import_family(__name__, __path__)
