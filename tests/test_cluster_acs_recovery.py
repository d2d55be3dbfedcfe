"""ACS services and containers heal themselves on the real single-node test cluster, whatever the
ratio of their monitor intervals, against the STAND-IN ACS installation (tests/acs_standin:
acsStart & co. starting the real omniNames and a GIOP Manager responder).

The configuration mirrors examples/acs-alma.toml: containers ordered after and colocated with
the services, migration-threshold 3, failure-timeout 10min. Killing the naming service, the
Manager, or every services process must end with the services and then the containers running
again (containers under new pids) with no crm_resource --cleanup; the time it took is recorded
(record_property "recovery_s"), never asserted.
"""

import os
import time

import pytest

STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "acs_standin")
INSTANCE = 21
CONTAINERS = ("ctl", "cpp")
META = {"migration-threshold": "3", "failure-timeout": "10min"}

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(400)]


class Chain:
    """One ACS instance (services + containers) as Pacemaker resources on cluster1."""

    def __init__(self, cluster, tmp_path, tag, services_interval, containers_interval):
        self.cluster = cluster
        self.tag = tag
        self.services = f"{tag}-svc"
        self.containers = [f"{tag}-{name}" for name in CONTAINERS]
        self.acs_tmp = tmp_path / "acstmp"
        self.acs_tmp.mkdir()
        self.common = {"acsroot": STANDIN, "acs_tmp": str(self.acs_tmp),
                       "instance": str(INSTANCE), "check_timeout": "1000"}
        self.tmp = tmp_path
        self.intervals = (services_interval, containers_interval)

    @property
    def pids_dir(self):
        return self.acs_tmp / f"ACS_INSTANCE.{INSTANCE}" / "pids"

    def service_pid(self, name):
        return int((self.pids_dir / name).read_text().split()[0])

    def container_pidfile(self, rid):
        return f"/run/ocfpy/acs-container/{rid}.pid"

    def container_pids(self):
        return {rid: self.cluster.pidfile_pid("node1", self.container_pidfile(rid))
                for rid in self.containers}

    def _ops(self, interval):
        return [{"name": "monitor", "interval": f"{interval}s", "timeout": "30s"},
                {"name": "start", "timeout": "60s"}, {"name": "stop", "timeout": "60s"}]

    def create(self):
        c = self.cluster
        services, containers = self.intervals
        c.create_resource(id=self.services, agent="ocf:ocfpy:acs-services", meta=META,
                          params=dict(self.common, logfile=str(self.tmp / "services.log")),
                          ops=self._ops(services), timeout=90)
        # The containers are created stopped: constraints may only name existing resources,
        # and the containers must never start before the constraints order them.
        for rid, name in zip(self.containers, CONTAINERS):
            c.create_resource(id=rid, agent="ocf:ocfpy:acs-container",
                              meta=dict(META, **{"target-role": "Stopped"}), wait=False,
                              params=dict(self.common, container=f"CONTROL/{name}Container",
                                          logfile=str(self.tmp / f"{name}.log")),
                              ops=self._ops(containers))
        constraints = [
            f'<rsc_order id="{self.tag}-order" kind="Mandatory">'
            f'<resource_set id="{self.tag}-order-1"><resource_ref id="{self.services}"/>'
            f'</resource_set><resource_set id="{self.tag}-order-2" sequential="false">'
            + "".join(f'<resource_ref id="{rid}"/>' for rid in self.containers)
            + "</resource_set></rsc_order>",
            f'<rsc_colocation id="{self.tag}-with" score="INFINITY">'
            f'<resource_set id="{self.tag}-with-1" sequential="false">'
            + "".join(f'<resource_ref id="{rid}"/>' for rid in self.containers)
            + f'</resource_set><resource_set id="{self.tag}-with-2">'
            f'<resource_ref id="{self.services}"/></resource_set></rsc_colocation>',
        ]
        for xml in constraints:
            c.run("node1", ["cibadmin", "--create", "--scope", "constraints", "--xml-text", xml])
        for rid in self.containers:
            c.run("node1", ["crm_resource", "--resource", rid, "--meta", "--delete-parameter",
                            "target-role"])
        c.wait_until(lambda: all(c.where(rid) == ["node1"] for rid in self.containers), 90,
                     "the containers to start")

    def running(self, old_containers, old_naming):
        """New container pids once the services and every container run again, else None."""
        status = self.cluster.status()
        if any(status.where(rid) != ["node1"] for rid in [self.services, *self.containers]):
            return None
        try:
            if self.service_pid("NAMING_SERVICE_PID") == old_naming:
                return None
        except (OSError, ValueError, IndexError):
            return None
        pids = self.container_pids()
        if any(pids[rid] == old_containers[rid] for rid in self.containers):
            return None
        return pids

    def blocked(self):
        """Resources of ours whose fail count on node1 is INFINITY: Pacemaker gave up on them
        there, and only a manual cleanup (or failure-timeout) brings them back."""
        import xml.etree.ElementTree as ET

        done = self.cluster.run("node1", ["crm_mon", "-1", "--include=failcounts",
                                          "--output-as=xml"], check=False)
        try:
            root = ET.fromstring(done.stdout)
        except ET.ParseError:
            return []
        ours = {self.services, *self.containers}
        return sorted(row.get("id") for row in root.iter("resource_history")
                      if row.get("id") in ours
                      and int(row.get("fail-count", "0") or 0) >= 1000000)

    def delete(self):
        c = self.cluster
        for rid in [*self.containers, self.services]:
            try:
                c.delete_resource(rid, timeout=90)
            except Exception as exc:  # keep removing the rest; report at the end
                print(f"cleanup of {rid}: {exc}")
        for suffix in ("order", "with"):
            c.run("node1", ["cibadmin", "--delete", "--scope", "constraints", "--xpath",
                            f"//*[@id='{self.tag}-{suffix}']"], check=False)


VICTIMS = {
    "naming": ("NAMING_SERVICE_PID",),
    "manager": ("MANAGER_PID",),
    "all-services": ("NAMING_SERVICE_PID", "MANAGER_PID"),
}


@pytest.mark.parametrize("intervals", [(15, 10), (10, 15)], ids=["example-15s-10s", "swapped"])
@pytest.mark.parametrize("victim", list(VICTIMS))
def test_services_then_containers_recover_without_cleanup(cluster1, tmp_path, record_property,
                                                          victim, intervals):
    tag = f"acsr{os.getpid() % 10000}-{victim[:3]}{intervals[0]}"
    chain = Chain(cluster1, tmp_path, tag, *intervals)
    try:
        chain.create()
        before = chain.container_pids()
        naming = chain.service_pid("NAMING_SERVICE_PID")
        killed_at = time.monotonic()
        for name in VICTIMS[victim]:
            cluster1.signal("node1", chain.service_pid(name), "KILL")

        def recovered():
            banned = chain.blocked()
            if banned:
                pytest.fail(f"Pacemaker gave up on {banned} (fail count INFINITY): recovery "
                            f"needs a manual cleanup\n{cluster1.crm_mon()}")
            return chain.running(before, naming)

        after = cluster1.wait_until(recovered, 150, "services and containers running again")
        took = time.monotonic() - killed_at
        record_property("recovery_s", round(took, 1))
        print(f"\n{victim} killed, monitors services {intervals[0]}s / containers "
              f"{intervals[1]}s: everything running again after {took:.1f}s")
        assert set(after) == set(chain.containers)
        # The containers were restarted after the services: registered in the new naming service.
        for name in CONTAINERS:
            done = cluster1.run("node1", ["nameclt", "-ORBInitRef",
                                          f"NameService=corbaloc::127.0.0.1:{3000 + 100 * INSTANCE + 1}"
                                          "/NameService", "resolve",
                                          f"CONTROL/{name}Container"], check=False)
            assert done.returncode == 0 and "IOR:" in done.stdout, done
    finally:
        chain.delete()
