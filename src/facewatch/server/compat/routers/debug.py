"""/debug: which node answered, and the old dataset lock (which Facewatch does not have)."""

from __future__ import annotations

from facewatch.server.compat.auth import AdminAccess
from facewatch.server.compat.routers.common import compat_router
from facewatch.server.compat.schemas import IpOut, NodeNameOut
from facewatch.server.compat.services.node import node_ip, node_name

router = compat_router()


@router.get("/debug/IP", response_model=IpOut)
def get_debug_ip(_: AdminAccess) -> IpOut:
    """The answering node's outward IPv4 address."""
    return IpOut(ip_address=node_ip())


@router.get("/debug/node-name", response_model=NodeNameOut)
def get_debug_node_name(_: AdminAccess) -> NodeNameOut:
    """The answering node's host name."""
    return NodeNameOut(node_name=node_name())


@router.post("/debug/unblock-dataset")
def post_debug_unblock_dataset(_: AdminAccess) -> None:
    """Nothing to unblock: Facewatch never locks the dataset. Kept for old clients."""
