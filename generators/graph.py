"""A Graphviz picture of a cluster model: resources, containers and constraints.

`dot(cluster)` returns DOT text: primitives are boxes (id and agent), groups and clones are
boxed regions with a node of their own that constraints can point at, cluster nodes are
ellipses. Orders are solid arrows (first -> then), colocations dashed (resource -> with, score),
locations dotted (resource -> node, score or rule). `svg(text)` renders it with `dot` when
Graphviz is installed. Neither prints nor writes files.
"""

import shutil
import subprocess


def _q(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(cluster):
    out = [f"digraph {_q(cluster.name)} {{", "  rankdir=LR;", '  fontname="Helvetica";',
           '  node [shape=box, fontname="Helvetica", fontsize=10];',
           '  edge [fontname="Helvetica", fontsize=9];']
    prims = {p.id: p for p in cluster.primitives}
    groups = {g.id: g for g in cluster.groups}
    clones = {c.id: c for c in cluster.clones}

    def emit(rid, indent):
        pad = "  " * indent
        if rid in prims:
            out.append(f"{pad}{_q(rid)} [label={_q(rid + chr(10) + prims[rid].agent)}];")
            return
        container = groups.get(rid) or clones[rid]
        if rid in groups:
            label, children, style = f"group {rid}", container.members, "rounded"
        else:
            kind = "promotable clone" if container.promotable else "clone"
            label, children, style = f"{kind} {rid}", [container.child], "dashed"
        out.append(f"{pad}subgraph {_q('cluster_' + rid)} {{")
        out.append(f"{pad}  label={_q(label)}; style={style};")
        out.append(f"{pad}  {_q(rid)} [shape=point, width=0.08, xlabel={_q(rid)}];")
        for child in children:
            emit(child, indent + 1)
        out.append(f"{pad}}}")

    for device in cluster.fence_devices():
        out.append(f"  {_q(device.id)} [label={_q(device.id + chr(10) + 'stonith:' + device.agent)}, "
                   f"style=filled, fillcolor=lightgrey];")
    for rid in cluster.top_level():
        emit(rid, 1)
    for node in cluster.nodes:
        attrs = ", ".join(f"{k}={v}" for k, v in node.attributes.items())
        label = node.name + (f"\n{attrs}" if attrs else "")
        out.append(f"  {_q('node:' + node.name)} [shape=ellipse, label={_q(label)}];")

    def chain(sets, style):
        for first, then in zip(sets, sets[1:]):
            for a in first.resources:
                for b in then.resources:
                    out.append(f"  {_q(a)} -> {_q(b)} [{style}];")
        for rset in sets:
            if rset.sequential is not False:
                for a, b in zip(rset.resources, rset.resources[1:]):
                    out.append(f"  {_q(a)} -> {_q(b)} [{style}];")

    for order in cluster.orders:
        style = f"color=blue, label={_q(order.kind.lower())}"
        if order.sets:
            chain(order.sets, style)
        else:
            out.append(f"  {_q(order.first)} -> {_q(order.then)} [{style}];")
    for col in cluster.colocations:
        style = f"style=dashed, color=darkgreen, label={_q(col.score)}"
        if col.sets:
            chain(col.sets, style)
        else:
            out.append(f"  {_q(col.resource)} -> {_q(col.with_resource)} [{style}];")
    for loc in cluster.locations:
        if loc.node is not None:
            out.append(f"  {_q(loc.resource)} -> {_q('node:' + loc.node)} "
                       f"[style=dotted, label={_q(loc.score)}];")
            continue
        for rule in loc.rules:
            test = f" {rule.boolean_op} ".join(
                " ".join(x for x in (e.attribute, e.operation, e.value) if x)
                for e in rule.expressions)
            rid = f"rule:{rule.id}"
            out.append(f"  {_q(rid)} [shape=note, label={_q(test)}];")
            out.append(f"  {_q(loc.resource)} -> {_q(rid)} [style=dotted, "
                       f"label={_q(rule.score)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def svg(dot_text, timeout=60):
    """SVG bytes of DOT text, or None when Graphviz's dot is not installed."""
    if shutil.which("dot") is None:
        return None
    done = subprocess.run(["dot", "-Tsvg"], input=dot_text.encode(), capture_output=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout
