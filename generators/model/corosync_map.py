"""The cluster model's corosync settings as ocfpy.generators.render.corosync's input.

The node ids, names and ring addresses come from the same model the CIB is rendered from, so
corosync.conf and the CIB can never name different nodes. Each piece keeps its `origin`
(file:line and key path), so corosync's own validation errors point into the description.
"""

from .corosync import DEFAULT_LOGFILE, CorosyncCluster, CorosyncNode


def corosync_cluster(cluster):
    """A corosync.CorosyncCluster for a model.Cluster."""
    settings = cluster.corosync
    return CorosyncCluster(
        name=cluster.name,
        nodes=[CorosyncNode(node.id, node.name, tuple(node.addresses), node.origin)
               for node in cluster.nodes],
        crypto=settings.crypto,
        cipher=settings.cipher,
        hash=settings.hash,
        token=settings.token,
        token_coefficient=settings.token_coefficient,
        consensus=settings.consensus,
        two_node=settings.two_node,
        wait_for_all=settings.wait_for_all,
        link_priorities=tuple(settings.link_priorities),
        qdevice=settings.qdevice,
        keyfile=settings.keyfile,
        logfile=settings.logfile or DEFAULT_LOGFILE,
        debug=settings.debug,
        origin=settings.origin,
    )
