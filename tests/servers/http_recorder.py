#!/usr/bin/env python3
"""Loopback HTTP server for wrt's notification tests. It records every
request (one JSON line: method, path, headers, body) and answers as told:

  --mode webhook   200 "ok", except the first --fail-first requests, which get
                   --fail-status (with Retry-After: --retry-after when given).
  --mode github    a TEST DOUBLE of the GitHub REST API's issue endpoints
                   (GitHub itself cannot run here): GET/POST
                   /repos/O/R/issues, POST /repos/O/R/issues/N/comments,
                   PATCH /repos/O/R/issues/N, in memory; 401 without
                   "Authorization: Bearer --token".

  --stall METHOD   a request with this method (e.g. PUT) is recorded and then
                   never answered: a server that hangs mid-upload.

It listens on 127.0.0.1 on a free port, writes the port to --port-file once
listening, and exits by itself after --lifetime seconds."""
import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--mode", choices=["webhook", "github"], default="webhook")
ap.add_argument("--fail-first", type=int, default=0)
ap.add_argument("--fail-status", type=int, default=503)
ap.add_argument("--retry-after", default="")
ap.add_argument("--token", default="t0ken")
ap.add_argument("--lifetime", type=float, default=300)
ap.add_argument("--stall", default="")
args = ap.parse_args()

lock = threading.Lock()
state = {"requests": 0, "issues": [], "comments": {}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        with lock:
            state["requests"] += 1
            n = state["requests"]
            with open(args.log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path,
                                    "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body}) + "\n")
            stall = self.command == args.stall
        if stall:
            time.sleep(args.lifetime)  # until the server ends (handler threads are daemons)
            return
        with lock:
            if args.mode == "webhook":
                if n <= args.fail_first:
                    extra = [("Retry-After", args.retry_after)] if args.retry_after else []
                    return self.reply(args.fail_status, {"error": "try later"}, extra)
                return self.reply(200, b"ok")
            return self.github(body)

    def github(self, body):
        if self.headers.get("Authorization") != "Bearer " + args.token:
            return self.reply(401, {"message": "Bad credentials"})
        path = self.path.split("?")[0]
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues(?:/(\d+)(/comments)?)?", path)
        if not m:
            return self.reply(404, {"message": "Not Found"})
        number, comments = m.group(3), m.group(4)
        if number is None and self.command == "GET":
            query = self.path.split("?", 1)[1] if "?" in self.path else ""
            labels = [l for q in query.split("&") if q.startswith("labels=") for l in q[7:].split(",")]
            return self.reply(200, [i for i in state["issues"] if i["state"] == "open"
                                    and all(l in i["labels"] for l in labels)])
        if number is None and self.command == "POST":
            req = json.loads(body)
            issue = {"number": len(state["issues"]) + 1, "title": req["title"], "body": req.get("body", ""),
                     "labels": req.get("labels", []), "state": "open"}
            state["issues"].append(issue)
            return self.reply(201, issue)
        issue = next((i for i in state["issues"] if i["number"] == int(number)), None)
        if issue is None:
            return self.reply(404, {"message": "Not Found"})
        if comments and self.command == "POST":
            state["comments"].setdefault(number, []).append(json.loads(body)["body"])
            return self.reply(201, {"id": len(state["comments"][number])})
        if not comments and self.command == "PATCH":
            issue.update({k: v for k, v in json.loads(body).items() if k in ("state", "state_reason")})
            return self.reply(200, issue)
        return self.reply(405, {"message": "Method Not Allowed"})

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Timer(args.lifetime, server.shutdown).start()
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
