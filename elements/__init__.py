"""The clickpy element library, by family (installed as clickpy.elements).

Importing this package imports every family, which registers every element
class (the class name is the configuration name).
"""
from clickpy.runtime.registry import import_family

import_family(__name__, __path__)
