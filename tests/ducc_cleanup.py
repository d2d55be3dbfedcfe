"""The end of a DUCC cluster test, whatever happened in it: the node it killed back on, its
resources deleted, and as a safety net the stand-in daemons of its DUCC_HOME killed by pid on
every node. Failures are printed and cleaning goes on, so one leftover never hides another."""

from ocfrun import PYTHON

from ocfpy.testbed import cluster as testbed


def clean_up(cluster, killed, resources, home):
    """Restart node `killed` (None: no node was killed), delete `resources`, sweep `home`."""
    on = None
    if killed is not None:
        on = [node for node in cluster.nodes if node != killed][0]
        try:
            cluster.restart_node(killed)
        except Exception as exc:  # keep cleaning up; report after
            print(f"restart of {killed} failed: {exc}")
    for resource in resources:
        try:
            cluster.delete_resource(resource, timeout=90, on=on)
        except Exception as exc:
            print(f"cleanup of {resource}: {exc}")
    sweep = ("import os; from ocfpy.agents import procscan; "
             f"[os.kill(i.pid, 9) for i, _ in procscan.with_arguments("
             f"lambda argv: '-DDUCC_HOME={home}' in argv)]")
    for node in cluster.nodes:
        try:
            cluster.run(node, [PYTHON, "-c", sweep], check=False)
        except testbed.TestbedError:
            pass  # that node is down: its processes went with it
