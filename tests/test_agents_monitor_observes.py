"""Monitors observe and never act; a failed start cleans up in the start path.

A static check follows every call an agent's monitor can make (its own methods, the helpers it
holds, module functions) and fails if any of them stops, kills or removes something. Then two
real starts that time out (an IOC under procServ whose heartbeat PV never answers, an archiver
whose start-up never completes) must leave nothing behind: no process, no pidfile.
"""

import ast
import importlib
import inspect
import os
import textwrap
import types

import pytest
from test_epics_archiver import appliance  # noqa: F401  (fixture)
from test_epics_ioc import ioc  # noqa: F401  (fixture)

from ocfpy import catalogue
from ocfpy.agent import Agent
from ocfpy.service import PidfileService

# Functions that stop, kill or delete: a monitor must reach none of them.
ACTING_NAMES = frozenset(("stop", "terminate", "_abandon", "stop_all", "remove", "_signal_all",
                          "_remove_heartbeat", "kill", "killpg", "unlink", "rmdir", "rmtree",
                          "send_signal", "_clean_up_failed_start"))
# Functions that kill or delete only what the monitor itself made: the child that probes a file
# system (and its scratch file), the depth-20 boot-directory probe of an IOC (its one probe
# process and that probe's state files), the attrd_updater that reports node health, the
# health-check command and its session, the record of the last health assertion. Not walked
# into.
OWN_PROBES = frozenset(("ocfpy.agents.fsprobe.probe", "ocfpy.agents.bootwatch.BootWatch.check",
                        "ocfpy.agents.bootwatch.BootWatch.report",
                        "ocfpy.agents.bootwatch.set_health", "ocfpy.command.run"))
# Receivers whose type the walk cannot see (a loop variable, a dict value) are looked up here.
HELPER_CLASSES = ("ocfpy.service.PidfileService", "ocfpy.agents.ducc_head.StateFile",
                  "ocfpy.agents.ducc_env.DuccEnvironment", "ocfpy.agents.acs_env.AcsEnvironment",
                  "ocfpy.identity.Identity")


def _ours(obj):
    module = getattr(obj, "__module__", "") or ""
    return module.startswith(("ocfpy", "agents")) and not module.startswith("ocfpy.testbed")


def _helper_classes():
    classes = []
    for dotted in HELPER_CLASSES:
        module, _, name = dotted.rpartition(".")
        classes.append(getattr(importlib.import_module(module), name))
    return classes


class CallWalk:
    """Every project function reachable from one method, class-aware for self.<method>,
    self.<attribute>.<method> (the attribute's class read from __init__) and module calls."""

    def __init__(self, cls):
        self.cls = cls
        self.attribute_types = self._attribute_types(cls)
        self.helpers = _helper_classes()
        self.reached = {}

    def _attribute_types(self, cls):
        types_ = {}
        for klass in reversed(cls.__mro__):
            init = klass.__dict__.get("__init__")
            if not isinstance(init, types.FunctionType) or not (
                    _ours(init) or init.__module__ == cls.__module__):
                continue
            for node in ast.walk(_tree(init)):
                if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                        and isinstance(node.value.func, ast.Name)):
                    found = init.__globals__.get(node.value.func.id)
                    for target in node.targets:
                        if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                and target.value.id == "self" and inspect.isclass(found)):
                            types_[target.attr] = found
        return types_

    def walk(self, function, owner):
        key = f"{function.__module__}.{function.__qualname__}"
        if key in self.reached or not (_ours(function) or function.__module__ == self.cls.__module__):
            return
        self.reached[key] = function
        if key in OWN_PROBES:
            return
        tree = _tree(function)
        local = _local_imports(tree)
        local.update(self._local_types(tree, function, local))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for callee, callee_owner in self._resolve(node.func, function, owner, local):
                    self.walk(callee, callee_owner)

    def _local_types(self, tree, function, local):
        """Local names assigned an instance of a class: name -> _Instance(class)."""
        found = {}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                    and isinstance(node.value.func, ast.Name)):
                klass = local.get(node.value.func.id, function.__globals__.get(node.value.func.id))
                for target in node.targets:
                    if isinstance(target, ast.Name) and inspect.isclass(klass):
                        found[target.id] = _Instance(klass)
        return found

    def _resolve(self, func, function, owner, local):
        if isinstance(func, ast.Name):
            target = local.get(func.id, function.__globals__.get(func.id))
            if isinstance(target, types.FunctionType):
                yield target, None
            elif inspect.isclass(target) and _ours(target):
                init = target.__dict__.get("__init__")
                if isinstance(init, types.FunctionType):
                    yield init, target
            return
        if not isinstance(func, ast.Attribute):
            return
        receiver = func.value
        if isinstance(receiver, ast.Name) and receiver.id == "self" and owner is not None:
            yield from _method(owner, func.attr)
        elif (isinstance(receiver, ast.Attribute) and isinstance(receiver.value, ast.Name)
              and receiver.value.id == "self" and owner is self.cls
              and receiver.attr in self.attribute_types):
            klass = self.attribute_types[receiver.attr]
            yield from ((m, klass) for m, _ in _method(klass, func.attr))
        elif isinstance(receiver, ast.Name) and isinstance(local.get(receiver.id), _Instance):
            klass = local[receiver.id].cls
            yield from ((m, klass) for m, _ in _method(klass, func.attr))
        elif isinstance(receiver, ast.Name) and isinstance(
                local.get(receiver.id, function.__globals__.get(receiver.id)), types.ModuleType):
            module = local.get(receiver.id, function.__globals__.get(receiver.id))
            target = getattr(module, func.attr, None)
            if isinstance(target, types.FunctionType):
                yield target, None
        else:  # an object of a type the walk cannot see: any helper class's method of that name
            for klass in self.helpers:
                yield from ((m, klass) for m, _ in _method(klass, func.attr))


class _Instance:
    def __init__(self, cls):
        self.cls = cls


def _method(cls, name):
    found = inspect.getattr_static(cls, name, None)
    if isinstance(found, (staticmethod, classmethod)):
        found = found.__func__
    if isinstance(found, types.FunctionType):
        yield found, cls


def _tree(function):
    return ast.parse(textwrap.dedent(inspect.getsource(function)))


def _local_imports(tree):
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if value is None:
                    try:
                        value = importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        continue
                names[alias.asname or alias.name] = value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                try:
                    names[alias.asname or alias.name.split(".")[0]] = importlib.import_module(
                        alias.name)
                except ImportError:
                    pass
    return names


def acting_calls(cls):
    """(function reached from cls.monitor, what it does) for everything that acts."""
    walk = CallWalk(cls)
    walk.walk(cls.monitor, cls)
    found = []
    for key, function in walk.reached.items():
        if key in OWN_PROBES:
            continue
        if function.__name__ in ACTING_NAMES:
            found.append((key, "is itself an acting function"))
        for node in ast.walk(_tree(function)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ACTING_NAMES):
                found.append((key, f"calls .{node.func.attr}()"))
    return found, walk.reached


@pytest.mark.parametrize("name", catalogue.names())
def test_no_monitor_stops_kills_or_removes_anything(name):
    cls = catalogue.load(name)
    found, reached = acting_calls(cls)
    assert len(reached) > 1, reached          # the walk did follow the monitor's calls
    assert found == [], found


def test_the_walk_sees_a_monitor_that_acts():
    """The check above can fail: a monitor that stops its service through a helper is caught."""

    class Acting(Agent):
        name = "acting"

        def __init__(self, request, log):
            super().__init__(request, log)
            self.service = PidfileService("/nonexistent/p.pid", log)

        def start(self):
            pass

        def stop(self):
            pass

        def monitor(self):
            return self._look()

        def _look(self):
            if self.service.leader() is None:
                self.service.terminate(self)
            return 0

    found, reached = acting_calls(Acting)
    assert any("PidfileService.leader" in key for key in reached)
    assert any("terminate" in what or "terminate" in key for key, what in found), found


def processes_mentioning(word):
    """Live pids whose command line or environment mentions `word`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                seen = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                seen += f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if word.encode() in seen and state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def test_an_ioc_start_that_times_out_leaves_nothing_behind(ioc):  # noqa: F811
    resource = ioc(heartbeat_pv="NO:SUCH:HEARTBEAT")  # the IOC runs but never serves this PV
    outcome = resource.run("start", timeout_ms=8000)
    assert outcome.rc == 1 and outcome.reason.startswith("start timed out: "), outcome
    assert "NO:SUCH:HEARTBEAT" in outcome.reason
    assert "stopping whatever it started" in resource.agent_log()
    # Right after the failed start, before any stop: procServ, the IOC and their files are gone.
    assert processes_mentioning(str(resource.boot)) == []
    assert resource.procserv() is None and resource.child() is None
    assert not os.path.exists(resource.params["pidfile"] + ".heartbeat")


def test_an_archiver_start_that_times_out_leaves_nothing_behind(appliance):  # noqa: F811
    resource = appliance(layout="separate")
    resource.fault.write_text("stuck")               # start-up never completes
    outcome = resource.run("start", timeout_ms=8000)
    assert outcome.rc == 1 and outcome.reason.startswith("start timed out: "), outcome
    assert processes_mentioning(f"ARCHAPPL_MYIDENTITY={resource.identity}\0") == []
    assert resource.jvms() == {}
    assert not any(os.path.exists(path) for path in resource.pidfiles().values())
