"""ocf:ocfpy:archiver: one EPICS Archiver Appliance, as one combined Tomcat or four.

Each Tomcat (catalina.sh run, in the foreground) is a supervised process in its own ocfpy
pidfile. Health comes from the appliance's management BPL over HTTP with a bounded timeout: a
JVM whose webapp does not answer is a failure, and a start is complete only when mgmt reports
STARTUP_COMPLETE and knows this appliance's identity. Pidfiles, ports, Tomcat bases and storage
folders are per instance, so several appliances ("archivers on demand") share a host.
"""

from ocfpy.agent import Agent
from ocfpy.codes import OCF, OCFError
from ocfpy.numbers import PACEMAKER_MAX_MS, is_dotted_quad
from ocfpy.params import (
    Parameter,
    ParameterError,
    absolute_path,
    command_line,
    environment_assignments,
)
from ocfpy.service import PidfileService, default_pidfile

WEBAPPS = ("mgmt", "engine", "etl", "retrieval")
START_ORDER = WEBAPPS
STOP_ORDER = ("engine", "retrieval", "etl", "mgmt")
COMPLETE = "STARTUP_COMPLETE"
FOLDERS = (("short_term_folder", "sts", "ARCHAPPL_SHORT_TERM_FOLDER"),
           ("medium_term_folder", "mts", "ARCHAPPL_MEDIUM_TERM_FOLDER"),
           ("long_term_folder", "lts", "ARCHAPPL_LONG_TERM_FOLDER"))


def _identity(value):
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(f"must be an appliance identity without spaces, not {value!r}")


def _host(value):
    if not is_dotted_quad(value):
        raise ValueError(f"must be a numeric IPv4 address, not {value!r}")


def _separate_bases(values):
    """Four Tomcats need four CATALINA_BASEs: a given catalina_base must contain {webapp}."""
    if values.layout == "separate" and values.catalina_base and (
            "{webapp}" not in values.catalina_base):
        raise ParameterError("catalina_base", "must contain {webapp} when layout is separate")


def _separate_ports(values):
    """Four Tomcats on one host need four ports."""
    if values.layout != "separate":
        return
    seen = {}
    for app in WEBAPPS:
        port = getattr(values, f"{app}_port")
        if port in seen:
            raise ParameterError(f"{app}_port", f"must differ from {seen[port]} ({port}) when "
                                                "layout is separate")
        seen[port] = f"{app}_port"


def _port(name, default):
    return Parameter(name, "integer", default=str(default), minimum=1, maximum=65535,
                     unique_group=name, shortdesc=f"HTTP port of the {name[:-5]} webapp")


class ArchiverAgent(Agent):
    name = "archiver"
    check_levels = (0, 10, 20)  # the OCF_CHECK_LEVEL depths its monitor tells apart
    shortdesc = "An EPICS Archiver Appliance (mgmt, engine, etl, retrieval)"
    longdesc = (
        "Runs one Archiver Appliance: its four webapps in one combined Tomcat or in four Tomcats "
        "(one CATALINA_BASE each, started mgmt, engine, etl, retrieval and stopped engine, "
        "retrieval, etl, mgmt), with the ARCHAPPL_* settings of the appliance (appliances.xml, "
        "identity, policies, properties, storage folders). Monitor depth 0 checks that every "
        "JVM lives and that mgmt answers startupState (STARTUP_COMPLETE) and getApplianceInfo "
        "for this identity within http_timeout; depth 10 asks every webapp for its "
        "startupState; depth 20 writes a scratch file into each storage folder within "
        "http_timeout, since archiving fails on storage while HTTP looks healthy. Each Tomcat "
        "gets -Darchappl.http.port=<its port> and -Darchappl.webapps=<its webapps> in "
        "CATALINA_OPTS, for a server.xml that takes its port from there."
    )
    timeouts = dict(Agent.timeouts, start=300, stop=120, monitor=30)
    monitor_interval = 30
    rules = (_separate_bases, _separate_ports)
    parameters = (
        Parameter("identity", required=True, check=_identity,
                  shortdesc="This appliance's identity (ARCHAPPL_MYIDENTITY)"),
        Parameter("appliances", required=True, check=absolute_path,
                  shortdesc="The cluster's appliances.xml (ARCHAPPL_APPLIANCES)"),
        Parameter("policies", default="", check=absolute_path,
                  shortdesc="policies.py (ARCHAPPL_POLICIES); empty: the appliance's default"),
        Parameter("properties", default="", check=absolute_path,
                  shortdesc="archappl.properties (ARCHAPPL_PROPERTIES_FILENAME); empty: default"),
        Parameter("layout", "select", default="combined", choices=("combined", "separate"),
                  shortdesc="One Tomcat for all webapps, or one per webapp",
                  longdesc="combined: one Tomcat serves mgmt, engine, etl and retrieval on "
                           "mgmt_port; separate: four Tomcats, each on its webapp's port."),
        Parameter("base_dir", default="", check=absolute_path, unique_group="base_dir",
                  shortdesc="Directory of this appliance instance",
                  longdesc="Holds the default Tomcat base(s) and storage folders; empty for "
                           "/var/lib/ocfpy/archiver/<instance>."),
        Parameter("catalina_home", default="/usr/share/tomcat10", check=absolute_path,
                  shortdesc="Tomcat installation (CATALINA_HOME)"),
        Parameter("catalina_base", default="", check=absolute_path,
                  shortdesc="Tomcat instance directory (CATALINA_BASE)",
                  longdesc="combined: the one CATALINA_BASE; separate: a path containing "
                           "{webapp}, replaced by mgmt, engine, etl and retrieval. Empty: "
                           "<base_dir>/tomcat or <base_dir>/tomcat-{webapp}."),
        Parameter("short_term_folder", default="", check=absolute_path,
                  shortdesc="ARCHAPPL_SHORT_TERM_FOLDER; empty: <base_dir>/sts"),
        Parameter("medium_term_folder", default="", check=absolute_path,
                  shortdesc="ARCHAPPL_MEDIUM_TERM_FOLDER; empty: <base_dir>/mts"),
        Parameter("long_term_folder", default="", check=absolute_path,
                  shortdesc="ARCHAPPL_LONG_TERM_FOLDER; empty: <base_dir>/lts"),
        _port("mgmt_port", 17665),
        _port("engine_port", 17666),
        _port("etl_port", 17667),
        _port("retrieval_port", 17668),
        Parameter("http_host", default="127.0.0.1", check=_host,
                  shortdesc="Address the monitor reaches the webapps on"),
        Parameter("http_timeout", "integer", default="5000", minimum=100,
                  maximum=PACEMAKER_MAX_MS, reloadable=True,
                  shortdesc="Milliseconds an HTTP request to a webapp may take"),
        Parameter("java_opts", default="", shortdesc="JAVA_OPTS of the Tomcats (heap size ...)"),
        Parameter("command", default="", check=command_line,
                  shortdesc="Command that runs one Tomcat in the foreground",
                  longdesc="Empty: <catalina_home>/bin/catalina.sh run. Run without a shell, "
                           "with CATALINA_HOME, CATALINA_BASE, CATALINA_OPTS, JAVA_OPTS and "
                           "the ARCHAPPL_* settings in its environment."),
        Parameter("user", default="", shortdesc="User that runs the Tomcats (empty: root)"),
        Parameter("environment", default="", check=environment_assignments,
                  shortdesc="Extra environment as NAME=VALUE words"),
        Parameter("logfile", default="/dev/null", check=absolute_path,
                  shortdesc="File that receives the Tomcats' stdout and stderr (appended)"),
    )

    def __init__(self, request, log):
        super().__init__(request, log)
        if self.params.layout == "combined":
            self.services = {"mgmt": PidfileService(default_pidfile(self.name, request.instance),
                                                    log)}
        else:
            self.services = {app: PidfileService(default_pidfile(self.name,
                                                                 f"{request.instance}@{app}"), log)
                             for app in WEBAPPS}

    # Where things are.
    def _base_dir(self):
        from ocfpy.service import instance_file_name

        return self.params.base_dir or (
            f"/var/lib/ocfpy/archiver/{instance_file_name(self.request.instance)}")

    def _catalina_base(self, app):
        if self.params.layout == "combined":
            return self.params.catalina_base or f"{self._base_dir()}/tomcat"
        template = self.params.catalina_base or f"{self._base_dir()}/tomcat-{{webapp}}"
        return template.replace("{webapp}", app)

    def _folders(self):
        return [(variable, getattr(self.params, name) or f"{self._base_dir()}/{short}")
                for name, short, variable in FOLDERS]

    def _port_of(self, app):
        if self.params.layout == "combined":
            return self.params.mgmt_port
        return getattr(self.params, f"{app}_port")

    def _webapps_of(self, app):
        return WEBAPPS if self.params.layout == "combined" else (app,)

    def _environment(self, app):
        from ocfpy.service import service_environment

        env = service_environment(self.request.environ, self.params.environment)
        env.update({
            "CATALINA_HOME": self.params.catalina_home,
            "CATALINA_BASE": self._catalina_base(app),
            "CATALINA_OPTS": (f"-Darchappl.http.port={self._port_of(app)} "
                              f"-Darchappl.webapps={','.join(self._webapps_of(app))}"),
            "ARCHAPPL_APPLIANCES": self.params.appliances,
            "ARCHAPPL_MYIDENTITY": self.params.identity,
        })
        if self.params.java_opts:
            env["JAVA_OPTS"] = self.params.java_opts
        if self.params.policies:
            env["ARCHAPPL_POLICIES"] = self.params.policies
        if self.params.properties:
            env["ARCHAPPL_PROPERTIES_FILENAME"] = self.params.properties
        env.update(self._folders())
        return env

    def _argv(self):
        import shlex

        if self.params.command:
            return shlex.split(self.params.command)
        return [f"{self.params.catalina_home}/bin/catalina.sh", "run"]

    # Node-local checks.
    def validate(self):
        import os

        from ocfpy.nodecheck import require_user
        from ocfpy.service import find_executable

        env = self._environment("mgmt")
        executable = self._argv()[0]
        if find_executable(executable, env["PATH"]) is None:
            raise OCFError(OCF.ERR_INSTALLED, f"{executable!r} is not an executable on this node "
                                              "(parameter 'command' or 'catalina_home')")
        for name in ("appliances", "policies", "properties"):
            path = getattr(self.params, name)
            if path and not os.path.isfile(path):
                raise OCFError(OCF.ERR_INSTALLED, f"{name} file {path} does not exist here")
        self._check_appliances_xml()
        for app in self.services:
            if not os.path.isdir(self._catalina_base(app)):
                raise OCFError(OCF.ERR_INSTALLED,
                               f"CATALINA_BASE {self._catalina_base(app)} is not a directory here")
        for variable, folder in self._folders():
            parent = os.path.dirname(folder.rstrip("/")) or "/"
            if os.path.lexists(folder) and not os.path.isdir(folder):
                raise OCFError(OCF.ERR_INSTALLED, f"{variable} {folder} exists and is not a "
                                                  "directory")
            if not os.path.isdir(folder) and not os.path.isdir(parent):
                raise OCFError(OCF.ERR_INSTALLED, f"{variable} {folder} cannot be created: "
                                                  f"{parent} is not a directory")
        require_user(self.params.user)
        for service in self.services.values():
            service.check_usable()

    def _check_appliances_xml(self):
        """This identity is in appliances.xml and its mgmt_url names our mgmt port."""
        import xml.etree.ElementTree as ET
        from urllib.parse import urlsplit

        path = self.params.appliances
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            raise OCFError(OCF.ERR_INSTALLED, f"appliances file {path} cannot be read: {exc}") from None
        for appliance in root.iter("appliance"):
            if (appliance.findtext("identity") or "").strip() != self.params.identity:
                continue
            mgmt_url = (appliance.findtext("mgmt_url") or "").strip()
            try:
                port = urlsplit(mgmt_url).port
            except ValueError:
                port = None
            if port != self.params.mgmt_port:
                raise OCFError(OCF.ERR_INSTALLED, f"{path}: appliance {self.params.identity} has "
                                                  f"mgmt_url {mgmt_url!r}, not on mgmt_port "
                                                  f"{self.params.mgmt_port}")
            return
        raise OCFError(OCF.ERR_INSTALLED,
                       f"{path} has no appliance with identity {self.params.identity!r}")

    # Life cycle.
    def start(self):
        import os

        for variable, folder in self._folders():
            if not os.path.isdir(folder):
                self._create_folder(variable, folder)
        started = []
        try:
            for app in START_ORDER:
                service = self.services.get(app)
                if service is None or service.leader() is not None:
                    continue
                service.launch(self, self._argv(), settle=0.5, cwd=self._catalina_base(app),
                               user=self.params.user, env=self._environment(app),
                               logfile=self.params.logfile)
                started.append(service)
        except OCFError:
            for service in reversed(started):
                service.terminate(self)
            raise

    def _create_folder(self, variable, folder):
        """Make a missing storage folder (and its parents) walking from / through directory
        descriptors: no symlink that somebody planted on the way is followed, and the folder
        is given to `user` through its own descriptor, so a swap cannot redirect the chown."""
        from ocfpy import safefile
        from ocfpy.nodecheck import user_ids

        owner = user_ids(self.params.user)
        try:
            created = safefile.make_directory(
                folder, 0o750, trusted=safefile.trusted_uids((self.params.user,)), owner=owner)
        except OSError as exc:
            raise OCFError(OCF.ERR_GENERIC, f"{variable} {folder} cannot be created: "
                                            f"{exc}") from None
        for path in created:
            self.log.info(f"created {variable} {path}" if path == folder else
                          f"created {path} for {variable}")

    def start_failure_hint(self):
        return f" (log: {self.params.logfile})"

    def stop(self):
        for app in STOP_ORDER:
            service = self.services.get(app)
            if service is not None:
                service.terminate(self)

    def monitor(self):
        running = {app: service.leader() is not None for app, service in self.services.items()}
        if not any(running.values()):
            return OCF.NOT_RUNNING
        dead = [app for app, alive in running.items() if not alive]
        if dead:
            if self.request.action == "start":
                # A JVM died while starting: the start fails at once (NOT_RUNNING), and the
                # start path stops the others. A monitor only observes.
                self.log.warning(f"the Tomcat of {', '.join(dead)} died during start")
                return OCF.NOT_RUNNING
            raise OCFError(OCF.ERR_GENERIC, f"the Tomcat of {', '.join(dead)} is not running "
                                            f"while {', '.join(a for a in running if running[a])} is")
        self._check_startup("mgmt")
        info = self._get_json("mgmt", f"getApplianceInfo?id={_quote(self.params.identity)}",
                              unknown_ok=True)
        if not isinstance(info, dict) or info.get("identity") != self.params.identity:
            raise OCFError(OCF.ERR_GENERIC, f"mgmt on port {self._port_of('mgmt')} does not know "
                                            f"appliance {self.params.identity} (another appliance "
                                            "on this port?)")
        if self.request.check_level >= 10 or self.request.action == "start":
            for app in WEBAPPS[1:]:
                self._check_startup(app)
        if self.request.check_level >= 20:
            from ocfpy.agents.fsprobe import probe

            problem = probe([("write", folder) for _, folder in self._folders()],
                            min(self.params.http_timeout / 1000.0, max(0.1, self.remaining())))
            if problem:
                raise OCFError(OCF.ERR_GENERIC, f"storage: {problem}")
        return OCF.SUCCESS

    def _check_startup(self, app):
        state = self._get_json(app, "startupState")
        status = state.get("status") if isinstance(state, dict) else None
        if status != COMPLETE:
            raise OCFError(OCF.ERR_GENERIC, f"{app} of appliance {self.params.identity} has not "
                                            f"completed start-up (startupState {status})")

    def _get_json(self, app, call, unknown_ok=False):
        """GET /<app>/bpl/<call> within http_timeout: the decoded JSON, None for a 404 when
        unknown_ok, else OCFError(ERR_GENERIC) saying what went wrong."""
        from ocfpy import httpget

        port = self._port_of(app)
        timeout = min(self.params.http_timeout / 1000.0, max(0.1, self.remaining() / 3))
        where = f"{app} webapp at {self.params.http_host}:{port}"
        try:
            status, body = httpget.get(self.params.http_host, port, f"/{app}/bpl/{call}",
                                       timeout)
        except httpget.HTTPTimeout:
            raise OCFError(OCF.ERR_GENERIC, f"{where} did not answer within {timeout:.1f}s") \
                from None
        except httpget.HTTPFailure as exc:
            raise OCFError(OCF.ERR_GENERIC, f"{where} {exc}") from None
        if status == 404 and unknown_ok:
            return None
        if status != 200:
            raise OCFError(OCF.ERR_GENERIC, f"{where} answered {call} with HTTP {status}")
        try:
            return httpget.parse_json(body)
        except (ValueError, UnicodeDecodeError):
            raise OCFError(OCF.ERR_GENERIC, f"{where} answered {call} with non-JSON") from None

    def reload_agent(self):
        # Every reloadable parameter is read afresh by each operation: nothing to apply.
        return OCF.SUCCESS


def _quote(text):
    from ocfpy.httpget import quote

    return quote(text)


def main():
    import sys

    sys.exit(ArchiverAgent.main())


if __name__ == "__main__":
    main()
