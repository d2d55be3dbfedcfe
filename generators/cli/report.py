"""ocfgen report: MTTR per resource and the change failure rate, from the operations history
(generators/live/ophistory.py: the alert agent's logs of every node, drills, rollouts)."""

import click

from ..errors import BAD_INPUT, FAILED, CommandFailed
from .run import guarded


def _seconds(value):
    return "-" if value is None else f"{value:.2f} s"


def lines(report, since=None, until=None):
    """The report as text lines."""
    from ..live.ophistory import iso

    period = f"{iso(since) if since else 'the beginning'} .. {iso(until) if until else 'now'}"
    out = [f"history {period}: {report.events} events"
           + (f" ({report.skipped} unreadable lines skipped)" if report.skipped else "")]
    if report.incidents:
        out.append(f"{'resource':<24} {'failures':>8} {'recovered':>9} {'MTTR':>9}  "
                   f"time to recovery of each")
        for resource in sorted(report.incidents):
            found = report.incidents[resource]
            each = []
            for incident in found:
                text = f"{iso(incident.began)} {_seconds(incident.seconds)}"
                if incident.recovered is None:
                    text = f"{iso(incident.began)} NOT recovered"
                if incident.drill:
                    text += (f" (drill {incident.drill.get('scenario')}: measured "
                             f"{_seconds(incident.drill.get('seconds'))})")
                reasons = [f.get("exit_reason") for f in incident.failures if f.get("exit_reason")]
                if reasons:
                    text += f" [{reasons[0]}]"
                each.append(text)
            recovered = sum(1 for i in found if i.recovered is not None)
            failures = sum(len(i.failures) for i in found)
            out.append(f"{resource:<24} {failures:>8} {recovered:>9} "
                       f"{_seconds(report.mttr(resource)):>9}  {each[0]}")
            out += [f"{'':<55}{text}" for text in each[1:]]
        out.append(f"MTTR over all resources: {_seconds(report.mttr())}")
    else:
        out.append("no resource failures")
    rate = report.change_failure_rate
    if rate is None:
        out.append("changes: no rollouts")
    else:
        failed = [r for r in report.rollouts if r.get("outcome") != "success"]
        out.append(f"changes: {len(report.rollouts)} rollouts, {len(failed)} failed: change "
                   f"failure rate {rate * 100:.0f} %")
        for rollout in failed:
            out.append(f"  {iso(rollout['time'])} {rollout.get('command', '')!r} failed on "
                       f"{rollout.get('failed_node', '?')}: {rollout.get('reason', '')}")
    for entry in report.nodes:
        what = (f"fencing {entry.get('operation')} of {entry.get('node')}: {entry.get('desc')}"
                if entry["event"] == "fencing" else f"node {entry.get('node')} {entry.get('desc')}")
        out.append(f"  {iso(entry['time'])} {what}")
    return out


@click.command("report")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--since", default=None, help="Start of the period: ISO 8601 time (UTC unless "
                                            "it says) or an age such as 24h, 7d.")
@click.option("--until", default=None, help="End of the period (same forms; default now).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@guarded
def cmd(files, since, until, as_json):
    """Print per resource the failures, each time to recovery and the MTTR, and the change
    failure rate.

    FILES are history logs (default /var/log/ocfpy/history.jsonl): give every node's log, node
    and fencing events seen by several nodes count once. Exit status: 0 reported (a period
    without events too), 1 a log cannot be read, 2 a bad option or logs without any event.
    """
    import json

    from ocfpy.alert import DEFAULT_LOG

    from ..live.ophistory import HistoryError, analyse, load, parse_moment

    bounds = []
    for name, text in (("--since", since), ("--until", until)):
        try:
            bounds.append(None if text is None else parse_moment(text))
        except ValueError as exc:
            raise CommandFailed(BAD_INPUT, f"report: {name}: {exc}") from None
    try:
        events, skipped = load(files or (DEFAULT_LOG,), *bounds)
    except HistoryError as exc:
        raise CommandFailed(FAILED, f"report: {exc}") from None
    report = analyse(events, skipped)
    if not report.events and since is None and until is None:
        unread = f" ({skipped} lines are not history events)" if skipped else ""
        raise CommandFailed(BAD_INPUT, f"report: nothing to report: no history events in "
                                       f"{', '.join(files or (DEFAULT_LOG,))}{unread}")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=1, sort_keys=True))
    else:
        click.echo("\n".join(lines(report, *bounds)))
