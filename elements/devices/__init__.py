"""Device elements: FromDevice, ToDevice (network interfaces through AF_XDP or
AF_PACKET), FromHost and ToHost (the host stack through a tap device)."""
