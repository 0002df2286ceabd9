"""User-level elements: control sockets and host interaction."""
