"""ocfgen's layout holds: generators/ is a pipeline of stage folders, each importing only from
the stages before it, and only cli/ talks to the terminal.

The order is the real import order (who needs whose names), not the order data flows in: the
loader builds model objects, so model/ comes before load/; the validators check rendered CIBs,
so render/ comes before verify/. errors.py (exit codes, CommandFailed) is shared by all.
"""

import ast
import os

from ocfrun import REPO

GENERATORS = os.path.join(REPO, "generators")
STAGES = ("model", "load", "render", "verify", "live", "cli")
SHARED = {"errors"}

# Imports that still go backwards: (importing module, imported module). Each is a known debt
# (issue 17 item 6), not a pattern to copy: a new backward import fails the test, and so does
# an entry here once it is gone (delete it).
BACKWARD = {
    # Loading runs the description's cross-checks (every error of a description in one run).
    ("load/description", "verify/crosschecks"),
}


def modules():
    """{"stage/name": path} of every module of a stage folder."""
    found = {}
    for stage in STAGES:
        for name in sorted(os.listdir(os.path.join(GENERATORS, stage))):
            if name.endswith(".py"):
                found[f"{stage}/{name[:-3]}"] = os.path.join(GENERATORS, stage, name)
    return found


def tree(path):
    with open(path) as f:
        return ast.parse(f.read(), path)


def imported(module, path):
    """The generators modules `module` imports anywhere in it (module level or in a function),
    as "stage/name", "stage" (the package itself) or a shared module's name."""
    stage = module.split("/")[0]
    targets = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = [stage] if node.level == 1 else []
                if node.level > 2:
                    raise AssertionError(f"{module}: import from above generators/")
            elif (node.module or "").startswith("ocfpy.generators"):
                base = []
                node = ast.ImportFrom(node.module[len("ocfpy.generators"):].lstrip("."),
                                      node.names, 2)
            else:
                continue
            parts = base + (node.module.split(".") if node.module else [])
            if len(parts) >= 2:
                targets.add("/".join(parts[:2]))
            else:   # from . import a, b / from ..stage import a, b: each a module of it
                targets.update("/".join(parts + [alias.name]) for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ocfpy.generators."):
                    targets.add("/".join(alias.name.split(".")[2:4]))
    return {t if t.split("/")[0] in STAGES else t.split("/")[0] for t in targets}


def test_every_module_is_in_a_stage_folder_with_a_docstring():
    loose = sorted(n for n in os.listdir(GENERATORS)
                   if n.endswith(".py") and n[:-3] not in SHARED | {"__init__"})
    assert not loose, f"modules outside a stage folder: {loose}"
    for stage in STAGES:
        init = os.path.join(GENERATORS, stage, "__init__.py")
        assert ast.get_docstring(tree(init)), f"{stage}/__init__.py says nothing of the stage"


def test_only_the_cli_imports_click_or_prints():
    offenders = []
    for module, path in modules().items():
        if module.startswith("cli/"):
            continue
        for node in ast.walk(tree(path)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            if any(n == "click" or n.startswith("click.") for n in names):
                offenders.append(f"{module}:{node.lineno}: imports click")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "print":
                offenders.append(f"{module}:{node.lineno}: calls print()")
    for name in SHARED:
        if "click" in open(os.path.join(GENERATORS, f"{name}.py")).read():
            offenders.append(f"{name}: names click")
    assert not offenders, "\n".join(offenders)


def test_each_stage_imports_only_from_earlier_stages():
    rank = {stage: i for i, stage in enumerate(STAGES)}
    found = modules()
    backward, unknown = set(), []
    for module, path in found.items():
        for target in imported(module, path):
            if target in SHARED:
                continue
            if target.split("/")[0] not in rank or ("/" in target and target not in found
                                                    and not target.endswith("/__init__")):
                unknown.append(f"{module} imports {target}, which is not a generators module")
            elif rank[target.split("/")[0]] > rank[module.split("/")[0]]:
                backward.add((module, target))
    assert not unknown, "\n".join(unknown)
    new = sorted(backward - BACKWARD)
    assert not new, "imports from a later stage (order: " + " -> ".join(STAGES) + "):\n" + \
        "\n".join(f"{a} imports {b}" for a, b in new)
    gone = sorted(BACKWARD - backward)
    assert not gone, f"no longer imported, delete from BACKWARD: {gone}"


def test_the_checker_sees_lazy_relative_and_absolute_imports(tmp_path):
    """The import reader on a made-up module: what the order test relies on it finding."""
    path = tmp_path / "m.py"
    path.write_text("from . import a, b as c\nfrom ..cli.run import guarded\n"
                    "def f():\n    from ..render import cib\n"
                    "    from ocfpy.generators.live.drill import run_drill\n"
                    "    import ocfpy.generators.verify.simulate\n"
                    "    from ..errors import FAILED\n")
    assert imported("load/m", str(path)) == {"load/a", "load/b", "cli/run", "render/cib",
                                             "live/drill", "verify/simulate", "errors"}
