"""The clickpy element library, by family (installed as clickpy.elements)."""
