"""What the old debug routes told about the node (the replica) answering."""

from __future__ import annotations

import socket

# Not routable and never reached: connecting a UDP socket sends nothing, it only picks the
# interface (and so the address) that would carry traffic out of this node.
_PROBE = ("10.255.255.255", 1)
LOOPBACK = "127.0.0.1"


def node_ip() -> str:
    """The node's outward IPv4 address, or 127.0.0.1 if it has no route out."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_PROBE)
        except OSError:
            return LOOPBACK
        address: str = probe.getsockname()[0]
        return address


def node_name() -> str:
    """The node's host name (a Kubernetes pod's name)."""
    return socket.gethostname()
