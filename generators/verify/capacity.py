"""The N-1 capacity verdict of a description: for the loss of each node, every resource left
stopped, and whether the description accepts that (a resource's `accept_node_loss` reason).

`verdict_lines(cluster, cib_path)` returns (lines to print, holds): holds is False when some
resource is stopped by a node's loss (or cannot run even with every node up) and the
description does not accept it (a fence device for the only node left needs no accepting:
nothing is left to run it). The placement comes from crm_simulate
(simulate.n_minus_1); this module only judges and words it.
"""


def verdict_lines(cluster, cib_path):
    from .simulate import n_minus_1

    verdict = n_minus_1(cib_path, [n.name for n in cluster.nodes])
    reasons = {p.id: p.accept_node_loss for p in cluster.primitives if p.accept_node_loss}
    targets = {d.id: d.node for d in cluster.fence_devices()}
    lines, holds = ["N-1 capacity (each node lost in turn):"], True
    for rid in verdict.stopped_up:
        holds = False
        lines.append(f"  with every node up: {rid} cannot run anywhere (FAIL)")
    for lost, stopped in verdict.stopped.items():
        if not stopped:
            lines.append(f"  {lost} lost: every resource runs")
            continue
        survivors = [n.name for n in cluster.nodes if n.name != lost]
        for rid in stopped:
            why = " (its Mandatory order's first resource is stopped)" if (
                rid in verdict.blocked[lost]) else ""
            if survivors == [targets.get(rid)]:
                lines.append(f"  {lost} lost: {rid} stays stopped; it fences the only node "
                             f"left, which never runs its own fencing")
            elif rid in reasons:
                lines.append(f"  {lost} lost: {rid} stays stopped{why}; accepted: "
                             f"{reasons[rid]}")
            else:
                holds = False
                lines.append(f"  {lost} lost: {rid} stays stopped{why} (FAIL: not accepted; "
                             f"add capacity or accept_node_loss = \"why\" to the resource)")
    lines.append("N-1 holds" if holds else "N-1 does not hold")
    return lines, holds
