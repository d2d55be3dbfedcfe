"""Resources the demo, the drill tests and the benchmarks run on test clusters.

Each function returns keyword arguments for Cluster.create_resource.
"""

DAEMON = "ocf:ocfpy:daemon"


def sleeper(id, monitor="2s"):
    """The daemon agent supervising `sleep`: dies only when killed."""
    return {"id": id, "agent": DAEMON, "params": {"command": "sleep 100000"}, "monitor": monitor}


def web(id, port=5480, monitor="2s", deep_monitor="3s", deep_timeout="5s"):
    """A small HTTP service under the daemon agent, with a health check that makes a hang visible.

    A SIGSTOPped server still exists, so the depth-0 monitor (is the recorded process alive?)
    keeps reporting it running. The depth-10 monitor (op attribute OCF_CHECK_LEVEL=10) runs
    monitor_command, an HTTP request with a 1 s timeout, which a stopped server never answers.
    kill_after=1: the stop that follows sends SIGTERM, which a stopped process leaves pending,
    then SIGKILL after one second instead of half the stop timeout. The port is on the node's
    own loopback (each node has its own network namespace).
    """
    url = f"http://127.0.0.1:{port}/"
    return {
        "id": id,
        "agent": DAEMON,
        "params": {
            "command": f"/usr/bin/python3 -I -m http.server {port} --bind 127.0.0.1 "
                       f"--directory /usr/share/common-licenses",
            "monitor_command": f"/usr/bin/python3 -I -c \"import urllib.request as r; "
                               f"r.urlopen('{url}', timeout=1)\"",
            "kill_after": "1",
        },
        "monitor": monitor,
        "ops": [{"name": "monitor", "interval": deep_monitor, "timeout": deep_timeout,
                 "OCF_CHECK_LEVEL": "10"}],
    }


def epics_ioc(id, boot_root, ioc_name="DEMO", ca_port=5464, console_port=None, monitor="2s",
              deep_monitor="3s"):
    """An EPICS soft IOC (ocfpy/testbed/demo_ioc.py) under procServ with the epics-ioc agent.

    Writes iocBoot/ioc<ioc_name>/st.cmd under `boot_root` (a directory every node sees, like
    an NFS-mounted IOC tree). Monitor depth 10 reads <ioc_name>:HEARTBEAT over Channel Access
    within 1 s, which is what notices a hung IOC. Channel Access uses ports of the node's own
    loopback; the procServ console is the agent's own unix socket, or 127.0.0.1:console_port.
    """
    import os
    import sys

    boot = os.path.join(boot_root, "iocBoot", f"ioc{ioc_name}")
    os.makedirs(boot, exist_ok=True)
    with open(os.path.join(boot, "st.cmd"), "w") as f:
        f.write(f'epicsEnvSet("IOCNAME", "{ioc_name}")\n')
    ioc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_ioc.py")
    env = {"EPICS_CA_SERVER_PORT": ca_port, "EPICS_CA_REPEATER_PORT": ca_port + 1,
           "EPICS_CA_ADDR_LIST": "127.0.0.1", "EPICS_CA_AUTO_ADDR_LIST": "NO",
           "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1"}
    return {
        "id": id,
        "agent": "ocf:ocfpy:epics-ioc",
        "params": {
            "ioc_name": ioc_name,
            "boot_dir": boot,
            "ioc_command": f"{sys.executable} {ioc}",
            "logfile": os.path.join(boot_root, f"{id}-console.log"),
            "heartbeat_pv": f"{ioc_name}:HEARTBEAT",
            "stop_command": "exit()",
            "shutdown_timeout": "2",
            "ca_timeout": "1000",
            "environment": " ".join(f"{k}={v}" for k, v in env.items()),
            **({"console": str(console_port)} if console_port else {}),
        },
        "monitor": monitor,
        "ops": [{"name": "monitor", "interval": deep_monitor, "timeout": "5s",
                 "OCF_CHECK_LEVEL": "10"},
                {"name": "start", "interval": "0s", "timeout": "40s"}],
    }
