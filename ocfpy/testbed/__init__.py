"""Real Corosync + Pacemaker clusters on one machine for the tests, the demo and the benchmarks.

    from ocfpy.testbed import Cluster
    with Cluster(nodes=3) as cluster:
        print(cluster.crm_mon())

See ocfpy/testbed/cluster.py. Needs root and the Debian packages in dev/debian-packages.
"""

from .cluster import Cluster, CommandError, TestbedError

__all__ = ["Cluster", "CommandError", "TestbedError"]
