"""How large a configuration may grow: one place for every front-end bound.

A configuration can come from an attacker (a ControlSocket ``hotconfig``
write, a switch building guests from tenants' configs), so every stage of
the front end is bounded: a limit passed is a located error, never a hang,
a traceback or a gigabyte allocated. The bounds are far above any real
router (Click's largest sample configurations have a few hundred elements)
and low enough that the worst input a bound admits is still checked in
seconds.
"""

# Port numbers run from 0 to MAX_PORT. Ports are counted per element, so a
# port number sizes the element's port arrays; 65,535 outputs is more than
# any classifier or switch needs.
MAX_PORT = 65535

# Nesting of element groups and compound elements in the source (Click's
# own parser stops at 50 too), and of compound classes inside compound
# classes when they are expanded.
MAX_NESTING = 50
MAX_EXPANSION_DEPTH = 100

# Totals after elaboration: elements, connections, ports summed over every
# element, and characters of configuration strings. Compound elements can
# multiply a short text exponentially; these stop the multiplication.
MAX_ELEMENTS = 100_000
MAX_CONNECTIONS = 1_000_000
MAX_PORTS = 1_000_000
MAX_CONFIG_CHARS = 16 * 1024 * 1024

# One configuration string after parameter expansion.
MAX_EXPANDED_STRING = 4 * 1024 * 1024
