"""`swproxy serve` beyond a plain forward proxy: chaining through an upstream proxy (another swproxy, an
https:// proxy, SOCKS5, squid), reverse-proxy mode, WebSocket upgrades, HTTP/2 to https:// upstreams (nginx)
and the PROXY protocol (raw headers and a real haproxy). Everything stays on loopback."""

import asyncio
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import TempDaemon, free_port, run, wait_port
from conftest_serve import Proxy, raw_exchange_closed, read_until_close, recv_until
from socks5 import Socks5Server, TLSFront


# ---------------------------------------------------------------------------------------------------------------
# Helpers


class Response:
    """A parsed HTTP/1.x response: status, headers in order, body decoded by its framing."""

    def __init__(self, data):
        self.raw = data
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"no complete response head in {data[:300]!r}"
        self.head = head
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split(" ")[1])
        self.headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
        self.rest = rest
        te = (self.header("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            self.body, self.complete = dechunk(rest)
        elif self.header("Content-Length") is not None:
            n = int(self.header("Content-Length"))
            self.body, self.complete = rest[:n], len(rest) >= n
        else:
            self.body, self.complete = rest, None  # close-delimited: complete when the connection closed

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return f"<Response {self.raw[:400]!r}>"


def dechunk(data):
    body = b""
    while True:
        line, sep, data = data.partition(b"\r\n")
        if not sep:
            return body, False
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return body, data.startswith(b"\r\n") or b"\r\n\r\n" in data
        if len(data) < size + 2:
            return body + data[:size], False
        body += data[:size]
        data = data[size + 2:]


def read_response(s, timeout=10.0):
    """Reads one response (head and body, by its framing) from a socket and returns it."""
    s.settimeout(timeout)
    data = b""
    while True:
        if b"\r\n\r\n" in data:
            r = Response(data)
            if r.complete:
                return r
        chunk = s.recv(65536)
        if not chunk:
            return Response(data)
        data += chunk


def exchange(port, raw, timeout=10.0):
    """Sends raw request bytes, reads until the proxy closes, returns the parsed response."""
    out, closed = raw_exchange_closed(port, raw, timeout=timeout)
    assert out, "the proxy answered nothing"
    return Response(out)


def get(port, url, headers="", timeout=10.0):
    host = url.split("://", 1)[1].split("/", 1)[0]
    return exchange(port, f"GET {url} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n".encode(),
                    timeout)


def open_tunnel(port, authority, timeout=10.0):
    """CONNECT through the proxy; returns the socket and the proxy's answer head (plus anything after it)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    return s, recv_until(s, b"\r\n\r\n", 4096)


def tunnel_get(port, authority, path, allow_empty=False):
    """A plain HTTP/1.1 GET through a CONNECT tunnel; returns the origin's response (None when nothing came
    back and allow_empty, so the caller can say more)."""
    s, head = open_tunnel(port, authority)
    try:
        assert head.startswith(b"HTTP/1.1 200"), head
        assert head.endswith(b"\r\n\r\n"), f"bytes after the CONNECT answer: {head!r}"
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n".encode())
        out, _ = read_until_close(s)
    finally:
        s.close()
    if not out and allow_empty:
        return None
    return Response(out)


def connect_refused(port, authority):
    """CONNECT expected to fail: the whole answer, read until the proxy closes."""
    s, head = open_tunnel(port, authority)
    rest, _ = read_until_close(s)
    s.close()
    return Response(head + rest)


def eventually(check, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        if check():
            return True
        if time.time() > deadline:
            return False
        time.sleep(0.05)


def log_has(proxy, pattern):
    return eventually(lambda: re.search(pattern, proxy.read_log(), re.M) is not None)


def free_port6():
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def start(swproxy):
    """Starts swproxy serve processes with extra arguments; all are stopped after the test."""
    started = []

    def go(*args):
        p = Proxy(swproxy, *args)
        started.append(p)
        return p

    yield go
    for p in started:
        p.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for localhost (CN and subjectAltName, 127.0.0.1 too): (cert, key) paths."""
    d = tmp_path_factory.mktemp("beyond-tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    os.chmod(d, 0o755)
    return str(crt), str(key)


# ---------------------------------------------------------------------------------------------------------------
# 1. Upstream proxy chaining


def test_chain_get_through_second_swproxy(start, origin):
    b = start("--via-name", "swproxy-b")
    a = start("--upstream-proxy", b.url)
    origin.take()
    r = get(a.port, f"{origin.base}/echo?chain=1")
    assert r.status == 200, r
    assert json.loads(r.body)["target"] == "/echo?chain=1"
    seen = origin.take()
    assert [x.target for x in seen] == ["/echo?chain=1"]
    hdrs = dict(seen[0].headers)
    assert hdrs["Host"] == f"127.0.0.1:{origin.port}"
    assert hdrs["Via"] == "1.1 swproxy, 1.1 swproxy-b"  # A's hop, then B's
    assert hdrs["X-Forwarded-For"] == "127.0.0.1, 127.0.0.1"
    assert "Proxy-Connection" not in hdrs and "Proxy-Authorization" not in hdrs
    assert log_has(b, rf'"GET {re.escape(origin.base)}/echo\?chain=1 HTTP/1\.1" 200 ')
    assert log_has(a, rf'"GET {re.escape(origin.base)}/echo\?chain=1 HTTP/1\.1" 200 ')


def test_chain_connect_through_second_swproxy(start, origin):
    b = start("--via-name", "swproxy-b", "--connect-port", str(origin.port))
    a = start("--upstream-proxy", b.url, "--connect-port", str(origin.port))
    origin.take()
    r = tunnel_get(a.port, f"127.0.0.1:{origin.port}", "/path/tunnelled")
    assert r.status == 200 and r.body == b"path /path/tunnelled\n", r
    seen = origin.take()
    assert [x.target for x in seen] == ["/path/tunnelled"]
    assert "Via" not in dict(seen[0].headers)  # tunnelled bytes are not rewritten by either proxy
    assert log_has(b, rf'"CONNECT 127\.0\.0\.1:{origin.port} HTTP/1\.1" 200 ')
    assert log_has(a, rf'"CONNECT 127\.0\.0\.1:{origin.port} HTTP/1\.1" 200 ')


def test_chain_with_upstream_proxy_credentials(start, origin):
    b = start("--via-name", "swproxy-b", "--auth", "alice:s3cret", "--connect-port", str(origin.port))
    # B refuses a request without credentials...
    assert get(b.port, f"{origin.base}/path/x").status == 407
    # ...and A passes the ones from its --upstream-proxy URL, for requests and for tunnels.
    a = start("--upstream-proxy", f"http://alice:s3cret@127.0.0.1:{b.port}", "--connect-port", str(origin.port))
    origin.take()
    r = get(a.port, f"{origin.base}/path/authed")
    assert r.status == 200 and r.body == b"path /path/authed\n", r
    r = tunnel_get(a.port, f"127.0.0.1:{origin.port}", "/path/authed-tunnel")
    assert r.status == 200 and r.body == b"path /path/authed-tunnel\n", r
    seen = origin.take()
    assert [x.target for x in seen] == ["/path/authed", "/path/authed-tunnel"]
    assert "Proxy-Authorization" not in dict(seen[0].headers)


def test_chain_through_https_proxy(start, origin, cert):
    """An https:// upstream proxy: TLS to the proxy (a TLS front on swproxy B), verified with --upstream-cacert."""
    crt, key = cert
    b = start("--via-name", "swproxy-b", "--connect-port", str(origin.port))
    front = TLSFront(b.port, crt, key)
    try:
        a = start("--upstream-proxy", f"https://localhost:{front.port}", "--upstream-cacert", crt,
                  "--connect-port", str(origin.port))
        origin.take()
        r = get(a.port, f"{origin.base}/echo")
        assert r.status == 200, r
        assert dict(origin.take()[0].headers)["Via"] == "1.1 swproxy, 1.1 swproxy-b"
        assert front.handshakes >= 1
        assert log_has(b, rf'"GET {re.escape(origin.base)}/echo HTTP/1\.1" 200 ')
        r = tunnel_get(a.port, f"127.0.0.1:{origin.port}", "/path/over-tls-proxy", allow_empty=True)
        assert r is not None and r.status == 200 and r.body == b"path /path/over-tls-proxy\n", \
            f"tunnel through an https:// proxy answered {r}; TLS front: ended by {front.ends}, errors {front.errors}"
        assert log_has(b, rf'"CONNECT 127\.0\.0\.1:{origin.port} HTTP/1\.1" 200 ')
    finally:
        front.stop()


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_socks_upstream_get(start, origin, scheme):
    with Socks5Server() as socks:
        a = start("--upstream-proxy", f"{scheme}://{socks.url}")
        origin.take()
        r = get(a.port, f"http://localhost:{origin.port}/path/socks")
        assert r.status == 200 and r.body == b"path /path/socks\n", (r, socks.errors)
        assert [x.target for x in origin.take()] == ["/path/socks"]
        if scheme == "socks5":
            # swproxy (libcurl) resolved the name and asked the SOCKS server for an address
            assert socks.destinations == [("ipv4", "127.0.0.1", origin.port)]
        else:
            # socks5h: the name itself goes to the SOCKS server
            assert socks.destinations == [("domain", "localhost", origin.port)]


def test_socks_upstream_credentials_get_and_connect(start, origin):
    with Socks5Server(users={"bob": "hunter2"}) as socks:
        a = start("--upstream-proxy", f"socks5h://bob:hunter2@{socks.url}", "--connect-port", str(origin.port))
        origin.take()
        r = get(a.port, f"http://localhost:{origin.port}/path/socks-auth")
        assert r.status == 200 and r.body == b"path /path/socks-auth\n", (r, socks.errors)
        r = tunnel_get(a.port, f"localhost:{origin.port}", "/path/socks-tunnel")
        assert r.status == 200 and r.body == b"path /path/socks-tunnel\n", (r, socks.errors)
        assert [x.target for x in origin.take()] == ["/path/socks-auth", "/path/socks-tunnel"]
        assert socks.destinations == [("domain", "localhost", origin.port)] * 2
        assert socks.logins == [("bob", "hunter2")] * 2

        # Wrong credentials: the SOCKS server refuses, the client gets 502 and never sees the password.
        bad = start("--upstream-proxy", f"socks5h://bob:wrongpass@{socks.url}")
        r = get(bad.port, f"http://localhost:{origin.port}/path/never")
        assert r.status == 502, r
        assert b"wrongpass" not in r.raw
        assert origin.take() == []


@pytest.mark.parametrize("scheme", ["http", "https", "socks5", "socks5h"])
def test_unreachable_upstream_proxy_is_502_naming_it(start, origin, scheme):
    closed = free_port()
    a = start("--upstream-proxy", f"{scheme}://user:topsecret@127.0.0.1:{closed}", "--connect-port",
              str(origin.port))
    origin.take()
    for r in (get(a.port, f"{origin.base}/path/x"), connect_refused(a.port, f"127.0.0.1:{origin.port}")):
        assert r.status == 502, r
        assert (r.header("Content-Type") or "").startswith("text/plain"), r
        text = r.body.decode()
        assert f"{scheme}://127.0.0.1:{closed}" in text, text
        assert b"topsecret" not in r.raw and "user:" not in text, text
    assert origin.take() == []


def test_no_upstream_proxy_for_goes_direct(start, origin):
    closed = free_port()
    proxy_url = f"http://127.0.0.1:{closed}"  # nothing listens: whatever goes through it fails with 502
    a = start("--upstream-proxy", proxy_url, "--no-upstream-proxy-for", "example.com",
              "--no-upstream-proxy-for", "127.0.0.1", "--connect-port", str(origin.port))
    origin.take()
    r = get(a.port, f"{origin.base}/path/direct")
    assert r.status == 200 and r.body == b"path /path/direct\n", r
    r = tunnel_get(a.port, f"127.0.0.1:{origin.port}", "/path/direct-tunnel")
    assert r.status == 200 and r.body == b"path /path/direct-tunnel\n", r
    assert [x.target for x in origin.take()] == ["/path/direct", "/path/direct-tunnel"]
    # A host matching no pattern still goes to the proxy (patterns match the name, not its address).
    r = get(a.port, f"http://localhost:{origin.port}/path/proxied")
    assert r.status == 502 and proxy_url.encode() in r.body, r
    assert origin.take() == []

    b = start("--upstream-proxy", proxy_url, "--no-upstream-proxy-for", "*.example.com",
              "--no-upstream-proxy-for", "localhost", "--connect-port", str(origin.port))
    r = get(b.port, f"http://localhost:{origin.port}/path/direct-by-name")
    assert r.status == 200 and r.body == b"path /path/direct-by-name\n", r
    r = get(b.port, f"{origin.base}/path/proxied")
    assert r.status == 502 and proxy_url.encode() in r.body, r
    r = connect_refused(b.port, f"127.0.0.1:{origin.port}")
    assert r.status == 502 and proxy_url.encode() in r.body, r
    assert [x.target for x in origin.take()] == ["/path/direct-by-name"]


class Squid(TempDaemon):
    """squid in the foreground (-N) on a free loopback port: no cache, no access log, DNS pointed at loopback
    (only literal addresses are used). squid drops root for its `proxy` user, so its files live in a
    world-writable temporary directory rather than pytest's private tmp_path."""

    stop_grace = 10.0

    def __init__(self):
        super().__init__("swproxy-squid-")
        os.chmod(self.dir, 0o777)
        self.conf = os.path.join(self.dir, "squid.conf")
        self.cache_log = os.path.join(self.dir, "cache.log")
        with open(self.conf, "w") as f:
            f.write(f"""
http_port 127.0.0.1:{self.port}
http_access allow localhost
http_access deny all
cache deny all
access_log none
cache_log {self.cache_log}
pid_filename {self.dir}/squid.pid
coredump_dir {self.dir}
dns_nameservers 127.0.0.1
pinger_enable off
shutdown_lifetime 0 seconds
""")
        # No cache_dir, so no swap directories to create: `squid -z` is not needed.
        self.spawn(["squid", "-N", "-f", self.conf], "squid", stderr=open(os.path.join(self.dir, "stderr"), "wb"),
                   timeout=20)
        self.url = f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def squid():
    if not shutil.which("squid") and not os.path.exists("/usr/sbin/squid"):
        pytest.skip("squid is not installed (optional)")
    s = Squid()
    yield s
    s.stop()


def test_chain_through_squid(start, origin, squid):
    a = start("--upstream-proxy", squid.url, "--connect-port", str(origin.port))
    origin.take()
    r = get(a.port, f"{origin.base}/echo")
    assert r.status == 200, r
    seen = origin.take()
    assert [x.target for x in seen] == ["/echo"]
    via = dict(seen[0].headers)["Via"]
    assert via.startswith("1.1 swproxy, 1.1 ") and "squid" in via, via
    r = tunnel_get(a.port, f"127.0.0.1:{origin.port}", "/path/through-squid")
    assert r.status == 200 and r.body == b"path /path/through-squid\n", r
    assert [x.target for x in origin.take()] == ["/path/through-squid"]


# ---------------------------------------------------------------------------------------------------------------
# 2. Reverse-proxy mode


def test_reverse_origin_form_with_forwarding_fields(start, origin):
    p = start("--reverse", origin.base)
    origin.take()
    r = exchange(p.port, b"GET /a?b=1 HTTP/1.1\r\nHost: front.example\r\nX-First: 1\r\nAccept: */*\r\n"
                         b"Connection: close\r\n\r\n")
    assert r.status == 200 and r.body == b"path /a?b=1\n", r
    seen = origin.take()
    assert len(seen) == 1
    rec = seen[0]
    assert (rec.method, rec.target, rec.version) == ("GET", "/a?b=1", "HTTP/1.1")
    # The backend's own Host first, the client's end-to-end fields in their order and case, and exactly
    # this hop's fields (Connection is hop-by-hop and gone).
    assert rec.headers[0] == ("Host", f"127.0.0.1:{origin.port}")
    own = [h for h in rec.headers if h[0] in ("X-First", "Accept")]
    assert own == [("X-First", "1"), ("Accept", "*/*")]
    added = sorted(h for h in rec.headers[1:] if h not in own)
    assert added == sorted([
        ("Via", "1.1 swproxy"),
        ("X-Forwarded-For", "127.0.0.1"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "front.example"),
        ("Forwarded", "for=127.0.0.1;host=front.example;proto=http"),
    ]), rec.headers


def test_reverse_with_curl_and_path_prefix(start, origin):
    p = start("--reverse", f"{origin.base}/base")
    origin.take()
    r = run(["curl", "-sS", "-H", "Host: front.example", f"http://127.0.0.1:{p.port}/a?b=1"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"path /base/a?b=1\n"
    r = run(["curl", "-sS", "-H", "Host: front.example", f"http://127.0.0.1:{p.port}/"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"path /base/\n"
    seen = origin.take()
    assert [x.target for x in seen] == ["/base/a?b=1", "/base/"]
    hdrs = dict(seen[0].headers)
    assert hdrs["Host"] == f"127.0.0.1:{origin.port}"
    assert hdrs["X-Forwarded-Host"] == "front.example"
    assert hdrs["X-Forwarded-Proto"] == "http"


def test_reverse_preserve_host(start, origin):
    p = start("--reverse", origin.base, "--preserve-host")
    origin.take()
    r = exchange(p.port, b"GET /kept HTTP/1.1\r\nHost: front.example\r\nConnection: close\r\n\r\n")
    assert r.status == 200 and r.body == b"path /kept\n", r
    rec = origin.take()[0]
    hdrs = dict(rec.headers)
    assert [v for k, v in rec.headers if k.lower() == "host"] == ["front.example"]
    assert hdrs["X-Forwarded-Host"] == "front.example"
    assert hdrs["Forwarded"] == "for=127.0.0.1;host=front.example;proto=http"


def test_reverse_ipv6_client_and_client_forwarded_appended(start, origin):
    port6 = free_port6()
    p = start("--reverse", origin.base, "--listen", f"[::1]:{port6}")
    assert wait_port(port6, host="::1")
    origin.take()
    s = socket.create_connection(("::1", port6), timeout=10)
    s.sendall(b"GET /v6 HTTP/1.1\r\nHost: front.example\r\nForwarded: for=192.0.2.60;proto=https\r\n"
              b"Connection: close\r\n\r\n")
    out, _ = read_until_close(s)
    s.close()
    r = Response(out)
    assert r.status == 200 and r.body == b"path /v6\n", r
    hdrs = dict(origin.take()[0].headers)
    assert hdrs["Forwarded"] == 'for=192.0.2.60;proto=https, for="[::1]";host=front.example;proto=http'
    assert hdrs["X-Forwarded-For"] == "::1"


def test_reverse_refuses_absolute_form_and_connect(start, origin):
    p = start("--reverse", origin.base, "--connect-port", str(origin.port))
    origin.take()
    r = get(p.port, f"{origin.base}/path/absolute")
    assert r.status == 400, r
    r = connect_refused(p.port, f"127.0.0.1:{origin.port}")
    assert r.status == 400, r
    assert origin.take() == []


def test_reverse_with_forward_also_proxies(start, origin):
    p = start("--reverse", f"{origin.base}/base", "--forward", "--connect-port", str(origin.port))
    origin.take()
    r = get(p.port, f"{origin.base}/path/absolute")
    assert r.status == 200 and r.body == b"path /path/absolute\n", r
    r = tunnel_get(p.port, f"127.0.0.1:{origin.port}", "/path/tunnel")
    assert r.status == 200 and r.body == b"path /path/tunnel\n", r
    r = exchange(p.port, b"GET /rev HTTP/1.1\r\nHost: front.example\r\nConnection: close\r\n\r\n")
    assert r.status == 200 and r.body == b"path /base/rev\n", r
    seen = origin.take()
    assert [x.target for x in seen] == ["/path/absolute", "/path/tunnel", "/base/rev"]
    fwd = dict(seen[0].headers)
    # forwarded as a forward proxy does: no reverse-proxy fields
    assert fwd["Host"] == f"127.0.0.1:{origin.port}" and fwd["Via"] == "1.1 swproxy"
    for name in ("X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"):
        assert name not in fwd
    assert dict(seen[2].headers)["X-Forwarded-Host"] == "front.example"


# ---------------------------------------------------------------------------------------------------------------
# 3. WebSocket (Upgrade) relay


class EchoWS:
    """A websockets echo server in a thread. /bye closes after one message (close handshake), /drop closes
    the TCP connection after one message without a close frame, any other path echoes every message. Tests
    add a unique query (`?c=N`) to tell their connections from earlier ones."""

    def __init__(self):
        from websockets.sync.server import serve
        self.cond = threading.Condition()
        self.requests = {}  # path with query → [(name, value)...] as received
        self.ended = set()  # paths whose handler returned (the server's side of the connection ended)
        self.server = serve(self._handler, "127.0.0.1", 0, max_size=None, ping_interval=None, compression=None,
                            process_request=self._record)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _record(self, connection, request):
        with self.cond:
            self.requests[request.path] = list(request.headers.raw_items())
            self.cond.notify_all()
        return None

    def _handler(self, ws):
        from websockets.exceptions import ConnectionClosed
        path = ws.request.path
        try:
            if path.startswith("/bye"):
                ws.recv()
                ws.close(1000, "bye")
            elif path.startswith("/drop"):
                ws.recv()
                ws.socket.shutdown(socket.SHUT_RDWR)
            else:
                for msg in ws:
                    ws.send(msg)
        except ConnectionClosed:
            pass
        finally:
            with self.cond:
                self.ended.add(path)
                self.cond.notify_all()

    def request_headers(self, path, timeout=5.0):
        with self.cond:
            assert self.cond.wait_for(lambda: path in self.requests, timeout), f"{path} never reached the server"
            return self.requests[path]

    def wait_ended(self, path, timeout=10.0):
        with self.cond:
            return self.cond.wait_for(lambda: path in self.ended, timeout)

    def stop(self):
        self.server.shutdown()


_ws_ids = iter(range(1, 1 << 30))


def ws_path(base):
    return f"{base}?c={next(_ws_ids)}"


@pytest.fixture(scope="module")
def ws_echo():
    try:
        import websockets  # noqa: F401
    except ImportError:
        pytest.fail("the websockets package is not installed (make deps installs it)")
    s = EchoWS()
    yield s
    s.stop()


def ws_handshake_bytes(port, path):
    """websockets' own client handshake request, with its request line rewritten to absolute-form."""
    from websockets.client import ClientProtocol
    from websockets.uri import parse_uri
    proto = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}{path}"), max_size=None)
    proto.send_request(proto.connect())
    raw = b"".join(proto.data_to_send())
    line, rest = raw.split(b"\r\n", 1)
    assert line == f"GET {path} HTTP/1.1".encode()
    return proto, f"GET http://127.0.0.1:{port}{path} HTTP/1.1\r\n".encode() + rest


class WSClient:
    """websockets' sans-I/O client protocol driven over a plain TCP socket to the proxy."""

    def __init__(self, proxy_port, ws_port, path="/ws", origin_form_host=None):
        """Absolute-form handshake to 127.0.0.1:ws_port, or with origin_form_host the unchanged origin-form
        request websockets writes for ws://origin_form_host/path (reverse mode)."""
        from websockets.protocol import State
        if origin_form_host:
            from websockets.client import ClientProtocol
            from websockets.uri import parse_uri
            self.proto = ClientProtocol(parse_uri(f"ws://{origin_form_host}{path}"), max_size=None)
            self.proto.send_request(self.proto.connect())
            handshake = b"".join(self.proto.data_to_send())
        else:
            self.proto, handshake = ws_handshake_bytes(ws_port, path)
        self.sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=15)
        self.sock.sendall(handshake)
        self.events = []
        self.eof = False
        while self.proto.state == State.CONNECTING and not self.eof:
            self._pump()
        self.response = self.events.pop(0) if self.events else None
        assert self.proto.state == State.OPEN, (self.proto.handshake_exc, self.response)

    def _pump(self):
        data = self.sock.recv(1 << 20)
        if data:
            self.proto.receive_data(data)
        else:
            self.eof = True
            self.proto.receive_eof()
        self.events += self.proto.events_received()
        self.flush()

    def flush(self):
        for chunk in self.proto.data_to_send():
            if chunk:
                self.sock.sendall(chunk)

    def send(self, message):
        if isinstance(message, str):
            self.proto.send_text(message.encode())
        else:
            self.proto.send_binary(message)
        self.flush()

    def next_frame(self):
        while not self.events:
            if self.eof:
                return None
            self._pump()
        return self.events.pop(0)

    def recv_message(self):
        from websockets.frames import Opcode
        parts, kind = [], None
        while True:
            f = self.next_frame()
            assert f is not None, "EOF before a whole message"
            if f.opcode in (Opcode.PING, Opcode.PONG):
                continue
            assert f.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT), f
            kind = kind or f.opcode
            parts.append(f.data)
            if f.fin:
                data = b"".join(parts)
                return data.decode() if kind == Opcode.TEXT else data

    def read_to_eof(self, timeout=10.0):
        """Frames until the proxy closes the TCP connection; returns them (raises if it never closes)."""
        self.sock.settimeout(timeout)
        frames = []
        while not self.eof:
            self._pump()
            frames += self.events
            self.events = []
        return frames

    def close(self):
        self.sock.close()


def test_websocket_relay_text_and_10mb_binary(start, ws_echo):
    p = start()
    path = ws_path("/ws")
    c = WSClient(p.port, ws_echo.port, path)
    try:
        assert c.response.status_code == 101
        c.send("hello through the proxy")
        assert c.recv_message() == "hello through the proxy"
        big = os.urandom(10 << 20)
        c.send(big)
        got = c.recv_message()
        assert len(got) == len(big) and got == big
        c.send("still open")
        assert c.recv_message() == "still open"
    finally:
        c.close()
    lower = {k.lower(): v for k, v in ws_echo.request_headers(path)}
    assert lower["upgrade"].lower() == "websocket" and "upgrade" in lower["connection"].lower()
    assert log_has(p, rf'"GET http://127\.0\.0\.1:{ws_echo.port}{re.escape(path)} HTTP/1\.1" 101 ')


@pytest.mark.parametrize("graceful", [True, False], ids=["close-frame", "tcp-only"])
def test_websocket_client_close_ends_server_side(start, ws_echo, graceful):
    from websockets.frames import Opcode
    p = start()
    path = ws_path("/ws")
    c = WSClient(p.port, ws_echo.port, path)
    c.send("ping?")
    assert c.recv_message() == "ping?"
    if graceful:
        c.proto.send_close(1000, "done")
        c.flush()
        f = c.next_frame()
        assert f is not None and f.opcode == Opcode.CLOSE, f
    c.close()  # TCP close
    assert ws_echo.wait_ended(path), "the server's side of the relayed connection did not end"


@pytest.mark.parametrize("base", ["/bye", "/drop"])
def test_websocket_server_close_reaches_client_as_eof(start, ws_echo, base):
    from websockets.frames import Opcode
    p = start()
    c = WSClient(p.port, ws_echo.port, ws_path(base))
    try:
        c.send("last words")
        frames = c.read_to_eof()  # raises socket.timeout if the proxy keeps the client connection open
        assert c.eof
        if base == "/bye":
            closes = [f for f in frames if f.opcode == Opcode.CLOSE]
            assert closes and closes[0].data[:2] == struct.pack("!H", 1000), frames
    finally:
        c.close()


def test_no_upgrade_strips_upgrade_and_relays_origin_status(start, ws_echo):
    p = start("--no-upgrade")
    path = ws_path("/ws")
    _, handshake = ws_handshake_bytes(ws_echo.port, path)
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    try:
        s.sendall(handshake)
        r = read_response(s)
    finally:
        s.close()
    # websockets answers a request without Upgrade with 426 Upgrade Required; the proxy passes it on.
    assert r.status == 426, r
    headers = ws_echo.request_headers(path)
    lower = {k.lower(): v for k, v in headers}
    assert "upgrade" not in lower, headers
    assert "upgrade" not in lower.get("connection", "").lower(), headers
    assert "sec-websocket-key" in lower  # end-to-end fields still go


def test_websocket_in_reverse_mode(start, ws_echo):
    """Origin-form WebSocket handshakes are relayed to the --reverse backend as well."""
    p = start("--reverse", f"http://127.0.0.1:{ws_echo.port}")
    path = ws_path("/ws")
    c = WSClient(p.port, ws_echo.port, path, origin_form_host="front.example")  # GET /ws?c=N, Host: front.example
    try:
        assert c.response.status_code == 101
        c.send(b"\x00binary\xff" * 1000)
        assert c.recv_message() == b"\x00binary\xff" * 1000
    finally:
        c.close()
    lower = {k.lower(): v for k, v in ws_echo.request_headers(path)}
    assert lower["host"] == f"127.0.0.1:{ws_echo.port}" and lower["x-forwarded-host"] == "front.example"


def test_upgrade_to_plain_origin_gets_200_then_close(start, origin):
    p = start()
    origin.take()
    _, handshake = ws_handshake_bytes(origin.port, "/path/up")
    out, closed = raw_exchange_closed(p.port, handshake, timeout=10)
    r = Response(out)
    assert r.status == 200 and r.body == b"path /path/up\n", r
    assert closed, "the proxy kept the connection open after a non-101 answer to an Upgrade request"
    assert len(out) == len(r.head) + 4 + len(r.body)  # nothing relayed after the response
    seen = origin.take()
    assert [x.target for x in seen] == ["/path/up"]
    assert ("Upgrade", "websocket") in seen[0].headers


# ---------------------------------------------------------------------------------------------------------------
# 4. HTTP/2 to https:// upstreams


class NginxEntry:
    def __init__(self, connection, protocol, request, start, end):
        self.connection, self.protocol, self.request, self.start, self.end = connection, protocol, request, start, end

    def __repr__(self):
        return f"<{self.connection} {self.protocol} {self.request} {self.start:.3f}-{self.end:.3f}>"


class TLSNginx(TempDaemon):
    """nginx with TLS and HTTP/2 on loopback; its access log records `$connection $server_protocol "$request"`."""

    def __init__(self, crt, key, root):
        super().__init__("swproxy-nginx-h2-")
        self.log = os.path.join(self.dir, "access.log")
        self.spawn_nginx(1024, f"""
    log_format conn '$connection $server_protocol "$request" $msec $request_time';
    access_log {self.log} conn;
    server {{
        listen 127.0.0.1:{self.port} ssl http2;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        root {root};
        location / {{ }}
        location /slow/ {{ limit_rate 32k; }}
    }}""")

    def entries(self, path):
        """Every logged request of `path`: connection number, protocol, request line, start and end time."""
        if not os.path.exists(self.log):
            return []
        out = []
        with open(self.log) as f:
            for line in f:
                m = re.match(r'(\d+) (\S+) "(\S+ (\S+) [^"]*)" ([\d.]+) ([\d.]+)$', line.strip())
                if m and m.group(4) == path:
                    end, took = float(m.group(5)), float(m.group(6))
                    out.append(NginxEntry(m.group(1), m.group(2), m.group(3), end - took, end))
        return out


@pytest.fixture(scope="module")
def h2_nginx(cert, tmp_path_factory):
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        pytest.fail("nginx is not installed (make deps installs it)")
    crt, key = cert
    root = tmp_path_factory.mktemp("h2-www")
    os.chmod(root, 0o755)
    (root / "slow").mkdir()
    n = TLSNginx(crt, key, str(root))
    n.files = {}
    for name, size in (("slow/f", 40000), ("one", 1234), ("plain", 777), ("bad", 10)):
        data = os.urandom(size)
        (root / name).write_bytes(data)
        n.files["/" + name] = data
    yield n
    n.stop()


def check_http11_response(r, expected):
    assert r.status_line.startswith("HTTP/1.1 200"), r.status_line
    assert not any(k.startswith(":") for k, _ in r.headers), r.headers  # no HTTP/2 pseudo-headers leak
    assert b":status" not in r.head
    te = (r.header("Transfer-Encoding") or "").lower()
    assert r.header("Content-Length") is not None or te == "chunked", r.headers
    assert r.complete, r
    assert r.body == expected


def test_upstream_http2_multiplexes_concurrent_requests(start, h2_nginx, cert):
    crt, _ = cert
    # one event loop, so one libcurl multi handle: every request can share one HTTP/2 connection
    # (the later --threads wins over the helper's --threads 2)
    p = start("--threads", "1", "--upstream-http2", "--upstream-cacert", crt)
    # /slow/ is rate-limited by nginx (about a second per response), so the requests overlap at nginx: on
    # one connection that is only possible with HTTP/2 streams, and one at a time would take minutes.
    target = f"https://localhost:{h2_nginx.port}/slow/f"

    async def one():
        r, w = await asyncio.open_connection("127.0.0.1", p.port)
        w.write(f"GET {target} HTTP/1.1\r\nHost: localhost:{h2_nginx.port}\r\nConnection: close\r\n\r\n".encode())
        await w.drain()
        data = await asyncio.wait_for(r.read(), 15)
        w.close()
        return data

    async def burst():
        return await asyncio.gather(*(one() for _ in range(100)))

    answers = asyncio.run(burst())
    for data in answers:
        check_http11_response(Response(data), h2_nginx.files["/slow/f"])
    assert eventually(lambda: len(h2_nginx.entries("/slow/f")) >= 100)
    entries = h2_nginx.entries("/slow/f")
    assert len(entries) == 100
    assert {e.protocol for e in entries} == {"HTTP/2.0"}, entries
    conns = {e.connection for e in entries}
    assert len(conns) == 1, f"{len(conns)} nginx connections: {sorted(conns)}"
    # Streams in flight at once on that connection: at the latest start, how many had not ended yet.
    latest = max(e.start for e in entries)
    assert sum(1 for e in entries if e.end > latest) >= 2, entries


def test_upstream_http2_with_insecure(start, h2_nginx):
    p = start("--upstream-http2", "--upstream-insecure")
    r = get(p.port, f"https://localhost:{h2_nginx.port}/one")
    check_http11_response(r, h2_nginx.files["/one"])
    assert eventually(lambda: len(h2_nginx.entries("/one")) >= 1)
    assert [e.protocol for e in h2_nginx.entries("/one")] == ["HTTP/2.0"]


def test_upstream_https_without_http2_flag_stays_http11(start, h2_nginx, cert):
    crt, _ = cert
    p = start("--upstream-cacert", crt)
    r = get(p.port, f"https://localhost:{h2_nginx.port}/plain")
    check_http11_response(r, h2_nginx.files["/plain"])
    assert eventually(lambda: len(h2_nginx.entries("/plain")) >= 1)
    assert [e.protocol for e in h2_nginx.entries("/plain")] == ["HTTP/1.1"]


def test_upstream_self_signed_refused_without_cacert(start, h2_nginx):
    p = start("--upstream-http2")
    r = get(p.port, f"https://localhost:{h2_nginx.port}/bad")
    assert r.status == 502 and b"TLS" in r.body, r
    assert h2_nginx.entries("/bad") == []


# ---------------------------------------------------------------------------------------------------------------
# 5. PROXY protocol


PP2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def pp_v2(src, dst, sport, dport, ver_cmd=0x21, tlvs=b"", signature=PP2_SIGNATURE):
    if ":" in src:
        fam, af = 0x21, socket.AF_INET6  # TCP over IPv6
    else:
        fam, af = 0x11, socket.AF_INET  # TCP over IPv4
    body = socket.inet_pton(af, src) + socket.inet_pton(af, dst) + struct.pack("!HH", sport, dport) + tlvs
    return signature + bytes([ver_cmd, fam]) + struct.pack("!H", len(body)) + body


def echo_request(origin, tag):
    return f"GET {origin.base}/echo?pp={tag} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()


@pytest.fixture(scope="module")
def pp_proxy(swproxy):
    p = Proxy(swproxy, "--proxy-protocol")
    yield p
    p.stop()


@pytest.mark.parametrize("header,client", [
    (b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 8080\r\n", "203.0.113.7"),
    (b"PROXY TCP6 2001:db8::7 ::1 40000 8080\r\n", "2001:db8::7"),
    (pp_v2("203.0.113.7", "127.0.0.1", 40000, 8080), "203.0.113.7"),
    (pp_v2("2001:db8::7", "::1", 40000, 8080), "2001:db8::7"),
    (pp_v2("203.0.113.7", "127.0.0.1", 40000, 8080, tlvs=b"\x04\x00\x03abc"), "203.0.113.7"),  # NOOP TLV
], ids=["v1-tcp4", "v1-tcp6", "v2-tcp4", "v2-tcp6", "v2-tlv"])
def test_proxy_protocol_sets_client_address(pp_proxy, origin, header, client, request):
    tag = request.node.callspec.id
    origin.take()
    r = exchange(pp_proxy.port, header + echo_request(origin, tag))
    assert r.status == 200, r
    seen = origin.take()
    assert [x.target for x in seen] == [f"/echo?pp={tag}"]
    assert dict(seen[0].headers)["X-Forwarded-For"] == client
    assert log_has(pp_proxy, rf'^{re.escape(client)} - - \[.*"GET {re.escape(origin.base)}/echo\?pp={tag} ')


def test_proxy_protocol_header_in_pieces(pp_proxy, origin):
    origin.take()
    data = pp_v2("198.51.100.20", "127.0.0.1", 1234, 80) + echo_request(origin, "pieces")
    s = socket.create_connection(("127.0.0.1", pp_proxy.port), timeout=10)
    for piece in (data[:5], data[5:14], data[14:30], data[30:]):
        s.sendall(piece)
        time.sleep(0.05)
    out, _ = read_until_close(s)
    s.close()
    assert Response(out).status == 200, out[:300]
    assert dict(origin.take()[0].headers)["X-Forwarded-For"] == "198.51.100.20"


def test_proxy_protocol_address_is_used_for_allow_and_deny(start, origin):
    header = b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 8080\r\n"
    other = b"PROXY TCP4 198.51.100.1 127.0.0.1 40000 8080\r\n"
    origin.take()
    p = start("--proxy-protocol", "--deny", "203.0.113.0/24")
    assert exchange(p.port, header + echo_request(origin, "denied")).status == 403
    assert origin.take() == []
    assert exchange(p.port, other + echo_request(origin, "other")).status == 200
    assert len(origin.take()) == 1
    # The real peer (127.0.0.1) is not what the rules see.
    q = start("--proxy-protocol", "--deny", "127.0.0.0/8")
    assert exchange(q.port, header + echo_request(origin, "not-loopback")).status == 200
    assert len(origin.take()) == 1
    a = start("--proxy-protocol", "--allow", "203.0.113.0/24")
    assert exchange(a.port, header + echo_request(origin, "allowed")).status == 200
    assert exchange(a.port, other + echo_request(origin, "not-allowed")).status == 403
    assert [x.target for x in origin.take()] == ["/echo?pp=allowed"]


@pytest.mark.parametrize("header", [
    b"",  # no PROXY header at all
    pp_v2("203.0.113.7", "127.0.0.1", 40000, 8080, signature=b"\r\n\r\n\x00\r\nQUIX\n"),
    b"PROXY TCP4 1.2.3\r\n",
    b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 8080" + b" " * 80 + b"\r\n",  # longer than 107 bytes
    b"PROXY TCP4 203.0.113.999 127.0.0.1 40000 8080\r\n",
    pp_v2("203.0.113.7", "127.0.0.1", 40000, 8080, ver_cmd=0x31),  # version 3
    pp_v2("203.0.113.7", "127.0.0.1", 40000, 8080, ver_cmd=0x11),  # version 1 in a v2 header
], ids=["missing", "v2-bad-signature", "v1-truncated", "v1-too-long", "v1-bad-address", "v2-version-3",
        "v2-version-1"])
def test_proxy_protocol_malformed_closes_without_forwarding(pp_proxy, origin, header):
    origin.take()
    out, closed = raw_exchange_closed(pp_proxy.port, header + echo_request(origin, "malformed"), timeout=8)
    assert closed, f"connection left open; got {out[:200]!r}"
    assert not out.startswith(b"HTTP/1.1 2"), out[:300]
    assert origin.take() == []


class HAProxy(TempDaemon):
    """haproxy in the foreground (-db), mode tcp, one server line (`send-proxy`, `send-proxy-v2` or nothing)."""

    def __init__(self, target_port, server_options):
        super().__init__("swproxy-haproxy-")
        self.conf = os.path.join(self.dir, "haproxy.cfg")
        with open(self.conf, "w") as f:
            f.write(f"""
global
    maxconn 256

defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s

listen front
    bind 127.0.0.1:{self.port}
    server s1 127.0.0.1:{target_port} {server_options}
""")
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.spawn(["haproxy", "-db", "-f", self.conf], "haproxy", stderr=open(self.stderr_path, "wb"),
                   why=lambda: open(self.stderr_path).read())


@pytest.mark.parametrize("server_options,proxy_args,client", [
    ("send-proxy", ["--proxy-protocol"], "127.0.0.2"),
    ("send-proxy-v2", ["--proxy-protocol"], "127.0.0.2"),
    ("", [], "127.0.0.1"),  # without the PROXY protocol swproxy only sees haproxy's own address
], ids=["v1", "v2", "none"])
def test_haproxy_passes_client_address(start, origin, server_options, proxy_args, client):
    if not shutil.which("haproxy") and not os.path.exists("/usr/sbin/haproxy"):
        pytest.fail("haproxy is not installed (make deps installs it)")
    p = start(*proxy_args)
    hp = HAProxy(p.port, server_options)
    try:
        origin.take()
        tag = f"haproxy-{server_options or 'none'}"
        s = socket.create_connection(("127.0.0.1", hp.port), timeout=10, source_address=("127.0.0.2", 0))
        s.sendall(echo_request(origin, tag))
        out, _ = read_until_close(s)
        s.close()
    finally:
        hp.stop()
    r = Response(out)
    assert r.status == 200, r
    seen = origin.take()
    assert [x.target for x in seen] == [f"/echo?pp={tag}"]
    assert dict(seen[0].headers)["X-Forwarded-For"] == client
    assert log_has(p, rf'^{re.escape(client)} - - \[.*"GET {re.escape(origin.base)}/echo\?pp={tag} HTTP/1\.1" 200 ')
