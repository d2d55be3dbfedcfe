"""One bounded wait: poll a condition until it holds or a deadline passes.

Every "wait until X, but no longer than T" in the agents goes through here, so each wait has
the same shape: the condition is checked first (no sleep when it already holds), then every
`interval` seconds, and once more at the deadline itself, never past it. Deadlines are
time.monotonic() values. Only posix and time are imported: monitors use this too.
"""

import posix
import time


def until(condition, deadline, interval=0.05):
    """Poll `condition()` until it returns a true value or `deadline` passes.

    Returns the condition's last value: true when it came to hold, false at the deadline.
    """
    while True:
        value = condition()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            return value
        time.sleep(min(interval, left))


def within(condition, seconds, interval=0.05):
    """until() with a deadline `seconds` from now."""
    return until(condition, time.monotonic() + max(0.0, seconds), interval)


def reaped(pid, seconds, interval=0.005):
    """The wait status of the child `pid` once it has ended, waiting `seconds` at most; None
    when it is still running then, or when it is not (or no longer) our child to reap."""
    status = []

    def ended():
        try:
            done, raw = posix.waitpid(pid, posix.WNOHANG)
        except ChildProcessError:
            return True
        if done:
            status.append(raw)
        return done != 0

    within(ended, seconds, interval)
    return status[0] if status else None
