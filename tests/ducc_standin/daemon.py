#!/usr/bin/python3
"""STAND-IN DUCC daemon (not DUCC): a real process that idles until SIGTERM or SIGINT (DUCC's
orderly shutdown, logged); SIGUSR2 stands for DUCC's quiesce (logged).

Its arguments are the marks a DUCC daemon's java command line carries. As the web server
(-Dducc.deploy.components=ws) it also serves /ducc-servlet/cluster-reliable-status on
127.0.0.1:<ducc.ws.port> when DUCC_HOME/resources/site.ducc.properties sets that port: it
answers master when ducc.head is exactly one of this host's addresses (read with `ip -j addr`,
independently of ocfpy), backup when not, unspecified without ducc.head.reliable.list.
"""
import json
import os
import signal
import subprocess
import sys
import time

signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))


def orderly_shutdown(signum, frame):
    # What DUCC's daemons do on SIGINT (stop_ducc -c COMPONENT@HOST sends it): a clean exit.
    print("stand-in DUCC daemon: SIGINT, orderly shutdown", flush=True)
    sys.exit(0)


def quiesce(signum, frame):
    # The stand-in's admin/stop_ducc -q delivers DUCC's quiesce this way (DUCC uses its broker).
    print("stand-in DUCC daemon: quiesced, taking no new work", flush=True)


signal.signal(signal.SIGINT, orderly_shutdown)
signal.signal(signal.SIGUSR2, quiesce)
print(f"stand-in DUCC daemon up: {' '.join(sys.argv[1:])}", flush=True)


def properties(home):
    values = {}
    try:
        with open(os.path.join(home, "resources", "site.ducc.properties")) as f:
            for line in f:
                key, sep, value = line.partition("=")
                if sep and not line.lstrip().startswith("#"):
                    values[key.strip()] = value.strip()
    except OSError:
        pass
    return values


def mode(values):
    if not values.get("ducc.head.reliable.list"):
        return "unspecified"
    rows = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True,
                                     check=True).stdout)
    here = {info["local"] for row in rows for info in row.get("addr_info", [])}
    return "master" if values.get("ducc.head") in here else "backup"


def serve_ws(home, port):
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/ducc-servlet/cluster-reliable-status":
                self.send_error(404)
                return
            body = mode(properties(home)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()


home = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("-DDUCC_HOME=")), "")
port = properties(home).get("ducc.ws.port", "") if home else ""
if "-Dducc.deploy.components=ws" in sys.argv[1:] and port.isdigit():
    serve_ws(home, int(port))
while True:
    time.sleep(3600)
