#!/usr/bin/python3
"""stand-in-exporter.py — NOT the exporter: a placeholder with the exporter's flags, to test the testbed's
plumbing (start on a node, listen address, Prometheus scrape) before the real binary exists:
    EXPORTER_BIN=e2e/testbed/stand-in-exporter.py e2e/testbed/up.sh
Serves /metrics with mailcluster_exporter_build_info and, when run with --cluster.node, the node's
keepalived state read from the state_file named in the config (one line: TYPE NAME STATE PRIORITY TIME)."""
import argparse, http.server, re

ap = argparse.ArgumentParser()
ap.add_argument("--config.file", dest="config", required=True)
ap.add_argument("--cluster.node", dest="node", default="")
ap.add_argument("--web.listen-address", dest="listen", default=":19025")
ap.add_argument("--windows.file", dest="windows", default="")
ap.add_argument("--config.check", dest="check", action="store_true")
args = ap.parse_args()
if args.check:
    raise SystemExit(0)
cfg = open(args.config).read()
m = re.search(r"state_file:\s*(\S+)", cfg)
state_file = m.group(1) if m else None


def metrics():
    out = ['mailcluster_exporter_build_info{version="stand-in"} 1']
    if args.node and state_file:
        try:
            state = open(state_file).read().split()[2]
            up = 1
        except (OSError, IndexError):
            state, up = "", 0
        out.append(f'mailcluster_source_up{{cluster="e2e",node="{args.node}",source="keepalived"}} {up}')
        for role, st in (("active", "MASTER"), ("standby", "BACKUP")):
            out.append(f'mailcluster_node_role{{cluster="e2e",node="{args.node}",role="{role}"}} {int(state == st)}')
    return ("\n".join(out) + "\n").encode()


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = metrics() if self.path.startswith("/metrics") else b"stand-in exporter\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


host, port = args.listen.rsplit(":", 1)
http.server.ThreadingHTTPServer((host, int(port)), H).serve_forever()
