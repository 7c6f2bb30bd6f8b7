"""An in-process HTTP/1.1 origin for integration tests: threaded, with a real listen backlog, recording
every request it sees (request line, headers in order and case, body) so tests can compare what
different clients sent."""

import gzip
import hashlib
import json
import urllib.parse
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def payload(n: int, seed: str = "") -> bytes:
    """Deterministic, incompressible-enough bytes of length n."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


class Recorded:
    def __init__(self, method, target, version, headers, body, peer=None):
        self.time = time.monotonic()
        self.peer = peer  # the client's (address, port): one per connection
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # list of (name, value) as received
        self.body = body

    def as_dict(self):
        return {"method": self.method, "target": self.target, "version": self.version,
                "headers": self.headers, "body": self.body}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "origin/1"
    sys_version = ""

    def log_message(self, *args):
        pass

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            body = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
            return bytes(body)
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body=b"", headers=(), head=False):
        self.send_response(status)
        names = {k.lower() for k, _ in headers}
        for k, v in headers:
            self.send_header(k, v)
        if "content-length" not in names and "transfer-encoding" not in names:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and self.command != "HEAD":
            self.wfile.write(body)

    def handle_one(self):
        body = b""
        if self.headers.get("Expect", "").lower() == "100-continue":
            pass  # BaseHTTPRequestHandler answers 100 itself for HTTP/1.1 when handle_expect_100 runs
        body = self._read_body()
        rec = Recorded(self.command, self.path, self.request_version, list(self.headers.items()), body,
                       self.client_address)
        self.server.record(rec)
        self.server.count_host(self.headers.get("Host", ""))
        path = self.path
        if path.startswith("http://") or path.startswith("https://"):
            # absolute-form (we are being used as a proxy): route on the path part
            rest = path.split("://", 1)[1]
            path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        parts = path.split("?", 1)[0].strip("/").split("/")
        route = parts[0]
        try:
            self.route(route, parts[1:], path, rec)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def route(self, route, args, path, rec):
        if route == "bytes":
            n = int(args[0])
            self._send(200, payload(n, path), [("Content-Type", "application/octet-stream")])
        elif route == "status":
            code = int(args[0])
            self._send(code, f"status {code}\n".encode(), [("Content-Type", "text/plain")])
        elif route == "echo":
            out = json.dumps({"method": rec.method, "target": rec.target, "headers": rec.headers,
                              "body": rec.body.decode("latin-1")}, indent=1).encode() + b"\n"
            self._send(200, out, [("Content-Type", "application/json")])
        elif route == "redirect":
            n = int(args[0])
            if n <= 0:
                self._send(200, b"landed\n", [("Content-Type", "text/plain")])
            else:
                self._send(302, b"moving\n", [("Location", f"/redirect/{n - 1}")])
        elif route == "slow":
            host = self.headers.get("Host", "")
            self.server.enter(host)
            try:
                time.sleep(float(args[0]))
            finally:
                self.server.leave(host)
            self._send(200, b"slow done\n")
        elif route == "headers":
            self._send(200, b"with headers\n", [("Content-Type", "text/html; charset=utf-8"),
                                                 ("X-Multi", "one"), ("X-Multi", "two"),
                                                 ("Set-Cookie", "session=abc123; Path=/"),
                                                 ("Set-Cookie", "theme=dark; Path=/")])
        elif route == "cookies":
            self._send(200, (self.headers.get("Cookie", "") + "\n").encode())
        elif route == "empty":
            self._send(200, b"")
        elif route == "disposition":
            name = urllib.parse.unquote(args[0]) if args else "x"
            self._send(200, b"disposed\n", [("Content-Disposition", f'attachment; filename="{name}"')])
        elif route == "notmodified":
            self._send(304, b"", [("ETag", '"x"')])
        elif route == "closedelim":
            # HTTP/1.0-style body delimited by closing the connection
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until close\n")
            self.close_connection = True
        elif route == "hopbyhop":
            self._send(200, b"hop\n", [("Connection", "X-Drop-Me"), ("X-Drop-Me", "1"), ("Keep-Alive", "timeout=5"),
                                        ("X-Keep", "yes"), ("Proxy-Connection", "keep-alive")])
        elif route == "nocontent":
            self._send(204, b"")
        elif route == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello ", b"chunked ", b"world\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif route == "gzip":
            data = gzip.compress(b"compressed body\n" * 10, mtime=0)
            self._send(200, data, [("Content-Encoding", "gzip")])
        elif route == "flaky":
            # /flaky/KEY/N[/retry-after]: the first N requests for KEY get 503, then 200.
            key, n = args[0], int(args[1])
            seen = self.server.bump(key)
            if seen <= n:
                hdrs = [("Retry-After", args[2])] if len(args) > 2 else []
                self._send(503, b"try later\n", hdrs)
            else:
                self._send(200, f"ok after {seen - 1}\n".encode())
        elif route == "ratelimit":
            # /ratelimit/KEY/N/SECONDS: the first N requests for KEY get 429 with Retry-After: SECONDS.
            key, n = args[0], int(args[1])
            seen = self.server.bump(key)
            if seen <= n:
                self._send(429, b"slow down\n", [("Retry-After", args[2])])
            else:
                self._send(200, b"ok\n")
        elif route == "range":
            data = payload(1000, "range")
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                self._send(206, data[start:], [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")])
            else:
                self._send(200, data)
        elif route == "drop-after":
            # promise twice N bytes, send N, close: a cut after whole 16 KiB pieces of libcurl's
            n = int(args[0])
            self.send_response(200)
            self.send_header("Content-Length", str(2 * n))
            self.end_headers()
            self.wfile.write(payload(n, path))
            self.wfile.flush()
            self.close_connection = True
        elif route == "drop":
            # promise 1000 bytes, send 10, close
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            self.close_connection = True
        else:
            self._send(200, f"path {path}\n".encode(), [("Content-Type", "text/plain")])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_one


class Origin(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096
    allow_reuse_address = True

    def __init__(self, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.address_family = family
        super().__init__((host, 0), Handler)
        self._lock = threading.Lock()
        self.requests = []
        self.counters = {}
        self.hosts = {}
        self.inflight = 0
        self.max_inflight = 0
        self.host_inflight = {}
        self.host_max = {}
        self.port = self.server_address[1]
        self.base = f"http://{host if family == socket.AF_INET else '[' + host + ']'}:{self.port}"
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def record(self, rec):
        with self._lock:
            self.requests.append(rec)

    def enter(self, host=""):
        with self._lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            self.host_inflight[host] = self.host_inflight.get(host, 0) + 1
            self.host_max[host] = max(self.host_max.get(host, 0), self.host_inflight[host])

    def leave(self, host=""):
        with self._lock:
            self.inflight -= 1
            self.host_inflight[host] -= 1

    def bump(self, key):
        with self._lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]

    def count_host(self, host):
        with self._lock:
            self.hosts[host] = self.hosts.get(host, 0) + 1

    def take(self):
        with self._lock:
            out, self.requests = self.requests, []
            return out

    def stop(self):
        self.shutdown()
        self.server_close()
