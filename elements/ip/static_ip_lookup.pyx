# cython: language_level=3
"""StaticIPLookup: LinearIPLookup whose routes are fixed once the router runs."""
from clickpy.elements.ip.linear_ip_lookup cimport LinearIPLookup

from clickpy.elements.ip.ip_route_table import LOOKUP_HANDLER, TABLE_HANDLER


cdef class StaticIPLookup(LinearIPLookup):
    """=c
    StaticIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)

    =s iproute
    simple static IP routing table

    =d
    Routes packets as LinearIPLookup does (longest prefix match on the
    destination IP annotation, gateway into the annotation, packet to the
    route's output), but its routes are only those of its configuration:
    there are no handlers to add or remove routes.

    =h table read-only: the routes, one a line
    =h lookup read with parameter ADDR: 'OUT GW' (or 'OUT') for ADDR; -1 if none
    """
    port_count = "1/-"
    processing = "h"
    handlers = (TABLE_HANDLER, LOOKUP_HANDLER)

    def add_route(self, route, bint set, errh):
        if self.router is not None and self.router.initialized:
            return errh.error("can't add routes dynamically"), None
        return LinearIPLookup.add_route(self, route, set, errh)

    def remove_route(self, route, errh):
        if self.router is not None and self.router.initialized:
            return errh.error("can't remove routes dynamically"), None
        return LinearIPLookup.remove_route(self, route, errh)
