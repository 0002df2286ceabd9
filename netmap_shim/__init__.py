"""netmap-style rings in user space and their backends (installed as clickpy.netmap_shim)."""
