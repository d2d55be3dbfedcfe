"""Logging as ocf_log does it: HA_LOGFILE, HA_DEBUGLOG when HA_debug is on, syslog through
HA_LOGFACILITY, and stderr when none of them is set. Every line carries the agent and instance.
"""

import posix  # not os, on the monitor path: docs/design.md
import sys
import time

LEVELS = ("debug", "info", "warning", "error", "critical")
_SYSLOG_PRIORITY = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}


def _debug_enabled(value):
    return (value or "").strip().lower() in ("1", "yes", "true", "on", "y")


class Logger:
    def __init__(self, agent_name, instance, environ):
        self.tag = f"{agent_name}({instance or 'unknown'})[{posix.getpid()}]"
        self.logfile = environ.get("HA_LOGFILE") or ""
        self.debuglog = environ.get("HA_DEBUGLOG") or ""
        self.facility = environ.get("HA_LOGFACILITY") or ""
        if self.facility.lower() == "none":
            self.facility = ""
        self.debug_on = _debug_enabled(environ.get("HA_debug"))

    def debug(self, message):
        if self.debug_on:
            self._emit("debug", message)

    def info(self, message):
        self._emit("info", message)

    def warning(self, message):
        self._emit("warning", message)

    def error(self, message):
        self._emit("error", message)

    def _emit(self, level, message):
        text = " ".join(str(message).split())
        line = f"{self.tag}: {level.upper()}: {text}"
        written = False
        if self.facility:
            written = self._syslog(level, line)
        target = self.debuglog if level == "debug" and self.debuglog else self.logfile
        if target:
            written = self._append(target, line) or written
        if not written:
            try:
                sys.stderr.write(line + "\n")
            except (OSError, ValueError):  # stderr closed or broken: the outcome stands anyway
                pass

    def _syslog(self, level, line):
        import syslog

        facility = getattr(syslog, "LOG_" + self.facility.upper(), None)
        if facility is None:
            return False
        syslog.openlog(facility=facility)
        syslog.syslog(_SYSLOG_PRIORITY[level], line)
        return True

    @staticmethod
    def _append(path, line):
        """Whether the line was written. A log that cannot take it (a full disk, a FIFO nobody
        reads) must never block the agent or change what the action returns."""
        stamp = time.strftime("%b %d %H:%M:%S")
        try:
            fd = posix.open(path, posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT
                            | posix.O_NOFOLLOW | posix.O_NONBLOCK, 0o640)
        except OSError:
            return False
        try:
            posix.write(fd, f"{stamp} {line}\n".encode("utf-8", "replace"))
        except OSError:
            return False
        finally:
            posix.close(fd)
        return True
