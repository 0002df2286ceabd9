"""The clickpy element library, by family (installed as clickpy.elements).

Each family is a sub-package; the build writes ``_index.py`` here, which
tells the registry which module defines each element class.
"""
