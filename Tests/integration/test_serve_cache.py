"""`swproxy serve --cache-dir`: the HTTP cache against its contract (RFC 9111 as a shared cache, Cache-Status
per RFC 9211, ranges, coalescing, crash safety, the `swproxy cache` CLI, logs and metrics).

Every test has its own origin (below: an in-process ThreadingHTTPServer on loopback that counts the requests
per path, records their headers, and answers what the test set for each path) and its own proxy with its own
cache directory, so nothing one test stores can be seen by another."""

import email.utils
import hashlib
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import free_port, run, wait_port
from conftest_serve import Response, eventually, exchange, log_has

KIB, MIB = 1 << 10, 1 << 20

MISS_STORED = "swproxy; fwd=uri-miss; fwd-status=200; stored"
MISS_NOT_STORED = "swproxy; fwd=uri-miss; fwd-status=200"
BYPASS = "swproxy; fwd=bypass"
STALE_304 = "swproxy; fwd=stale; fwd-status=304"
STALE_200 = "swproxy; fwd=stale; fwd-status=200; stored"
REQUEST_304 = "swproxy; fwd=request; fwd-status=304"
REQUEST_200 = "swproxy; fwd=request; fwd-status=200; stored"
VARY_MISS_STORED = "swproxy; fwd=vary-miss; fwd-status=200; stored"
STALE_UNREACHABLE = "swproxy; hit; detail=stale-upstream-unreachable"
HIT_RE = re.compile(r"swproxy; hit; ttl=(-?\d+)")
COLLAPSED_RE = re.compile(r"swproxy; fwd=uri-miss; collapsed(; stored)?")


# ---------------------------------------------------------------------------------------------------------
# The origin


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


class BigBody:
    """A body of `blocks` blocks of `block` bytes, generated as it is written (nothing this size is held):
    block i is its index followed by a fixed random block. `sha256` is the whole body's digest."""

    def __init__(self, blocks, block=MIB):
        self.count, self.block = blocks, block
        self.base = os.urandom(block)
        self.length = blocks * block
        h = hashlib.sha256()
        for b in self.blocks():
            h.update(b)
        self.sha256 = h.hexdigest()

    def blocks(self):
        for i in range(self.count):
            yield i.to_bytes(8, "big") + self.base[8:]

    def prefix(self, n):
        out = bytearray()
        for b in self.blocks():
            out += b
            if len(out) >= n:
                break
        return bytes(out[:n])


class Resource:
    """What the origin answers for one path.

    headers: (name, value) pairs sent as they are (a Date is added unless given; Content-Length unless given);
    body: bytes or a BigBody; head_delay: seconds before the head; chunk/delay: the body is written `chunk`
    bytes at a time with `delay` seconds between writes; truncate_at: the connection is closed after that
    many body bytes; conditional: "match" answers 304 to an If-None-Match naming the ETag (or, without one, an
    If-Modified-Since not before Last-Modified), "always" answers 304 to any conditional request, None never;
    headers_304: the 304's fields (default: the validators and freshness fields of `headers`); ranges: honour
    a single `Range: bytes=A-B` with a 206; chunked: the body goes chunked (no Content-Length), in `chunk`
    pieces; date=False: no Date is added; handler(method, headers) -> (status, headers, body) replaces all that."""

    def __init__(self, body=b"", status=200, headers=(), head_delay=0.0, chunk=None, delay=0.0, truncate_at=None,
                 conditional="match", headers_304=None, ranges=False, handler=None, chunked=False, date=True):
        self.body, self.status, self.headers, self.date = body, status, list(headers), date
        self.head_delay, self.chunk, self.delay, self.truncate_at = head_delay, chunk, delay, truncate_at
        self.conditional, self.headers_304, self.ranges, self.handler = conditional, headers_304, ranges, handler
        self.chunked = chunked

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def not_modified(self, req):
        inm, ims = req.get("If-None-Match"), req.get("If-Modified-Since")
        if self.conditional is None or (inm is None and ims is None):
            return False
        if self.conditional == "always":
            return True
        if inm is not None:
            etag = self.header("ETag")
            strip = lambda t: t.strip().removeprefix("W/")  # noqa: E731  (weak comparison, as for GET)
            return etag is not None and (inm.strip() == "*" or strip(etag) in [strip(t) for t in inm.split(",")])
        lm = self.header("Last-Modified")
        if lm is None:
            return False
        a, b = email.utils.parsedate_to_datetime(ims), email.utils.parsedate_to_datetime(lm)
        return a >= b

    def answer(self, method, req):
        if self.handler is not None:
            return self.handler(method, req)
        if method in ("GET", "HEAD") and self.not_modified(req):
            keep = ("etag", "last-modified", "cache-control", "expires", "vary", "content-location", "date", "age")
            hdrs = self.headers_304 if self.headers_304 is not None else \
                [(k, v) for k, v in self.headers if k.lower() in keep]
            return 304, hdrs, b""
        rng = req.get("Range")
        if self.ranges and rng and self.status == 200 and isinstance(self.body, bytes):
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if m:
                a = int(m.group(1))
                b = min(int(m.group(2)) if m.group(2) else len(self.body) - 1, len(self.body) - 1)
                return 206, self.headers + [("Content-Range", f"bytes {a}-{b}/{len(self.body)}")], self.body[a:b + 1]
        return self.status, self.headers, self.body


class Seen:
    def __init__(self, method, path, headers):
        self.method, self.path, self.headers = method, path, headers  # headers: an email.message.Message
        self.time = time.monotonic()

    def __repr__(self):
        return f"<{self.method} {self.path} at {self.time:.3f} {dict(self.headers)}>"

    def get(self, name):
        return self.headers.get(name)


class OriginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        path = self.path
        if "://" in path:
            rest = path.split("://", 1)[1]
            path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        srv = self.server
        srv.record(Seen(self.command, path, self.headers))
        res = srv.resources.get(path)
        try:
            if res is None:
                self.write(404, [("Content-Type", "text/plain")], b"no such resource\n", None)
                return
            status, headers, body = res.answer(self.command, self.headers)
            if res.head_delay:
                time.sleep(res.head_delay)
            self.write(status, headers, body, res)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def write(self, status, headers, body, res):
        names = {k.lower() for k, _ in headers}
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('X',))[0]}"]
        if "date" not in names and (res is None or res.date):
            lines.append(f"Date: {http_date(time.time())}")
        lines += [f"{k}: {v}" for k, v in headers]
        length = body.length if isinstance(body, BigBody) else len(body)
        bodyless = status in (204, 304) or status < 200
        chunked = res is not None and res.chunked and not bodyless
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        elif "content-length" not in names and not bodyless:
            lines.append(f"Content-Length: {length}")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if self.command == "HEAD" or bodyless:
            return
        limit = res.truncate_at if res is not None and res.truncate_at is not None else None
        chunk = res.chunk if res is not None and res.chunk else None
        delay = res.delay if res is not None else 0.0
        if isinstance(body, BigBody):
            pieces = body.blocks()
        elif chunk:
            pieces = (body[i:i + chunk] for i in range(0, len(body), chunk))
        else:
            pieces = iter([body])
        if chunked:
            for piece in pieces:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                if delay:
                    time.sleep(delay)
            self.wfile.write(b"0\r\n\r\n")
            return
        sent = 0
        for piece in pieces:
            if limit is not None and sent + len(piece) >= limit:
                self.wfile.write(piece[:limit - sent])
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(piece)
            sent += len(piece)
            if delay:
                time.sleep(delay)


OriginHandler.do_GET = OriginHandler.do_HEAD = OriginHandler.do_POST = OriginHandler.handle_any
OriginHandler.do_PUT = OriginHandler.do_DELETE = OriginHandler.do_PATCH = OriginHandler.handle_any


class CacheOrigin(ThreadingHTTPServer):
    """The test's origin on 127.0.0.1: `serve(path, ...)` sets what a path answers (see Resource) and returns
    its URL; `count(path)` is how many requests for it arrived, `seen(path)` those requests."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self):
        super().__init__(("127.0.0.1", 0), OriginHandler)
        self.lock = threading.Lock()
        self.resources, self.log, self.conns = {}, [], set()
        self.stopped = False
        self.port = self.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def process_request(self, request, client_address):
        with self.lock:
            self.conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def record(self, seen):
        with self.lock:
            self.log.append(seen)

    def serve(self, path, body=b"", status=200, headers=(), **kw):
        self.resources[path] = Resource(body, status, headers, **kw)
        return self.base + path

    def seen(self, path, method=None):
        with self.lock:
            return [s for s in self.log if s.path == path and (method is None or s.method == method)]

    def count(self, path, method=None):
        return len(self.seen(path, method))

    def last(self, path):
        s = self.seen(path)
        assert s, f"the origin never saw {path}"
        return s[-1]

    def stop(self):
        """Stops listening and cuts every open connection: the origin is unreachable afterwards."""
        if self.stopped:
            return
        self.stopped = True
        self.shutdown()
        self.server_close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def site():
    o = CacheOrigin()
    yield o
    o.stop()


# ---------------------------------------------------------------------------------------------------------
# The proxy and requests through it


@pytest.fixture
def launch(start, tmp_path):
    """Starts a caching proxy: launch(*extra_args, cache_dir=None) (default: this test's DIR)."""

    def go(*extra, cache_dir=None):
        d = str(cache_dir or tmp_path / "cache")
        p = start("--cache-dir", d, *extra)
        p.cache_dir = d
        return p

    return go


def request(proxy, url, headers=(), method="GET", body=None, timeout=10.0):
    """One request on a connection of its own (Connection: close); the parsed response."""
    host = url.split("://", 1)[1].split("/", 1)[0]
    if isinstance(headers, dict):
        headers = list(headers.items())
    lines = [f"{method} {url} HTTP/1.1", f"Host: {host}"] + [f"{k}: {v}" for k, v in headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return exchange(proxy.port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""), timeout)


def cache_status(r):
    """The proxy's Cache-Status member: there is exactly one, and it is the last one."""
    entries = [e.strip() for k, v in r.headers if k.lower() == "cache-status" for e in v.split(",") if e.strip()]
    mine = [e for e in entries if e.split(";")[0].strip() == "swproxy"]
    assert len(mine) == 1, f"Cache-Status members {entries} in {r!r}"
    assert entries[-1] == mine[0], f"the proxy's Cache-Status member is not the last: {entries}"
    return mine[0]


def ttl_of(r):
    s = cache_status(r)
    m = HIT_RE.fullmatch(s)
    assert m, f"not a fresh hit: {s!r}"
    return int(m.group(1))


def is_hit(r):
    return cache_status(r).startswith("swproxy; hit")


def settle(proxy, timeout=15.0):
    """Waits until no fill is running (DIR/tmp empty): whatever was being stored is in place."""
    tmp = os.path.join(proxy.cache_dir, "tmp")
    assert eventually(lambda: not os.path.isdir(tmp) or not os.listdir(tmp), timeout), os.listdir(tmp)


def stored_miss(proxy, url, headers=(), expect=MISS_STORED):
    """A request expected to be a storing miss (`expect`: its Cache-Status; None: any); returns once stored."""
    r = request(proxy, url, headers)
    if expect is not None:
        assert cache_status(r) == expect, r
    settle(proxy)
    return r


def cli(swproxy, *args):
    return run([swproxy, "cache", *args], timeout=30)


def stats(swproxy, d):
    r = cli(swproxy, "stats", "--cache-dir", str(d))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    vals = {}
    for key in ("entries", "bytes"):
        m = re.search(rf"^{key}: (\d+)$", out, re.M)
        assert m, f"no '{key}: N' line in {out!r}"
        vals[key] = int(m.group(1))
    return vals


def tmp_empty(d):
    tmp = os.path.join(d, "tmp")
    return not os.path.isdir(tmp) or not os.listdir(tmp)


def entry_files(d):
    out = []
    for root, _, files in os.walk(os.path.join(d, "entries")):
        out += [os.path.join(root, f) for f in files]
    return out


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text, name, labels=""):
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    assert m, f"no {name}{labels} in the metrics"
    return float(m.group(1))


def vm_hwm_kib(proxy):
    with open(f"/proc/{proxy.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Stream:
    """A GET through the proxy read as a stream: the head parsed, the body hashed and counted (never held).
    `pace(self)` runs after each read (a slow reader sleeps there); `size` is the read size."""

    def __init__(self, proxy, url, pace=None, size=MIB, timeout=120.0):
        self.proxy, self.url, self.pace, self.size, self.timeout = proxy, url, pace, size, timeout
        self.received, self.done_at, self.error, self.closed = 0, None, None, False
        self.response = None
        self.digest = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def join(self, timeout=None):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"a client of {self.url} never finished ({self.received} bytes)"
        assert self.error is None, self.error

    def _run(self):
        try:
            host = self.url.split("://", 1)[1].split("/", 1)[0]
            s = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=self.timeout)
            s.sendall(f"GET {self.url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            self.response = Response(head + b"\r\n\r\n")
            h = hashlib.sha256(rest)
            self.received = len(rest)
            buf = bytearray(self.size)
            view = memoryview(buf)
            while True:
                try:
                    n = s.recv_into(buf, self.size)
                except ConnectionResetError:
                    n = 0
                if n == 0:
                    self.closed = True
                    break
                h.update(view[:n])
                self.received += n
                if self.pace:
                    self.pace(self)
            s.close()
            self.digest = h.hexdigest()
        except Exception as e:  # noqa: BLE001  (reported by join)
            self.error = e
        finally:
            self.done_at = time.monotonic()


def stream_and_kill(proxy, url, after, size=MIB):
    """Streams `url` through `proxy` and SIGKILLs the proxy once `after` bytes of the body have arrived; returns
    the finished stream."""
    killed = threading.Event()

    def kill(stream):
        if stream.received >= after and not killed.is_set():
            killed.set()
            proxy.proc.send_signal(signal.SIGKILL)
            proxy.proc.wait()

    s = Stream(proxy, url, pace=kill, size=size, timeout=30).start()
    s.join(60)
    assert killed.is_set(), f"{url}: the stream ended after {s.received} bytes, before the kill"
    return s


# ---------------------------------------------------------------------------------------------------------
# Switching the cache on


def test_without_cache_dir_nothing_changes(start, site):
    url = site.serve("/plain", b"x" * 100, headers=[("Cache-Control", "max-age=3600")])
    p = start()
    for _ in range(2):
        r = request(p, url)
        assert r.status == 200 and r.body == b"x" * 100
        assert r.header("Cache-Status") is None and r.header("Age") is None
    assert site.count("/plain") == 2
    assert log_has(p, r'"GET http://127\.0\.0\.1:\d+/plain HTTP/1\.1" 200 100 "-" "-"$')
    assert "cache=" not in p.read_log()


def dates(r):
    return [v for k, v in r.headers if k.lower() == "date"]


def test_a_response_without_date_is_forwarded_with_its_receipt_time(start, site):
    """RFC 9110 §6.6.1: a proxy with a clock appends the time it received a response without Date; one with
    a Date keeps the origin's, alone."""
    bare = site.serve("/bare", b"b", date=False)
    dated = site.serve("/dated", b"d", headers=[("Date", "Mon, 01 Jan 2024 00:00:00 GMT")])
    p = start()
    before = int(time.time())
    r = request(p, bare)
    after = int(time.time())
    assert r.status == 200 and r.body == b"b"
    (d,) = dates(r)
    assert before <= int(email.utils.parsedate_to_datetime(d).timestamp()) <= after, d
    assert d.endswith(" GMT") and d == http_date(email.utils.parsedate_to_datetime(d).timestamp())  # IMF-fixdate
    assert dates(request(p, dated)) == ["Mon, 01 Jan 2024 00:00:00 GMT"]


def test_expires_without_date_is_fresh_from_receipt(launch, site):
    """RFC 9111 §4.2.1: Expires minus Date, with the time the response was received for a missing Date (it
    was taken as never fresh: every request went to the origin). The stored response carries that Date."""
    url = site.serve("/expires", b"e", headers=[("Expires", http_date(time.time() + 3600))], date=False)
    p = launch()
    first = stored_miss(p, url)
    r = request(p, url)
    assert r.status == 200 and r.body == b"e" and is_hit(r)
    assert 3500 <= ttl_of(r) <= 3600
    assert dates(r) == dates(first) and len(dates(r)) == 1
    assert site.count("/expires") == 1


def test_cache_dir_is_created_and_config_file_options(start, site, tmp_path):
    d = tmp_path / "made-by-swproxy"  # one missing level: DIR is created
    conf = tmp_path / "swproxy.conf"
    conf.write_text(f"cache-dir = {d}\ncache-size = 10M\ncache-max-object = 1K\n")
    small = site.serve("/small", b"s" * 500, headers=[("Cache-Control", "max-age=3600")])
    large = site.serve("/large", b"l" * 5000, headers=[("Cache-Control", "max-age=3600")])
    p = start("--config", str(conf))
    p.cache_dir = str(d)
    assert eventually(lambda: os.path.isdir(d), 5)  # (the spec does not order it before the listening socket)
    stored_miss(p, small)
    assert is_hit(request(p, small))
    assert cache_status(request(p, large)) == MISS_NOT_STORED  # over cache-max-object = 1K
    assert cache_status(request(p, large)) == MISS_NOT_STORED
    assert site.count("/small") == 1 and site.count("/large") == 2


def test_cache_status_is_appended_to_the_origins(launch, site):
    url = site.serve("/cs", b"body", headers=[("Cache-Control", "max-age=3600"), ("Cache-Status", "upstream; hit")])
    p = launch()
    r = stored_miss(p, url)
    assert [e.strip() for k, v in r.headers if k.lower() == "cache-status" for e in v.split(",")] == \
        ["upstream; hit", MISS_STORED]
    r = request(p, url)
    assert HIT_RE.fullmatch(cache_status(r))  # the miss's own member was not stored with the entry
    assert "upstream; hit" in [e.strip() for k, v in r.headers if k.lower() == "cache-status" for e in v.split(",")]


def test_reverse_mode_caches_origin_form_requests(start, site, tmp_path, swproxy):
    site.serve("/rv/a", b"reverse", headers=[("Cache-Control", "max-age=3600")])
    d = tmp_path / "cache"
    p = start("--reverse", site.base, "--cache-dir", str(d))
    p.cache_dir = str(d)
    raw = b"GET /rv/a HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n"
    r = exchange(p.port, raw)
    assert r.body == b"reverse" and cache_status(r) == MISS_STORED
    settle(p)
    r = exchange(p.port, raw)
    assert r.body == b"reverse" and HIT_RE.fullmatch(cache_status(r))
    assert site.count("/rv/a") == 1
    # The key is the upstream URL.
    out = cli(swproxy, "purge", "--cache-dir", str(d), f"{site.base}/rv/a")
    assert out.returncode == 0 and f"purged {site.base}/rv/a" in out.stdout.decode(), out
    assert cache_status(exchange(p.port, raw)) == MISS_STORED


def test_key_lowercases_the_host(launch, site):
    site.serve("/k", b"key", headers=[("Cache-Control", "max-age=3600")])
    p = launch()
    stored_miss(p, f"http://LOCALHOST:{site.port}/k")
    r = request(p, f"http://localhost:{site.port}/k")
    assert r.body == b"key" and is_hit(r)
    assert site.count("/k") == 1


# ---------------------------------------------------------------------------------------------------------
# Storability


NOT_STORED = {
    "response-no-store": ({}, 200, [("Cache-Control", "max-age=3600, no-store")], MISS_NOT_STORED),
    "private": ({}, 200, [("Cache-Control", "private, max-age=3600")], MISS_NOT_STORED),
    "set-cookie": ({}, 200, [("Cache-Control", "max-age=3600"), ("Set-Cookie", "s=1; Path=/")], MISS_NOT_STORED),
    "vary-star": ({}, 200, [("Cache-Control", "max-age=3600"), ("Vary", "*")], MISS_NOT_STORED),
    "no-freshness-no-validator": ({}, 200, [], MISS_NOT_STORED),
    "origin-206": ({}, 206, [("Cache-Control", "max-age=3600"), ("Content-Range", "bytes 0-9/100")],
                   "swproxy; fwd=uri-miss; fwd-status=206"),
    "origin-304": ({}, 304, [("Cache-Control", "max-age=3600"), ("ETag", '"e"')],
                   "swproxy; fwd=uri-miss; fwd-status=304"),
    "authorization": ({"Authorization": "Basic dXNlcjpwdw=="}, 200, [("Cache-Control", "max-age=3600")], BYPASS),
    "request-no-store": ({"Cache-Control": "no-store"}, 200, [("Cache-Control", "max-age=3600")], BYPASS),
}


@pytest.mark.parametrize("case", list(NOT_STORED))
def test_not_stored(launch, site, case):
    req, status, headers, expect = NOT_STORED[case]
    url = site.serve("/ns", b"0123456789", status=status, headers=headers, conditional=None)
    p = launch()
    got = []
    for i in range(2):
        r = request(p, url, req)
        assert r.status == status
        got.append(cache_status(r))
        settle(p)
    assert site.count("/ns") == 2
    assert entry_files(p.cache_dir) == []
    assert got == [expect, expect]


STORED = {
    "max-age": ({}, 200, [("Cache-Control", "max-age=3600")]),
    "404-with-max-age": ({}, 404, [("Cache-Control", "max-age=3600")]),
    "authorization-public": ({"Authorization": "Basic dXNlcjpwdw=="}, 200, [("Cache-Control", "public, max-age=3600")]),
    "authorization-s-maxage": ({"Authorization": "Basic dXNlcjpwdw=="}, 200, [("Cache-Control", "s-maxage=3600")]),
    "authorization-must-revalidate": ({"Authorization": "Basic dXNlcjpwdw=="}, 200,
                                      [("Cache-Control", "max-age=3600, must-revalidate")]),
}


@pytest.mark.parametrize("case", list(STORED))
def test_stored_and_hit(launch, site, case):
    req, status, headers = STORED[case]
    url = site.serve("/st", b"stored body", status=status, headers=headers)
    p = launch()
    stored_miss(p, url, req, expect=f"swproxy; fwd=uri-miss; fwd-status={status}; stored")
    r = request(p, url, req)
    assert r.status == status and r.body == b"stored body"
    assert 3590 <= ttl_of(r) <= 3600
    assert site.count("/st") == 1
    assert len(entry_files(p.cache_dir)) == 1


def test_validator_only_is_stored_and_revalidated(launch, site):
    url = site.serve("/vo", b"validated", headers=[("ETag", '"vo"')])
    p = launch()
    stored_miss(p, url)
    r = request(p, url)
    assert r.status == 200 and r.body == b"validated" and cache_status(r) == STALE_304
    assert site.last("/vo").get("If-None-Match") == '"vo"'


def test_post_is_not_stored(launch, site):
    url = site.serve("/post", b"posted", headers=[("Cache-Control", "max-age=3600")])
    p = launch()
    posted = request(p, url, method="POST", body=b"a=1")
    assert posted.status == 200
    settle(p)
    assert cache_status(request(p, url)) == MISS_STORED
    assert [s.method for s in site.seen("/post")] == ["POST", "GET"]
    assert cache_status(posted) == BYPASS  # "not cacheable request (method ...)"


def test_head_miss_is_forwarded_and_stores_nothing(launch, site):
    url = site.serve("/hm", b"h" * 321, headers=[("Cache-Control", "max-age=3600")])
    p = launch()
    r = request(p, url, method="HEAD")
    assert r.status == 200 and r.header("Content-Length") == "321" and r.rest == b""
    settle(p)
    assert cache_status(request(p, url)) == MISS_STORED
    assert [s.method for s in site.seen("/hm")] == ["HEAD", "GET"]


def test_body_over_max_object_is_not_stored(launch, site):
    big = site.serve("/big", b"b" * 5000, headers=[("Cache-Control", "max-age=3600")])
    small = site.serve("/small", b"s" * 1000, headers=[("Cache-Control", "max-age=3600")])
    p = launch("--cache-max-object", "4096")  # plain bytes
    for _ in range(2):
        r = request(p, big)
        assert r.body == b"b" * 5000 and cache_status(r) == MISS_NOT_STORED
    stored_miss(p, small)
    assert is_hit(request(p, small))
    assert site.count("/big") == 2 and site.count("/small") == 1


def test_chunked_body_over_max_object_reaches_the_client_whole_and_is_not_stored(launch, site):
    """No Content-Length to judge by: the fill finds out as the body grows, and gives up on storing only."""
    data = os.urandom(64 * KIB)
    url = site.serve("/chunked", data, headers=[("Cache-Control", "max-age=3600")], chunked=True, chunk=4 * KIB)
    small = site.serve("/chunked-small", data[:500], headers=[("Cache-Control", "max-age=3600")], chunked=True,
                       chunk=100)
    p = launch("--cache-max-object", "16K")
    for _ in range(2):
        r = request(p, url)
        assert r.status == 200 and r.complete and r.body == data
        settle(p)
    assert site.count("/chunked") == 2
    assert entry_files(p.cache_dir) == []
    r = request(p, small)
    assert r.body == data[:500] and cache_status(r) == MISS_STORED
    settle(p)
    r = request(p, small)
    assert r.body == data[:500] and is_hit(r)
    assert site.count("/chunked-small") == 1


# ---------------------------------------------------------------------------------------------------------
# Freshness


def _fresh_cases():
    now = time.time()
    d = http_date
    return {
        "max-age": ([("Cache-Control", "max-age=3600")], (3590, 3600)),
        "s-maxage-over-max-age": ([("Cache-Control", "max-age=10, s-maxage=3600")], (3590, 3600)),
        "s-maxage-zero-over-max-age": ([("Cache-Control", "max-age=3600, s-maxage=0"), ("ETag", '"f"')], None),
        "max-age-over-expires": ([("Cache-Control", "max-age=3600"), ("Expires", d(now - 100))], (3590, 3600)),
        "expires-minus-date": ([("Date", d(now)), ("Expires", d(now + 1000))], (990, 1000)),
        # The origin's clock runs 500 s ahead: the lifetime is Expires - Date (100 s), not Expires - now.
        "expires-minus-date-skewed": ([("Date", d(now + 500)), ("Expires", d(now + 600))], (90, 100)),
        "expires-past": ([("Date", d(now)), ("Expires", d(now - 10)), ("ETag", '"f"')], None),
        "expires-invalid": ([("Expires", "0"), ("ETag", '"f"')], None),
        "heuristic-10-percent": ([("Date", d(now)), ("Last-Modified", d(now - 1000))], (90, 100)),
        "heuristic-at-most-a-day": ([("Date", d(now)), ("Last-Modified", d(now - 30 * 86400))], (86390, 86400)),
        "no-heuristic-with-expires": ([("Date", d(now)), ("Expires", d(now - 10)),
                                       ("Last-Modified", d(now - 30 * 86400))], None),
    }


@pytest.mark.parametrize("case", list(_fresh_cases()))
def test_freshness(launch, site, case):
    headers, ttl = _fresh_cases()[case]
    url = site.serve("/fr", b"freshness", headers=headers)
    p = launch()
    stored_miss(p, url)
    r = request(p, url)
    assert r.status == 200 and r.body == b"freshness"
    if ttl is None:
        assert cache_status(r) == STALE_304, r
        assert site.count("/fr") == 2
    else:
        assert ttl[0] <= ttl_of(r) <= ttl[1], r
        assert site.count("/fr") == 1


@pytest.mark.parametrize("status,extra,heuristic", [
    (200, [], True), (301, [("Location", "/elsewhere")], True), (404, [], True), (410, [], True),
    (302, [("Location", "/elsewhere")], False), (307, [("Location", "/elsewhere")], False),
    (302, [("Location", "/elsewhere"), ("Cache-Control", "public")], True),
])
def test_heuristic_freshness_by_status(launch, site, status, extra, heuristic):
    now = time.time()
    url = site.serve("/hs", b"heuristic", status=status,
                     headers=[("Date", http_date(now)), ("Last-Modified", http_date(now - 1000))] + extra)
    p = launch()
    r = request(p, url)
    assert r.status == status
    settle(p)
    r = request(p, url)
    assert r.status == status and r.body == b"heuristic"
    if heuristic:
        assert 90 <= ttl_of(r) <= 100
        assert site.count("/hs") == 1
    else:
        assert not is_hit(r), r
        assert site.count("/hs") == 2


def test_age_on_hits(launch, site):
    url = site.serve("/age", b"aged", headers=[("Cache-Control", "max-age=3600")])
    p = launch()
    r = stored_miss(p, url)
    r = request(p, url)
    assert is_hit(r) and 0 <= int(r.header("Age")) <= 3


def test_age_counts_the_origins_age(launch, site):
    url = site.serve("/age", b"aged", headers=[("Cache-Control", "max-age=3600"), ("Age", "100")])
    p = launch()
    stored_miss(p, url)
    r = request(p, url)
    assert 100 <= int(r.header("Age")) <= 104
    assert 3495 <= ttl_of(r) <= 3500


# ---------------------------------------------------------------------------------------------------------
# Vary


def test_vary_stores_each_variant(launch, site):
    def by_language(method, req):
        lang = req.get("Accept-Language") or "none"
        return 200, [("Cache-Control", "max-age=3600"), ("Vary", "Accept-Language")], f"lang {lang}".encode()

    url = site.serve("/vary", handler=by_language)
    p = launch()
    en, fr, de = ({"Accept-Language": x} for x in ("en", "fr", "de"))
    misses = []
    r = stored_miss(p, url, en, expect=None)
    assert r.body == b"lang en"
    misses.append(cache_status(r))
    r = stored_miss(p, url, fr, expect=None)
    assert r.body == b"lang fr"
    misses.append(cache_status(r))
    for h, body in ((en, b"lang en"), (fr, b"lang fr"), (en, b"lang en")):
        r = request(p, url, h)
        assert r.body == body and is_hit(r), r
    r = request(p, url, de)
    assert r.body == b"lang de"
    misses.append(cache_status(r))
    assert site.count("/vary") == 3
    assert misses == [MISS_STORED, VARY_MISS_STORED, VARY_MISS_STORED]


# ---------------------------------------------------------------------------------------------------------
# Revalidation


def test_response_no_cache_is_revalidated_every_time(launch, site):
    url = site.serve("/nc", b"n" * 700, headers=[("Cache-Control", "no-cache, max-age=3600"), ("ETag", '"n1"')])
    p = launch()
    stored_miss(p, url)
    for i in range(3):
        r = request(p, url)
        assert r.status == 200 and r.body == b"n" * 700
        assert cache_status(r) == STALE_304
        assert site.last("/nc").get("If-None-Match") == '"n1"'
        assert site.count("/nc") == 2 + i
    assert log_has(p, r'/nc HTTP/1\.1" 200 700 "-" "-" cache=REVALIDATED$')


@pytest.mark.parametrize("directive", ["must-revalidate", "proxy-revalidate"])
def test_must_revalidate_is_never_served_stale(launch, site, directive):
    url = site.serve("/mr", b"must", headers=[("Cache-Control", f"max-age=0, {directive}"), ("ETag", '"m"')])
    p = launch()
    stored_miss(p, url)
    r = request(p, url, {"Cache-Control": "max-stale=1000"})
    assert r.body == b"must" and cache_status(r) == STALE_304
    assert site.count("/mr") == 2 and site.last("/mr").get("If-None-Match") == '"m"'


def test_revalidation_with_if_none_match(launch, site):
    url = site.serve("/inm", b"etagged", headers=[("Cache-Control", "max-age=0"), ("ETag", '"e1"'),
                                                  ("Last-Modified", http_date(time.time() - 100))])
    p = launch()
    stored_miss(p, url)
    r = request(p, url)
    assert r.status == 200 and r.body == b"etagged" and cache_status(r) == STALE_304
    seen = site.last("/inm")
    assert seen.get("If-None-Match") == '"e1"'


def test_revalidation_with_if_modified_since(launch, site):
    lm = http_date(time.time() - 1000)
    url = site.serve("/ims", b"dated", headers=[("Cache-Control", "max-age=0"), ("Last-Modified", lm)])
    p = launch()
    stored_miss(p, url)
    r = request(p, url)
    assert r.status == 200 and r.body == b"dated" and cache_status(r) == STALE_304
    seen = site.last("/ims")
    assert seen.get("If-Modified-Since") == lm and seen.get("If-None-Match") is None


def test_304_updates_the_stored_headers(launch, site):
    res_headers = [("Cache-Control", "max-age=0"), ("ETag", '"v1"'), ("X-Version", "1")]
    url = site.serve("/upd", b"one", headers=res_headers, conditional="always",
                     headers_304=[("Cache-Control", "max-age=3600"), ("ETag", '"v2"'), ("X-Version", "2")])
    p = launch()
    stored_miss(p, url)
    r = request(p, url)
    assert r.body == b"one" and cache_status(r) == STALE_304
    assert site.last("/upd").get("If-None-Match") == '"v1"'
    assert r.header("ETag") == '"v2"' and r.header("X-Version") == "2"
    settle(p)
    r = request(p, url)  # fresh again: the 304's max-age=3600
    assert r.body == b"one" and 3590 <= ttl_of(r) <= 3600
    assert r.header("ETag") == '"v2"' and r.header("Cache-Control") == "max-age=3600"
    assert site.count("/upd") == 2
    r = request(p, url, {"Cache-Control": "no-cache"})  # the next revalidation names the new ETag
    assert cache_status(r) == REQUEST_304
    assert site.last("/upd").get("If-None-Match") == '"v2"'


def test_stale_entry_replaced_by_a_200(launch, site):
    url = site.serve("/rep", b"old", headers=[("Cache-Control", "max-age=0"), ("ETag", '"old"')])
    p = launch()
    stored_miss(p, url)
    site.serve("/rep", b"new", headers=[("Cache-Control", "max-age=3600"), ("ETag", '"new"')])
    r = request(p, url)
    assert r.body == b"new" and cache_status(r) == STALE_200
    assert site.last("/rep").get("If-None-Match") == '"old"'
    settle(p)
    r = request(p, url)
    assert r.body == b"new" and is_hit(r)
    assert site.count("/rep") == 2


@pytest.mark.parametrize("cc,serves_stale", [
    ("max-age=0", True), ("max-age=0, must-revalidate", False), ("max-age=0, proxy-revalidate", False),
    ("no-cache", False), ("s-maxage=0", False),
])
def test_origin_unreachable_during_revalidation(launch, site, cc, serves_stale):
    url = site.serve("/down", b"kept", headers=[("Cache-Control", cc), ("ETag", '"d"')])
    p = launch()
    stored_miss(p, url)
    site.stop()
    r = request(p, url)
    if serves_stale:
        assert r.status == 200 and r.body == b"kept"
        assert cache_status(r) == STALE_UNREACHABLE
        assert log_has(p, r'/down HTTP/1\.1" 200 4 "-" "-" cache=STALE$')
    else:
        assert r.status in (502, 504), r
        assert r.body != b"kept"


# ---------------------------------------------------------------------------------------------------------
# Invalidation by unsafe methods


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_unsafe_method_invalidates_the_target(launch, site, method):
    url = site.serve("/inv", b"cached", headers=[("Cache-Control", "max-age=3600")])
    p = launch()
    stored_miss(p, url)
    r = request(p, url, method=method, body=b"x")
    assert r.status == 200
    settle(p)
    assert cache_status(request(p, url)) == MISS_STORED
    assert site.count("/inv", "GET") == 2


def test_unsafe_method_with_an_error_does_not_invalidate(launch, site):
    url = site.serve("/inv", b"cached", headers=[("Cache-Control", "max-age=3600")])
    p = launch()
    stored_miss(p, url)
    site.resources["/inv"] = Resource(b"nope", 405, [("Allow", "GET")])
    assert request(p, url, method="DELETE").status == 405
    site.resources["/inv"] = Resource(b"oops", 500)
    assert request(p, url, method="POST", body=b"x").status == 500
    r = request(p, url)
    assert r.body == b"cached" and is_hit(r)
    assert site.count("/inv", "GET") == 1


@pytest.mark.parametrize("field,value", [
    ("Location", "/inv/a"),  # relative: resolved against the target
    ("Location", "ABS/inv/a"),
    ("Content-Location", "ABS/inv/a"),
])
def test_unsafe_method_invalidates_same_origin_location(launch, site, field, value):
    url = site.serve("/inv/a", b"cached", headers=[("Cache-Control", "max-age=3600")])
    site.serve("/inv/form", b"created", status=201, headers=[(field, value.replace("ABS", site.base))])
    p = launch()
    stored_miss(p, url)
    assert request(p, site.base + "/inv/form", method="POST", body=b"x").status == 201
    settle(p)
    assert cache_status(request(p, url)) == MISS_STORED
    assert site.count("/inv/a") == 2


def test_other_origin_location_is_not_invalidated(launch, site):
    other = f"http://localhost:{site.port}/inv/a"
    site.serve("/inv/a", b"cached", headers=[("Cache-Control", "max-age=3600")])
    site.serve("/inv/form", b"created", status=201, headers=[("Location", other)])
    p = launch()
    stored_miss(p, other)
    assert request(p, site.base + "/inv/form", method="POST", body=b"x").status == 201
    assert is_hit(request(p, other))


# ---------------------------------------------------------------------------------------------------------
# Request directives and client conditionals


@pytest.mark.parametrize("headers", [{"Cache-Control": "no-cache"}, {"Cache-Control": "max-age=0"},
                                     {"Pragma": "no-cache"}], ids=["no-cache", "max-age=0", "pragma"])
def test_client_asks_to_revalidate(launch, site, headers):
    url = site.serve("/rq", b"fresh", headers=[("Cache-Control", "max-age=3600"), ("ETag", '"rq"')])
    p = launch()
    stored_miss(p, url)
    r = request(p, url, headers)
    assert r.status == 200 and r.body == b"fresh" and cache_status(r) == REQUEST_304
    assert site.count("/rq") == 2 and site.last("/rq").get("If-None-Match") == '"rq"'


def test_client_no_cache_with_a_changed_object(launch, site):
    url = site.serve("/rq", b"first", headers=[("Cache-Control", "max-age=3600"), ("ETag", '"1"')])
    p = launch()
    stored_miss(p, url)
    site.serve("/rq", b"second", headers=[("Cache-Control", "max-age=3600"), ("ETag", '"2"')])
    r = request(p, url, {"Cache-Control": "no-cache"})
    assert r.body == b"second" and cache_status(r) == REQUEST_200
    settle(p)
    r = request(p, url)
    assert r.body == b"second" and is_hit(r)


def test_client_max_age(launch, site):
    url = site.serve("/ma", b"ma", headers=[("Cache-Control", "max-age=3600"), ("Age", "100"), ("ETag", '"ma"')])
    p = launch()
    stored_miss(p, url)
    assert is_hit(request(p, url, {"Cache-Control": "max-age=500"}))
    assert site.count("/ma") == 1
    r = request(p, url, {"Cache-Control": "max-age=50"})  # the entry is 100 s old
    assert r.body == b"ma" and not is_hit(r)
    assert site.count("/ma") == 2 and site.last("/ma").get("If-None-Match") == '"ma"'


def test_client_min_fresh(launch, site):
    url = site.serve("/mf", b"mf", headers=[("Cache-Control", "max-age=100"), ("ETag", '"mf"')])
    p = launch()
    stored_miss(p, url)
    assert is_hit(request(p, url, {"Cache-Control": "min-fresh=10"}))
    assert site.count("/mf") == 1
    r = request(p, url, {"Cache-Control": "min-fresh=200"})
    assert r.body == b"mf" and not is_hit(r)
    assert site.count("/mf") == 2


def test_client_max_stale(launch, site):
    # 100 s old with a 50 s lifetime: stale by 50 s.
    url = site.serve("/ms", b"ms", headers=[("Cache-Control", "max-age=50"), ("Age", "100"), ("ETag", '"ms"')])
    p = launch()
    stored_miss(p, url)
    for cc in ("max-stale=1000", "max-stale"):
        r = request(p, url, {"Cache-Control": cc})
        assert r.body == b"ms" and is_hit(r), (cc, r)
    assert site.count("/ms") == 1
    r = request(p, url, {"Cache-Control": "max-stale=10"})
    assert r.body == b"ms" and not is_hit(r)
    assert site.count("/ms") == 2


def test_only_if_cached(launch, site):
    url = site.serve("/oic", b"oic", headers=[("Cache-Control", "max-age=3600")])
    stale = site.serve("/oic-stale", b"stale", headers=[("Cache-Control", "max-age=0"), ("ETag", '"s"')])
    p = launch()
    r = request(p, url, {"Cache-Control": "only-if-cached"})
    assert r.status == 504
    assert site.count("/oic") == 0
    stored_miss(p, url)
    r = request(p, url, {"Cache-Control": "only-if-cached"})
    assert r.status == 200 and r.body == b"oic" and is_hit(r)
    stored_miss(p, stale)
    assert request(p, stale, {"Cache-Control": "only-if-cached"}).status == 504  # nothing usable: it is stale
    assert site.count("/oic") == 1 and site.count("/oic-stale") == 1


def test_request_no_store_bypasses_a_stored_entry(launch, site):
    url = site.serve("/nst", b"nst", headers=[("Cache-Control", "max-age=3600")])
    p = launch()
    stored_miss(p, url)
    r = request(p, url, {"Cache-Control": "no-store"})
    assert r.body == b"nst"
    assert site.count("/nst") == 2
    assert is_hit(request(p, url))
    assert cache_status(r) == BYPASS


def test_client_conditionals_answered_from_a_fresh_entry(launch, site):
    lm = http_date(time.time() - 1000)
    url = site.serve("/cc", b"c" * 50, headers=[("Cache-Control", "max-age=3600"), ("ETag", '"c1"'),
                                                ("Last-Modified", lm)])
    p = launch()
    stored_miss(p, url)
    r = request(p, url, {"If-None-Match": '"c1"'})
    assert r.status == 304 and r.rest == b"" and r.header("ETag") == '"c1"' and is_hit(r)
    r = request(p, url, {"If-Modified-Since": lm})
    assert r.status == 304 and r.rest == b"" and is_hit(r)
    r = request(p, url, {"If-None-Match": '"other"'})
    assert r.status == 200 and r.body == b"c" * 50 and is_hit(r)
    assert site.count("/cc") == 1


def test_head_from_a_stored_get(launch, site):
    url = site.serve("/head", b"h" * 1000, headers=[("Cache-Control", "max-age=3600"), ("ETag", '"h"')])
    p = launch()
    stored_miss(p, url)
    r = request(p, url, method="HEAD")
    assert r.status == 200 and r.rest == b"" and r.header("Content-Length") == "1000" and is_hit(r)
    assert r.header("ETag") == '"h"'
    assert site.count("/head") == 1
    assert log_has(p, r'"HEAD http://127\.0\.0\.1:\d+/head HTTP/1\.1" 200 0 "-" "-" cache=HIT$')


# ---------------------------------------------------------------------------------------------------------
# Ranges


def _range_entry(launch, site):
    data = bytes(range(256)) * 4  # 1,000 bytes after the cut
    data = data[:1000]
    lm = http_date(time.time() - 1000)
    url = site.serve("/rng", data, headers=[("Cache-Control", "max-age=3600"), ("ETag", '"r1"'), ("Last-Modified", lm)])
    p = launch()
    stored_miss(p, url)
    return p, url, data, lm


@pytest.mark.parametrize("spec,first,last", [
    ("bytes=0-99", 0, 99), ("bytes=900-", 900, 999), ("bytes=-100", 900, 999), ("bytes=500-5000", 500, 999),
    ("bytes=999-999", 999, 999),
])
def test_range_from_a_stored_entry(launch, site, spec, first, last):
    p, url, data, _ = _range_entry(launch, site)
    r = request(p, url, {"Range": spec})
    assert r.status == 206, r
    assert r.header("Content-Range") == f"bytes {first}-{last}/1000"
    assert r.header("Content-Length") == str(last - first + 1)
    assert r.body == data[first:last + 1]
    assert is_hit(r)
    assert site.count("/rng") == 1


def test_unsatisfiable_range_is_416(launch, site):
    p, url, _, _ = _range_entry(launch, site)
    r = request(p, url, {"Range": "bytes=1000-"})
    assert r.status == 416 and r.header("Content-Range") == "bytes */1000"
    assert site.count("/rng") == 1


def test_several_ranges_get_the_whole_200(launch, site):
    p, url, data, _ = _range_entry(launch, site)
    r = request(p, url, {"Range": "bytes=0-1,5-6"})
    assert r.status == 200 and r.body == data
    assert site.count("/rng") == 1


def test_if_range(launch, site):
    p, url, data, lm = _range_entry(launch, site)
    for validator in ('"r1"', lm):
        r = request(p, url, {"Range": "bytes=10-19", "If-Range": validator})
        assert r.status == 206 and r.body == data[10:20], validator
    for validator in ('"other"', 'W/"r1"', http_date(time.time() - 5000)):
        r = request(p, url, {"Range": "bytes=10-19", "If-Range": validator})
        assert r.status == 200 and r.body == data, validator
    assert site.count("/rng") == 1


def test_range_for_an_uncached_object_fetches_it_whole(launch, site):
    data = os.urandom(1000)
    url = site.serve("/rcold", data, headers=[("Cache-Control", "max-age=3600")], ranges=True)
    p = launch()
    r = request(p, url, {"Range": "bytes=10-19"})
    assert r.status == 206 and r.header("Content-Range") == "bytes 10-19/1000" and r.body == data[10:20]
    seen = site.seen("/rcold")
    assert len(seen) == 1 and seen[0].get("Range") is None
    settle(p)
    r = request(p, url)
    assert r.status == 200 and r.body == data and is_hit(r)
    assert site.count("/rcold") == 1


def test_range_from_a_fill_as_its_bytes_arrive(launch, site):
    big = BigBody(8)
    url = site.serve("/rfill", big, headers=[("Cache-Control", "max-age=3600")], delay=0.25)
    p = launch()
    s = Stream(p, url).start()
    assert eventually(lambda: s.received >= MIB, 10)
    r = request(p, url, {"Range": "bytes=100-199"})  # the first MiB is in; the fill goes on for 1.5 s more
    assert r.status == 206 and r.header("Content-Range") == f"bytes 100-199/{big.length}"
    assert r.body == big.prefix(200)[100:]
    assert s.thread.is_alive(), "the fill was over already: this test says nothing"
    s.join(30)
    assert s.digest == big.sha256
    assert site.count("/rfill") == 1


def test_range_for_an_object_too_big_to_store_is_forwarded(launch, site):
    data = os.urandom(5000)
    url = site.serve("/rbig", data, headers=[("Cache-Control", "max-age=3600")], ranges=True)
    p = launch("--cache-max-object", "1K")
    r = request(p, url, {"Range": "bytes=10-19"})
    assert r.status == 206 and r.body == data[10:20], r
    assert site.last("/rbig").get("Range") == "bytes=10-19"
    settle(p)
    assert entry_files(p.cache_dir) == []


# ---------------------------------------------------------------------------------------------------------
# Coalescing


def test_coalescing_fifty_clients_for_a_cold_100_mib_object(launch, site):
    big = BigBody(100)
    url = site.serve("/big", big, headers=[("Cache-Control", "max-age=3600"), ("ETag", '"big"')],
                     head_delay=0.5, delay=0.005)
    p = launch()
    fast_done = threading.Event()

    def slowly(stream):
        if not fast_done.is_set():
            time.sleep(0.05)  # 32 KiB per 50 ms until the others are done

    slow = Stream(p, url, pace=slowly, size=32 * KIB)
    fast = [Stream(p, url) for _ in range(49)]
    with p.peak_rss(0.2) as peak:
        slow.start()
        for s in fast:
            s.start()
        deadline = time.monotonic() + 150
        for s in fast:
            s.join(max(1, deadline - time.monotonic()))
        slow_at_done = slow.received
        fast_done.set()
        slow.join(60)
    hwm = vm_hwm_kib(p)
    assert site.count("/big") == 1
    statuses = []
    for s in [slow] + fast:
        assert s.response.status == 200 and s.response.header("Content-Length") == str(big.length)
        assert s.received == big.length and s.digest == big.sha256
        statuses.append(cache_status(s.response))
    # The slow reader held nobody back: every other client had its 100 MiB while it was not half way.
    assert max(s.done_at for s in fast) < slow.done_at
    assert slow_at_done < big.length // 2, slow_at_done
    assert hwm < 200 * 1024 and peak.kib < 200 * 1024, (hwm, peak.kib)
    settle(p)
    r = request(p, url, {"Range": "bytes=0-15"})
    assert is_hit(r) and r.body == big.prefix(16)
    assert log_has(p, r'/big HTTP/1\.1" 200 \d+ "-" "-" cache=COALESCED$')
    assert statuses.count(MISS_STORED) == 1, statuses
    assert all(x == MISS_STORED or COLLAPSED_RE.fullmatch(x) for x in statuses), sorted(set(statuses))


def test_coalesced_waiters_forwarded_alone_when_not_storable(launch, site):
    url = site.serve("/priv", b"p" * 1000, headers=[("Cache-Control", "private, max-age=3600")], head_delay=0.5)
    p = launch()
    results = [None] * 3

    def one(i):
        results[i] = request(p, url)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(30)
    assert all(r is not None and r.status == 200 and r.body == b"p" * 1000 for r in results)
    assert site.count("/priv") == 3


def test_upstream_failure_mid_body_truncates_every_client_and_stores_nothing(launch, site):
    big = BigBody(10)
    # The first half comes slowly, so that every client has joined the fill before it fails.
    url = site.serve("/trunc", big, headers=[("Cache-Control", "max-age=3600")], head_delay=0.3, delay=0.2,
                     truncate_at=big.length // 2)
    p = launch()
    streams = [Stream(p, url, timeout=30) for _ in range(5)]
    for s in streams:
        s.start()
    for s in streams:
        s.join(60)
    assert site.count("/trunc") == 1, (site.seen("/trunc"), [(s.done_at, cache_status(s.response)) for s in streams])
    for s in streams:
        assert s.response.status == 200 and s.response.header("Content-Length") == str(big.length)
        assert s.closed and s.received < big.length, s.received
    settle(p)
    assert entry_files(p.cache_dir) == []
    site.resources["/trunc"].truncate_at = None
    s = Stream(p, url).start()
    s.join(60)
    assert cache_status(s.response) == MISS_STORED
    assert s.received == big.length and s.digest == big.sha256
    assert site.count("/trunc") == 2


# ---------------------------------------------------------------------------------------------------------
# Crash safety and the size bound


def test_sigkill_mid_fill_leaves_nothing_partial(launch, site, swproxy):
    big = BigBody(64)
    url = site.serve("/crash", big, headers=[("Cache-Control", "max-age=3600")], delay=0.03)
    done = site.serve("/done", b"complete" * 1000, headers=[("Cache-Control", "max-age=3600")])
    p = launch()
    stored_miss(p, done)
    s = stream_and_kill(p, url, 8 * MIB)
    assert s.received < big.length
    p.stop()
    site.resources["/crash"].delay = 0
    p2 = launch(cache_dir=p.cache_dir)
    assert eventually(lambda: tmp_empty(p.cache_dir), 5)
    assert len(entry_files(p.cache_dir)) == 1  # /done only
    assert stats(swproxy, p.cache_dir)["entries"] == 1
    r = request(p2, done)  # what was complete before the kill is still served
    assert r.body == b"complete" * 1000 and is_hit(r)
    s = Stream(p2, url).start()
    s.join(60)
    assert cache_status(s.response) == MISS_STORED
    assert s.received == big.length and s.digest == big.sha256
    assert site.count("/crash") == 2 and site.count("/done") == 1
    settle(p2)
    assert len(entry_files(p.cache_dir)) == 2


def test_entries_survive_a_restart(launch, site, swproxy):
    lm = http_date(time.time() - 1000)
    urls = [site.serve(f"/keep/{i}", f"kept {i}".encode() * 100,
                       headers=[("Cache-Control", "max-age=3600"), ("ETag", f'"k{i}"'), ("Last-Modified", lm)])
            for i in range(3)]
    p = launch()
    for u in urls:
        stored_miss(p, u)
    assert p.stop() == 0
    time.sleep(1.1)
    p2 = launch(cache_dir=p.cache_dir)  # the index is rebuilt from the directory
    assert stats(swproxy, p.cache_dir)["entries"] == 3
    for i, u in enumerate(urls):
        r = request(p2, u)
        assert r.body == f"kept {i}".encode() * 100 and is_hit(r), r
        assert r.header("ETag") == f'"k{i}"' and r.header("Last-Modified") == lm
        assert int(r.header("Age")) >= 1  # the time it spent stored while no proxy ran counts
        assert ttl_of(r) <= 3599
    assert all(site.count(f"/keep/{i}") == 1 for i in range(3))


def test_cache_size_bound_holds_through_eviction_and_a_kill(launch, site, swproxy):
    limit = MIB
    mport = free_port()
    p = launch("--cache-size", "1M", "--metrics-listen", f"127.0.0.1:{mport}")
    assert wait_port(mport)
    objects = {}
    for i in range(6):
        objects[i] = os.urandom(300 * KIB)
        site.serve(f"/sz/{i}", objects[i], headers=[("Cache-Control", "max-age=3600")])
        stored_miss(p, f"{site.base}/sz/{i}")
        st = stats(swproxy, p.cache_dir)
        assert st["bytes"] <= limit, (i, st)
    st = stats(swproxy, p.cache_dir)
    assert 1 <= st["entries"] <= 3, st
    assert metric(scrape(mport), "swproxy_cache_evictions_total") >= 3
    r = request(p, f"{site.base}/sz/5")  # the most recent survives, the oldest went first
    assert is_hit(r) and r.body == objects[5]
    assert cache_status(request(p, f"{site.base}/sz/0")) == MISS_STORED
    settle(p)
    # A slow 300 KiB fill, killed half way.
    site.serve("/sz/slow", BigBody(10, 30 * KIB), headers=[("Cache-Control", "max-age=3600")], delay=0.1)
    stream_and_kill(p, f"{site.base}/sz/slow", 120 * KIB, size=16 * KIB)
    p.stop()
    p2 = launch("--cache-size", "1M", cache_dir=p.cache_dir)
    assert eventually(lambda: tmp_empty(p.cache_dir), 5)
    assert stats(swproxy, p.cache_dir)["bytes"] <= limit
    for i in range(6, 10):
        objects[i] = os.urandom(300 * KIB)
        site.serve(f"/sz/{i}", objects[i], headers=[("Cache-Control", "max-age=3600")])
        stored_miss(p2, f"{site.base}/sz/{i}")
        assert stats(swproxy, p.cache_dir)["bytes"] <= limit
    r = request(p2, f"{site.base}/sz/9")
    assert is_hit(r) and r.body == objects[9]


# ---------------------------------------------------------------------------------------------------------
# The cache CLI


def test_cache_cli_stats_and_purge_while_running(launch, site, swproxy):
    p = launch()
    urls = {}
    for name in ("a", "b", "c"):
        urls[name] = site.serve(f"/cli/{name}", name.encode() * 1000, headers=[("Cache-Control", "max-age=3600")])
        stored_miss(p, urls[name])

    def by_language(method, req):
        return 200, [("Cache-Control", "max-age=3600"), ("Vary", "Accept-Language")], \
            (req.get("Accept-Language") or "-").encode()

    urls["v"] = site.serve("/cli/v", handler=by_language)
    stored_miss(p, urls["v"], {"Accept-Language": "en"})
    stored_miss(p, urls["v"], {"Accept-Language": "fr"}, expect=None)
    st = stats(swproxy, p.cache_dir)
    assert st["entries"] == 5 and st["bytes"] >= 3000, st

    out = cli(swproxy, "purge", "--cache-dir", p.cache_dir, urls["a"], urls["v"])
    assert out.returncode == 0, out.stderr
    assert f"purged {urls['a']}" in out.stdout.decode() and f"purged {urls['v']}" in out.stdout.decode()
    missing = site.base + "/cli/never"
    out = cli(swproxy, "purge", "--cache-dir", p.cache_dir, missing)
    assert out.returncode == 0 and f"not cached: {missing}" in out.stdout.decode(), out
    assert stats(swproxy, p.cache_dir)["entries"] == 2
    assert cache_status(request(p, urls["a"])) == MISS_STORED
    for lang in ("en", "fr"):  # every variant went
        assert cache_status(request(p, urls["v"], {"Accept-Language": lang})).startswith("swproxy; fwd="), lang
    assert is_hit(request(p, urls["b"]))
    settle(p)

    out = cli(swproxy, "purge", "--cache-dir", p.cache_dir, "--all")
    assert out.returncode == 0, out.stderr
    assert stats(swproxy, p.cache_dir)["entries"] == 0
    for name in ("b", "c"):
        assert cache_status(request(p, urls[name])) == MISS_STORED
    assert site.count("/cli/b") == 2 and site.count("/cli/c") == 2


# ---------------------------------------------------------------------------------------------------------
# Logs and metrics


def _slow_pair(p, url):
    """Two clients for the same cold URL at once (the origin delays its head): one fill, one joiner."""
    out = [None, None]

    def one(i):
        out[i] = request(p, url)

    a = threading.Thread(target=one, args=(0,))
    b = threading.Thread(target=one, args=(1,))
    a.start()
    time.sleep(0.15)
    b.start()
    a.join(30)
    b.join(30)
    return out


def test_combined_log_names_the_cache_status(launch, site):
    hit = site.serve("/lg/hit", b"h" * 10, headers=[("Cache-Control", "max-age=3600")])
    rv = site.serve("/lg/rv", b"r" * 11, headers=[("Cache-Control", "no-cache"), ("ETag", '"r"')])
    slow = site.serve("/lg/slow", b"s" * 12, headers=[("Cache-Control", "max-age=3600")], head_delay=0.5)
    stale = site.serve("/lg/stale", b"t" * 13, headers=[("Cache-Control", "max-age=0"), ("ETag", '"t"')])
    post = site.serve("/lg/post", b"p" * 14)
    p = launch()
    for u in (hit, rv, stale):
        stored_miss(p, u)
    assert is_hit(request(p, hit))
    assert cache_status(request(p, rv)) == STALE_304
    pair = [cache_status(r) for r in _slow_pair(p, slow)]
    assert MISS_STORED in pair and any("collapsed" in x for x in pair), pair  # the exact form: the coalescing test
    assert request(p, post, method="POST", body=b"x").status == 200
    site.stop()
    assert cache_status(request(p, stale)) == STALE_UNREACHABLE
    tail = r'HTTP/1\.1" 200 {n} "-" "-" cache={s}$'
    assert log_has(p, r'/lg/hit ' + tail.format(n=10, s="MISS"))
    assert log_has(p, r'/lg/hit ' + tail.format(n=10, s="HIT"))
    assert log_has(p, r'/lg/rv ' + tail.format(n=11, s="REVALIDATED"))
    assert log_has(p, r'/lg/slow ' + tail.format(n=12, s="MISS"))
    assert log_has(p, r'/lg/slow ' + tail.format(n=12, s="COALESCED"))
    assert log_has(p, r'"POST [^"]*/lg/post ' + tail.format(n=14, s="BYPASS"))
    assert log_has(p, r'/lg/stale ' + tail.format(n=13, s="STALE"))


def test_common_and_json_logs(launch, site, tmp_path):
    url = site.serve("/lg", b"x" * 20, headers=[("Cache-Control", "max-age=3600")])
    common = tmp_path / "common.log"
    p = launch("--access-log", str(common), "--log-format", "common", cache_dir=tmp_path / "c1")
    stored_miss(p, url)
    request(p, url)
    p.stop()
    lines = common.read_text().splitlines()
    assert re.fullmatch(r'127\.0\.0\.1 - - \[[^\]]+\] "GET http://127\.0\.0\.1:\d+/lg HTTP/1\.1" 200 20 cache=MISS',
                        lines[0]), lines
    assert lines[1].endswith('" 200 20 cache=HIT'), lines

    js = tmp_path / "json.log"
    p = launch("--access-log", str(js), "--log-format", "json", "--connect-port", str(site.port),
               cache_dir=tmp_path / "c2")
    stored_miss(p, url)
    request(p, url)
    t = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    t.sendall(f"CONNECT 127.0.0.1:{site.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert t.recv(4096).startswith(b"HTTP/1.1 200")
    t.close()
    assert eventually(lambda: len(js.read_text().splitlines()) >= 3)
    p.stop()
    entries = [json.loads(line) for line in js.read_text().splitlines()]
    by_method = {}
    for e in entries:
        by_method.setdefault(e["method"], []).append(e)
    assert [e["cache"] for e in by_method["GET"]] == ["MISS", "HIT"]
    assert by_method["CONNECT"][0]["cache"] is None


def test_metrics(launch, site):
    a = site.serve("/m/a", b"a" * 1000, headers=[("Cache-Control", "max-age=3600")])
    rv = site.serve("/m/rv", b"r" * 500, headers=[("Cache-Control", "no-cache"), ("ETag", '"r"')])
    slow = site.serve("/m/slow", b"s" * 2000, headers=[("Cache-Control", "max-age=3600")], head_delay=0.5)
    stale = site.serve("/m/stale", b"t" * 300, headers=[("Cache-Control", "max-age=0"), ("ETag", '"t"')])
    post = site.serve("/m/post", b"p" * 10)
    mport = free_port()
    p = launch("--metrics-listen", f"127.0.0.1:{mport}")
    assert wait_port(mport)
    for u in (a, rv, stale):
        stored_miss(p, u)
    assert is_hit(request(p, a)) and is_hit(request(p, a))
    assert cache_status(request(p, rv)) == STALE_304
    _slow_pair(p, slow)
    assert request(p, post, method="POST", body=b"x").status == 200
    settle(p)
    site.stop()
    assert cache_status(request(p, stale)) == STALE_UNREACHABLE
    text = scrape(mport)
    name = "swproxy_cache_requests_total"
    got = {s: metric(text, name, f'{{status="{s}"}}')
           for s in ("hit", "miss", "revalidated", "stale", "coalesced", "bypass")}
    assert got == {"hit": 2, "miss": 4, "revalidated": 1, "stale": 1, "coalesced": 1, "bypass": 1}, got
    assert metric(text, "swproxy_cache_bytes_total", '{source="upstream"}') == 1000 + 500 + 2000 + 300
    from_cache = metric(text, "swproxy_cache_bytes_total", '{source="cache"}')
    assert 2 * 1000 + 500 + 300 <= from_cache <= 2 * 1000 + 500 + 300 + 2 * 2000 + 1000 + 500 + 300, from_cache
    assert metric(text, "swproxy_cache_entries") == 4
    assert 1000 + 500 + 2000 + 300 <= metric(text, "swproxy_cache_store_bytes") <= 64 * KIB
    assert metric(text, "swproxy_cache_evictions_total") == 0
