"""A STAND-IN for the EPICS Archiver Appliance's Tomcat, for the archiver agent's tests.

The real appliance (four Java webapps) is not installable here (current releases need Tomcat 11,
Debian 12 has Tomcat 10), so this small HTTP server answers the management endpoints the agent
uses, as the appliance does (docs/services.md): every webapp serves /<app>/bpl/ping and
/<app>/bpl/startupState, which walks ZEROTH_STATE, READY_TO_JOIN_APPLIANCE, POST_STARTUP_RUNNING,
STARTUP_COMPLETE; other BPL calls answer HTTP 500 until start-up completes; mgmt serves
getApplianceInfo?id=<identity> and getVersions. It reads what Tomcat would be given: the
ARCHAPPL_* environment (and refuses to start, like the appliance, when its identity is not in
appliances.xml) and -Darchappl.http.port / -Darchappl.webapps in CATALINA_OPTS.

Faults for the tests, read from the file named by ARCHAPPL_STANDIN_FAULT_FILE on every request:
"500" answers every request with HTTP 500, "hang" never answers, "stuck" never completes start-up.
ARCHAPPL_STANDIN_STEP is the seconds each start-up state lasts (default 0.3).
"""

import json
import os
import signal
import sys
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

STATES = ("ZEROTH_STATE", "READY_TO_JOIN_APPLIANCE", "POST_STARTUP_RUNNING", "STARTUP_COMPLETE")


def system_properties(text):
    props = {}
    for word in text.split():
        if word.startswith("-D"):
            name, _, value = word[2:].partition("=")
            props[name] = value
    return props


def appliances(path):
    """identity -> {element: text} for every appliance in appliances.xml."""
    found = {}
    for appliance in ET.parse(path).getroot().iter("appliance"):
        fields = {child.tag: (child.text or "").strip() for child in appliance}
        found[fields.get("identity", "")] = fields
    return found


class Appliance:
    def __init__(self, identity, info, webapps, step):
        self.identity, self.info, self.webapps, self.step = identity, info, webapps, step
        self.began = time.monotonic()
        self.fault_file = os.environ.get("ARCHAPPL_STANDIN_FAULT_FILE", "")

    def fault(self):
        if not self.fault_file:
            return ""
        try:
            with open(self.fault_file) as f:
                return f.read().strip()
        except OSError:
            return ""

    def state(self):
        index = int((time.monotonic() - self.began) / self.step)
        if self.fault() == "stuck":
            index = min(index, len(STATES) - 2)
        return STATES[min(index, len(STATES) - 1)]


def handler_for(appliance):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            sys.stderr.write(f"standin {self.address_string()} {fmt % args}\n")

        def reply(self, status, body, kind="application/json"):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            fault = appliance.fault()
            if fault == "hang":
                time.sleep(3600)
            if fault == "500":
                return self.reply(500, "<html><body>HTTP Status 500 - Internal Server Error</body></html>",
                                  "text/html")
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] not in appliance.webapps or parts[1] != "bpl":
                return self.reply(404, "<html><body>HTTP Status 404 - Not Found</body></html>",
                                  "text/html")
            app, call = parts[0], parts[2]
            if call == "ping":
                return self.reply(200, "pong", "text/plain")
            state = appliance.state()
            if call == "startupState":
                return self.reply(200, json.dumps({"status": state}))
            if state != "STARTUP_COMPLETE":
                return self.reply(500, f"<html><body>{app} is still starting ({state})</body></html>",
                                  "text/html")
            if app == "mgmt" and call == "getApplianceInfo":
                wanted = parse_qs(url.query).get("id", [""])[0]
                if wanted != appliance.identity:
                    return self.reply(404, json.dumps({"status": "fail", "message":
                                                       f"Cannot find appliance {wanted}"}))
                info = appliance.info
                return self.reply(200, json.dumps({
                    "identity": appliance.identity, "mgmtURL": info.get("mgmt_url", ""),
                    "engineURL": info.get("engine_url", ""), "etlURL": info.get("etl_url", ""),
                    "retrievalURL": info.get("retrieval_url", ""),
                    "dataRetrievalURL": info.get("data_retrieval_url", ""),
                    "clusterInetPort": info.get("cluster_inetport", ""),
                }))
            if app == "mgmt" and call == "getVersions":
                return self.reply(200, json.dumps({w: {"mgmt_version": "stand-in"}
                                                   for w in appliance.webapps}))
            return self.reply(404, "<html><body>HTTP Status 404 - Not Found</body></html>",
                              "text/html")

    return Handler


def main():
    props = system_properties(os.environ.get("CATALINA_OPTS", ""))
    port = int(props.get("archappl.http.port", "17665"))
    webapps = props.get("archappl.webapps", "mgmt,engine,etl,retrieval").split(",")
    identity = os.environ.get("ARCHAPPL_MYIDENTITY", "")
    known = appliances(os.environ["ARCHAPPL_APPLIANCES"])
    if identity not in known:
        sys.exit(f"stand-in: identity {identity!r} is not in {os.environ['ARCHAPPL_APPLIANCES']}")
    for name in ("ARCHAPPL_SHORT_TERM_FOLDER", "ARCHAPPL_MEDIUM_TERM_FOLDER",
                 "ARCHAPPL_LONG_TERM_FOLDER"):
        if not os.path.isdir(os.environ.get(name, "")):
            sys.exit(f"stand-in: {name} is not a directory")
    step = float(os.environ.get("ARCHAPPL_STANDIN_STEP", "0.3"))
    appliance = Appliance(identity, known[identity], webapps, step)
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(appliance))
    server.daemon_threads = True
    # Tomcat shuts down on SIGTERM; so does the stand-in.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"stand-in appliance {identity}: {','.join(webapps)} on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
