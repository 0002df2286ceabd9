"""Control of running routers: building replacements, and (to come) RPC."""
