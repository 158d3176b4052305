#!/usr/bin/env python3
"""A test double of bazel-remote's HTTP/1.1 cache API, for what nginx does
not speak: zstd-encoded blob transfers.

bazel-remote (github.com/buchgr/bazel-remote, README "HTTP/1.1 REST API"):
  GET/HEAD/PUT /[instance/]ac/<sha256> and /[instance/]cas/<sha256>;
  a GET whose Accept-Encoding names zstd may be answered zstd-encoded;
  a PUT with Content-Encoding: zstd must carry X-Digest-SizeBytes, the size
  of the uncompressed blob, and the key names the uncompressed bytes.
This double keeps blobs on disk uncompressed, checks a cas PUT's bytes
against its key (400 otherwise, as bazel-remote does), and compresses with
Debian's `zstd` command. Each request is logged as a JSON line.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = re.compile(r"^/(?:[A-Za-z0-9_.-]+/)*(ac|cas)/([0-9a-f]{64})$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--lifetime", type=float, default=120)
    args = ap.parse_args()
    lock = threading.Lock()

    def log(entry):
        with lock, open(args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def target(self):
            m = PATH.match(self.path)
            if not m:
                return None, None
            return m.group(1), os.path.join(args.store, m.group(1), m.group(2))

        def do_HEAD(self):
            kind, path = self.target()
            log({"method": "HEAD", "path": self.path})
            self.reply(200 if path and os.path.exists(path) else 404)

        def do_GET(self):
            kind, path = self.target()
            if not path or not os.path.exists(path):
                log({"method": "GET", "path": self.path, "status": 404})
                return self.reply(404)
            data = open(path, "rb").read()
            zstd = kind == "cas" and "zstd" in self.headers.get("Accept-Encoding", "")
            headers = []
            if zstd:
                data = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
                headers.append(("Content-Encoding", "zstd"))
            log({"method": "GET", "path": self.path, "status": 200, "encoding": "zstd" if zstd else "identity",
                 "bytes": len(data)})
            self.reply(200, data, headers)

        def do_PUT(self):
            kind, path = self.target()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            encoding = self.headers.get("Content-Encoding", "identity")
            entry = {"method": "PUT", "path": self.path, "encoding": encoding, "bytes": len(body)}
            if not path:
                entry["status"] = 400
                log(entry)
                return self.reply(400)
            if encoding == "zstd":
                size = self.headers.get("X-Digest-SizeBytes")
                plain = subprocess.run(["zstd", "-q", "-d", "-c"], input=body, capture_output=True).stdout
                if size is None or int(size) != len(plain):
                    entry["status"] = 400
                    log(entry)
                    return self.reply(400, b"X-Digest-SizeBytes missing or wrong")
                body = plain
            elif encoding != "identity":
                entry["status"] = 400
                log(entry)
                return self.reply(400)
            if kind == "cas" and hashlib.sha256(body).hexdigest() != os.path.basename(path):
                entry["status"] = 400
                log(entry)
                return self.reply(400, b"hash mismatch")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".tmp.%d" % threading.get_ident()
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, path)
            entry["status"] = 200
            log(entry)
            self.reply(200)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
