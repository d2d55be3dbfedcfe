"""A Graphviz picture of where resources run before and after a node is lost (what `ocfgen
simulate` computes): `ocfgen simulate DESCRIPTION --graph FILE`.

`dot(name, nodes, before, after, fenced, resources)` returns DOT text of one picture, read top
to bottom: a panel "before: every node up", then one panel per loss drawn ("after losing n1").
In each panel every node is a frame listing the resources it runs (a promoted instance in bold,
"(Promoted)"); resources that run nowhere are listed in a red "stopped" frame. In a loss's
panel the lost node's frame is grey, and a resource that runs somewhere it did not before
(moved there, or promoted there) is highlighted, with where it came from; a legend says so.
Large clusters stay one page: a frame lists its resources in columns of COLUMN_ROWS.
Rendered as SVG, PNG or PDF by generators/render/graph.render, like the constraint graph.
"""

import html

from ocfpy import __version__

from .graph import _q
from .output_files import MARK

COLUMN_ROWS = 20
MOVED = "#ffcc80"         # orange: runs here since the loss
STOPPED = "#f4cccc"       # light red: runs nowhere
LOST = "#d9d9d9"          # grey: the lost node
HEADER = "#dbe5f1"        # a node's title

LEGEND = f"""<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="2" COLOR="grey">
<TR><TD COLSPAN="2"><B>legend</B></TD></TR>
<TR><TD BORDER="1" BGCOLOR="{HEADER}">node</TD>
<TD ALIGN="LEFT">a cluster node and the resources it runs</TD></TR>
<TR><TD BORDER="1"><B>rsc</B> (Promoted)</TD>
<TD ALIGN="LEFT">the promoted instance of a promotable clone</TD></TR>
<TR><TD BORDER="1" BGCOLOR="{MOVED}">rsc &#8592; n1</TD>
<TD ALIGN="LEFT">runs here since the loss: moved from n1, or promoted here</TD></TR>
<TR><TD BORDER="1" BGCOLOR="{LOST}">n1 lost</TD>
<TD ALIGN="LEFT">the node that is lost (fenced when fencing is on)</TD></TR>
<TR><TD BORDER="1" BGCOLOR="{STOPPED}">stopped</TD>
<TD ALIGN="LEFT">resources that run nowhere</TD></TR>
<TR><TD COLSPAN="2" ALIGN="LEFT">fence devices are not drawn</TD></TR>
</TABLE>>"""


def _where(shown):
    """{node: role} of a placement list ["n1", "n2 (Promoted)"]."""
    out = {}
    for text in shown:
        node, _, role = text.partition(" (")
        out[node] = role.rstrip(")") or "Started"
    return out


def _cell(text, colour=None):
    background = f' BGCOLOR="{colour}"' if colour else ""
    return f'<TD ALIGN="LEFT"{background}>{text}</TD>'


def _frame(title, cells, colour=HEADER, border="black"):
    """An HTML-like table: the title, then the cells in columns of COLUMN_ROWS."""
    columns = max(1, -(-len(cells) // COLUMN_ROWS))
    rows = [f'<TR><TD COLSPAN="{columns}" BGCOLOR="{colour}"><B>{title}</B></TD></TR>']
    for start in range(0, len(cells), columns):
        row = cells[start:start + columns]
        row += ["<TD></TD>"] * (columns - len(row))
        rows.append("<TR>" + "".join(row) + "</TR>")
    return (f'<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="1" CELLPADDING="3" '
            f'COLOR="{border}" BGCOLOR="white">' + "".join(rows) + "</TABLE>")


def _label(rid, role, came_from=()):
    text = html.escape(rid)
    if role == "Promoted":
        text = f"<B>{text}</B> (Promoted)"
    if came_from:
        text += " &#8592; " + html.escape(", ".join(came_from))
    return text


def _panel(nodes, placement, resources, before=None, lost=None, fenced=False):
    """The frames of one panel: one per node (and one of stopped resources), in the
    description's order."""
    where = {rid: _where(placement.get(rid, [])) for rid in resources}
    frames = []   # (name, HTML-like table)
    for node in nodes:
        if node == lost:
            note = "lost, fenced" if fenced else "lost"
            frames.append((node, _frame(f"{html.escape(node)}: {note}",
                                        [_cell("runs nothing")], LOST, "grey")))
            continue
        cells = []
        for rid in resources:
            role = where[rid].get(node)
            if role is None:
                continue
            colour, came_from = None, ()
            if before is not None and before[rid].get(node) != role:
                colour = MOVED
                came_from = [n for n in before[rid] if n not in where[rid]] or (
                    [f"{before[rid][node]} here"] if node in before[rid] else ["stopped"])
            cells.append(_cell(_label(rid, role, came_from), colour))
        frames.append((node, _frame(html.escape(node), cells or [_cell("nothing")])))
    stopped = [rid for rid in resources if not where[rid]]
    if stopped:
        cells = [_cell(_label(rid, None, [f"was on {', '.join(before[rid])}"]
                              if before is not None and before[rid] else ()))
                 for rid in stopped]
        frames.append(("stopped", _frame("stopped", cells, STOPPED, "red")))
    return frames


def dot(name, nodes, before, after, fenced=None, resources=None):
    """DOT text: `before` ({resource: ["n1", "n2 (Promoted)"]}) with every node up, then for
    each lost node in `after` ({lost node: placement}) the placement once it is lost;
    `fenced`: {lost node: whether its loss fences it}; `resources`: the resources to draw, in
    order (default: those placed anywhere)."""
    fenced = fenced or {}
    if resources is None:
        resources = sorted(set(before).union(*[set(p) for p in after.values()]))
    out = [f"digraph {_q(name + ' placement')} {{",
           f"  comment={_q(f'generated by ocfgen {__version__} {MARK}')};",
           '  rankdir=TB; newrank=true; fontname="Helvetica";',
           '  node [shape=plaintext, fontname="Helvetica", fontsize=10];',
           f"  label={_q(f'{name}: where resources run before and after losing a node')};",
           "  labelloc=t; fontsize=16;",
           f"  legend [label={LEGEND}];"]
    panels = [("before: every node up", _panel(nodes, before, resources))]
    base = {rid: _where(before.get(rid, [])) for rid in resources}
    for lost, placement in after.items():
        title = f"after losing {lost}" + (" (fenced)" if fenced.get(lost) else "")
        panels.append((title, _panel(nodes, placement, resources, base, lost,
                                     fenced.get(lost, False))))
    firsts = []
    for index, (title, frames) in enumerate(panels):
        ids = [f"panel{index}:{name}" for name, _ in frames]
        firsts.append(ids[0])
        out.append(f"  subgraph {_q(f'cluster_panel{index}')} {{")
        out.append(f"    label={_q(title)}; fontsize=14; style=rounded; color=grey;")
        for frame_id, (_, table) in zip(ids, frames):
            out.append(f"    {_q(frame_id)} [label=<{table}>];")
        out.append("    {rank=same; " + "; ".join(map(_q, ids)) + "}")
        for left, right in zip(ids, ids[1:]):   # the description's order, left to right
            out.append(f"    {_q(left)} -> {_q(right)} [style=invis];")
        out.append("  }")
    for upper, lower in zip(firsts, firsts[1:]):   # the panels one under the other
        out.append(f"  {_q(upper)} -> {_q(lower)} [style=invis];")
    out.append("}")
    return "\n".join(out) + "\n"
