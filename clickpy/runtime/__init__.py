"""The data path: packets, elements, scheduling, handlers, the router."""
