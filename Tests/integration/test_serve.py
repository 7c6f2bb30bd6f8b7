"""`swproxy serve` with real clients (curl -x, raw sockets) against in-process origins and nginx."""

import hashlib
import os
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import free_port, run
from conftest_serve import Proxy, raw_exchange, read_until_close, recv_until, via_entry
from origin import payload


@pytest.fixture(scope="module")
def proxy(swproxy):
    p = Proxy(swproxy, "--read-timeout", "2", "--connect-port", "443")
    yield p
    p.stop()


def curl(proxy, *args, timeout=60):
    return run(["curl", "-sS", "-x", proxy.url] + list(args), timeout=timeout)


def test_get_small_and_large_with_hash(proxy, origin, nginx_files):
    p = curl(proxy, f"{origin.base}/bytes/1000")
    assert p.returncode == 0, p.stderr
    assert p.stdout == payload(1000, "/bytes/1000")
    p = curl(proxy, f"{nginx_files.base}/big")
    assert p.returncode == 0, p.stderr
    with open(os.path.join(nginx_files.files_root, "big"), "rb") as f:
        assert hashlib.sha256(p.stdout).digest() == hashlib.sha256(f.read()).digest()


def test_post_content_length_and_chunked(proxy, origin, tmp_path):
    p = curl(proxy, "-d", "a=1&b=2", f"{origin.base}/echo")
    assert p.returncode == 0, p.stderr
    assert b'"body": "a=1&b=2"' in p.stdout
    assert b'"POST"' in p.stdout
    body = tmp_path / "body"
    body.write_bytes(b"x" * 100000)
    origin.take()
    p = curl(proxy, "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{body}", f"{origin.base}/echo")
    assert p.returncode == 0, p.stderr
    seen = origin.take()[0]
    assert seen.body == b"x" * 100000
    assert ("Transfer-Encoding", "chunked") in seen.headers


def test_head_204_304(proxy, origin):
    p = curl(proxy, "-I", f"{origin.base}/bytes/50")
    assert p.returncode == 0
    assert b"Content-Length: 50" in p.stdout
    p = curl(proxy, "-i", f"{origin.base}/nocontent", "-w", "%{http_code}")
    assert p.returncode == 0 and p.stdout.startswith(b"HTTP/1.1 204") and p.stdout.endswith(b"\r\n\r\n204")
    p = curl(proxy, "-i", f"{origin.base}/notmodified", "-w", "%{http_code}")
    assert p.returncode == 0 and p.stdout.endswith(b"\r\n\r\n304")


def test_chunked_response_to_11_and_10_clients(proxy, origin):
    p = curl(proxy, "-i", f"{origin.base}/chunked")
    assert p.returncode == 0
    assert b"Transfer-Encoding: chunked" in p.stdout
    assert p.stdout.endswith(b"hello chunked world\n")
    p = curl(proxy, "-0", "-i", f"{origin.base}/chunked")
    assert p.returncode == 0
    assert b"Transfer-Encoding" not in p.stdout
    assert p.stdout.endswith(b"\r\n\r\nhello chunked world\n")


def test_close_delimited_origin_is_chunked_for_11_clients(proxy, origin):
    p = curl(proxy, "-i", f"{origin.base}/closedelim")
    assert p.returncode == 0
    assert b"Transfer-Encoding: chunked" in p.stdout
    assert p.stdout.endswith(b"until close\n")


def test_keep_alive_reuse(proxy, origin):
    p = run(["curl", "-sv", "-x", proxy.url, f"{origin.base}/path/1", f"{origin.base}/path/2"])
    assert p.returncode == 0
    assert p.stdout == b"path /path/1\npath /path/2\n"
    assert b"Re-using existing connection" in p.stderr


def test_pipelined_requests_answered_in_order(proxy, origin):
    reqs = b"".join(
        f"GET {origin.base}/slow/{d} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for d in ("0.3", "0")
    ) + f"GET {origin.base}/path/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    out = raw_exchange(proxy.port, reqs)
    bodies = re.findall(rb"\r\n\r\n([^H]*)", out)
    assert out.count(b"HTTP/1.1 200 OK") == 3
    assert out.index(b"slow done") < out.index(b"path /path/last")
    assert out.endswith(b"path /path/last\n")


def test_hop_by_hop_removed_via_and_xff_added(proxy, origin):
    origin.take()
    raw = (f"GET {origin.base}/hopbyhop HTTP/1.1\r\nHost: ignored\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\n"
           f"Keep-Alive: 300\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nTE: trailers\r\n"
           f"Upgrade: foo\r\nX-Forwarded-For: 10.1.1.1\r\nVia: 1.0 other\r\nX-Case-Kept: Yes\r\n\r\n").encode()
    out = raw_exchange(proxy.port, raw)
    seen = origin.take()[0]
    names = [k.lower() for k, _ in seen.headers]
    for gone in ("connection", "x-secret", "keep-alive", "proxy-connection", "proxy-authorization", "te", "upgrade"):
        assert gone not in names, gone
    assert ("X-Case-Kept", "Yes") in seen.headers
    assert ("Via", "1.0 other, " + via_entry(proxy)) in seen.headers
    assert ("X-Forwarded-For", "10.1.1.1, 127.0.0.1") in seen.headers
    assert dict(seen.headers)["Host"] == f"127.0.0.1:{origin.port}"
    head = out.split(b"\r\n\r\n")[0].decode()
    assert "X-Drop-Me" not in head and "Keep-Alive" not in head and "Proxy-Connection" not in head
    assert "X-Keep: yes" in head
    assert "Via: " + via_entry(proxy) in head
    assert "Connection: close" in head


def test_forwarded_fields_reach_the_origin_in_order(proxy, origin):
    # libcurl gets runs of fields it never inspects as one header entry (UpstreamHead.curlLines); the
    # origin must still see every field, in the client's order and case, empty values included, with no
    # field of libcurl's own (Accept, User-Agent, Expect) added or doubled.
    origin.take()
    sent = [("X-Empty", ""), ("X-A", "1"), ("user-AGENT", "ua/1"), ("Accept-Language", "en"), ("X-A", "2"),
            ("Accept", "text/plain"), ("Cache-Control", "no-cache"), ("Cookie", "c=1"), ("X-Mid", ""),
            ("Referer", "http://r/"), ("Origin", "http://o"), ("X-Last", "z")]
    raw = f"GET {origin.base}/bytes/10 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sent) + "\r\n"
    out = raw_exchange(proxy.port, raw.encode())
    assert out.startswith(b"HTTP/1.1 200"), out[:200]
    seen = origin.take()[0]
    assert seen.headers[0] == ("Host", f"127.0.0.1:{origin.port}")
    assert seen.headers[1:] == sent + [("Via", via_entry(proxy)), ("X-Forwarded-For", "127.0.0.1")]
    # Without Accept from the client, libcurl's own "Accept: */*" stays out; without a body, so does Expect.
    out = raw_exchange(proxy.port, f"GET {origin.base}/bytes/10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Only: 1\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 200"), out[:200]
    seen = origin.take()[0]
    assert seen.headers == [("Host", f"127.0.0.1:{origin.port}"), ("X-Only", "1"), ("Via", via_entry(proxy)),
                            ("X-Forwarded-For", "127.0.0.1")]


def test_a_kept_handle_carries_nothing_into_the_next_request(swproxy, origin, origin6):
    """One loop keeps the handles of GETs without a body configured for the next such request (only URL,
    target and fields are set again): requests to two origins, with other methods and a body between, on
    one keep-alive connection, each reach their origin as sent: method, target, fields, body."""
    p = Proxy(swproxy, "--threads", "1")
    try:
        origin.take()
        origin6.take()
        steps = [("GET", origin.base, "/path/a", [("X-One", "1")], None),
                 ("GET", origin6.base, "/path/b?q=1", [("X-Two", "2")], None),
                 ("HEAD", origin.base, "/path/c", [("X-Three", "3")], None),
                 ("GET", origin.base, "/path/d", [], None),
                 ("POST", origin6.base, "/path/e", [("X-Five", "5")], b"body"),
                 ("GET", origin6.base, "/path/f", [("X-Six", "6")], None),
                 ("DELETE", origin.base, "/path/g", [], None),
                 ("GET", origin.base, "/path/h", [("X-Eight", "8"), ("X-Eight-B", "b")], None)]
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        with s:
            for method, base, target, fields, body in steps:
                lines = [f"{method} {base}{target} HTTP/1.1", "Host: x"] + [f"{k}: {v}" for k, v in fields]
                if body is not None:
                    lines.append(f"Content-Length: {len(body)}")
                s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
                head = recv_until(s, b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                if method != "HEAD":
                    n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
                    rest = head.partition(b"\r\n\r\n")[2]
                    while len(rest) < n:
                        rest += s.recv(65536)
        seen = {r.target: r for r in origin.take() + origin6.take()}
        for method, base, target, fields, body in steps:
            r = seen[target]
            assert r.method == method, (target, r.method)
            assert [(k, v) for k, v in r.headers if k.lower().startswith("x-") and k != "X-Forwarded-For"] == fields
            assert r.body == (body or b""), target
    finally:
        p.stop()


def test_no_via_no_forwarded_for(swproxy, origin):
    p = Proxy(swproxy, "--no-via", "--no-forwarded-for")
    try:
        origin.take()
        r = curl(p, f"{origin.base}/path/x")
        assert r.returncode == 0
        names = [k.lower() for k, _ in origin.take()[0].headers]
        assert "via" not in names and "x-forwarded-for" not in names
    finally:
        p.stop()


def test_max_forwards(proxy, origin):
    out = raw_exchange(proxy.port, f"OPTIONS {origin.base}/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and b"Allow:" in out
    origin.take()
    out = raw_exchange(proxy.port, f"OPTIONS {origin.base}/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 3\r\nConnection: close\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 200")
    assert ("Max-Forwards", "2") in origin.take()[0].headers
    out = raw_exchange(proxy.port, f"TRACE {origin.base}/t HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nX-T: 1\r\nConnection: close\r\n\r\n".encode())
    assert b"Content-Type: message/http" in out and out.endswith(b"X-T: 1\r\nConnection: close\r\n\r\n")


def test_loop_detection(proxy, origin):
    origin.take()
    out = raw_exchange(proxy.port, f"GET {origin.base}/x HTTP/1.1\r\nHost: x\r\nVia: 1.0 a, {via_entry(proxy)}\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 508 Loop Detected\r\n")
    out = raw_exchange(proxy.port, f"GET {proxy.url}/x HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 508 ")
    assert origin.take() == []


def test_expect_100_continue_relayed(proxy, origin):
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    s.sendall(f"PUT {origin.base}/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode())
    first = s.recv(4096)
    assert first.startswith(b"HTTP/1.1 100 Continue\r\n"), first
    s.sendall(b"hello")
    rest = recv_until(s, b'"body": "hello"')
    s.close()
    assert b"HTTP/1.1 200 OK" in rest and b'"body": "hello"' in rest


@pytest.mark.parametrize("raw,status", [
    (b"GET /origin-form HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET http://h/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET http://h/ HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET http://h/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"GET http://h/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET http://h/ HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n", 431),
    (b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n", 403),
])
def test_error_statuses_close_the_connection(proxy, raw, status):
    out = raw_exchange(proxy.port, raw + b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 %d " % status), out[:200]
    assert b"Connection: close" in out.split(b"\r\n\r\n")[0]
    assert out.count(b"HTTP/1.1") == 1  # nothing after the bad request was treated as a request


def test_upstream_refused_is_502_and_timeout_is_504(proxy, origin):
    p = curl(proxy, "-w", "%{http_code}", "-o", "/dev/null", f"http://127.0.0.1:{free_port()}/")
    assert p.stdout == b"502"
    p = curl(proxy, "-w", "%{http_code}", "-o", "/dev/null", f"{origin.base}/slow/4")
    assert p.stdout == b"504"


def test_upstream_drop_mid_body_truncates(proxy, origin):
    p = curl(proxy, f"{origin.base}/drop")
    assert p.returncode == 18  # partial file: the client sees a truncated body
    assert len(p.stdout) == 10


@pytest.mark.parametrize("n", [16384, 65536, 65536 + 100, 262144, 1 << 20])
def test_upstream_drop_after_whole_pieces_delivers_every_byte_that_came(proxy, origin, n):
    # The proxy holds whole 16 KiB pieces of libcurl's to send one read at once: a cut right after them
    # must still deliver them before the client's connection is cut.
    p = curl(proxy, f"{origin.base}/drop-after/{n}")
    assert p.returncode == 18
    assert p.stdout == payload(n, f"/drop-after/{n}")


def test_client_disconnect_mid_download_frees_descriptors(proxy, nginx_files):
    time.sleep(0.2)
    base = proxy.fd_count()
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", proxy.port))
        s.sendall(f"GET {nginx_files.base}/huge HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        s.recv(1000)
        s.close()
    deadline = time.time() + 10
    while time.time() < deadline and proxy.fd_count() > base:
        time.sleep(0.1)
    assert proxy.fd_count() <= base


@pytest.fixture(scope="module")
def tls_origin(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    key, cert = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    from origin import Origin
    o = Origin()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    o.socket = ctx.wrap_socket(o.socket, server_side=True)
    yield o
    o.stop()


def test_connect_tunnel_to_tls_origin(swproxy, tls_origin):
    p = Proxy(swproxy, "--connect-port", str(tls_origin.port))
    try:
        r = run(["curl", "-sSk", "-x", p.url, f"https://127.0.0.1:{tls_origin.port}/bytes/5000"])
        assert r.returncode == 0, r.stderr
        assert r.stdout == payload(5000, "/bytes/5000")
        r = run(["curl", "-sSk", "-p", "-x", p.url, f"https://127.0.0.1:{tls_origin.port}/path/a",
                 f"https://127.0.0.1:{tls_origin.port}/path/b"])
        assert r.stdout == b"path /path/a\npath /path/b\n"
    finally:
        p.stop()
    assert re.search(r'"CONNECT 127\.0\.0\.1:\d+ HTTP/1\.1" 200', p.read_log())


def test_https_absolute_form_verifies_certificates(proxy, tls_origin):
    # The local origin's certificate is self-signed: libcurl refuses it, the client gets 502.
    out = raw_exchange(proxy.port, f"GET https://127.0.0.1:{tls_origin.port}/x HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 502 ")
    assert b"TLS" in out


def test_many_concurrent_clients(swproxy, origin):
    """2,000 clients at once are all answered. Its own proxy, with the default --read-timeout: the module's
    2 s one would turn a slow origin on a loaded machine into 504s that say nothing about the proxy."""
    import asyncio

    proxy = Proxy(swproxy, "--quiet")

    async def one(i):
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        w.write(f"GET {origin.base}/path/{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        await w.drain()
        data = await r.read()
        w.close()
        return data.endswith(f"path /path/{i}\n".encode())

    async def burst():
        return await asyncio.gather(*(one(i) for i in range(2000)), return_exceptions=True)

    try:
        results = asyncio.run(burst())
    finally:
        proxy.stop()
    assert sum(1 for r in results if r is True) == 2000, [r for r in results if r is not True][:3]


def test_graceful_shutdown_finishes_in_flight(swproxy, origin):
    p = Proxy(swproxy, "--drain-timeout", "5")
    result = {}

    def fetch():
        result["r"] = run(["curl", "-sS", "-x", p.url, f"{origin.base}/slow/1"])

    t = threading.Thread(target=fetch)
    t.start()
    time.sleep(0.4)
    code = p.stop()
    t.join()
    assert code == 0
    assert result["r"].stdout == b"slow done\n"


def test_non_loopback_listen_refuses_without_allow(swproxy):
    r = run([swproxy, "serve", "--listen", "0.0.0.0:0"], timeout=10)
    assert r.returncode == 2
    assert b"--allow 0.0.0.0/0" in r.stderr


def test_denied_client_gets_403(swproxy, origin):
    p = Proxy(swproxy, "--deny", "127.0.0.0/8")
    try:
        out = raw_exchange(p.port, f"GET {origin.base}/x HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert out.startswith(b"HTTP/1.1 403 ")
    finally:
        p.stop()


def test_header_timeout_and_idle_timeout(swproxy, origin):
    p = Proxy(swproxy, "--header-timeout", "0.5", "--idle-timeout", "0.5")
    try:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        s.sendall(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n")  # never finished
        got, closed = read_until_close(s)
        assert closed
        s.close()
        assert got.startswith(b"HTTP/1.1 408 ")
        # A kept-alive connection with nothing more to say is closed after the idle timeout, without a response.
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        s.sendall(f"GET {origin.base}/path/k HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        got, closed = read_until_close(s)
        assert closed
        s.close()
        assert got.startswith(b"HTTP/1.1 200 OK") and got.endswith(b"path /path/k\n")
    finally:
        p.stop()


def test_json_access_log_to_file(swproxy, origin, tmp_path):
    log = tmp_path / "access.log"
    p = Proxy(swproxy, "--access-log", str(log), "--log-format", "json")
    try:
        curl(p, f"{origin.base}/bytes/123")
        curl(p, f"http://127.0.0.1:{free_port()}/")
    finally:
        p.stop()
    import json
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[0]["method"] == "GET" and lines[0]["status"] == 200 and lines[0]["bytes_out"] == 123
    assert lines[0]["upstream"] == "127.0.0.1" and lines[0]["error"] is None and lines[0]["client"] == "127.0.0.1"
    assert lines[1]["status"] == 502 and lines[1]["error"] == "upstream-connect"
    for key in ("time", "target", "bytes_in", "duration_ms"):
        assert key in lines[0]


def test_ipv6_listener(swproxy, origin):
    port = free_port()
    p = subprocess.Popen([swproxy, "serve", "--listen", f"[::1]:{port}", "--quiet"], stderr=subprocess.PIPE)
    try:
        from conftest import wait_port
        assert wait_port(port, host="::1")
        r = run(["curl", "-sS", "-x", f"http://[::1]:{port}", f"{origin.base}/path/v6"])
        assert r.stdout == b"path /path/v6\n"
    finally:
        p.terminate()
        p.wait(10)


def test_quiet_writes_no_log_and_default_listen_line(swproxy, origin):
    p = Proxy(swproxy, "--quiet")
    try:
        curl(p, f"{origin.base}/path/q")
    finally:
        p.stop()
    log = p.read_log()
    assert "listening on 127.0.0.1:" in log
    assert "/path/q" not in log


def _origin_ignoring_expect():
    """A raw origin that never sends 100 Continue: it reads the head, then the body, then answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            head, body = recv_until(c, b"\r\n\r\n", 4096).split(b"\r\n\r\n", 1)
            n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < n:
                body += c.recv(4096)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_expect_100_continue_with_an_origin_that_ignores_it(swproxy):
    """The client waits for 100 a while, then sends its body (as curl does); the origin never sends 100. The
    upload must go through instead of waiting for --read-timeout."""
    srv = _origin_ignoring_expect()
    p = Proxy(swproxy, "--read-timeout", "8", "--quiet")
    try:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        s.sendall(f"PUT http://127.0.0.1:{srv.getsockname()[1]}/up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  "Expect: 100-continue\r\n\r\n".encode())
        s.settimeout(1.0)
        try:
            early = s.recv(4096)  # nothing comes: the origin sends no 100
        except socket.timeout:
            early = b""
        s.settimeout(10)
        s.sendall(b"hello")
        out = early
        while not out.endswith(b"hello"):
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
        s.close()
        assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\nhello"), out
    finally:
        p.stop()
        srv.close()


def test_clf_log_escapes_quotes_in_the_target(swproxy, origin, tmp_path):
    log = tmp_path / "access.log"
    p = Proxy(swproxy, "--access-log", str(log))
    try:
        raw_exchange(p.port, f'GET {origin.base}/q"x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'.encode())
    finally:
        p.stop()
    line = log.read_text().splitlines()[0]
    assert f'"GET {origin.base}/q\\"x HTTP/1.1" 200 ' in line, line


def test_port_option_listens_on_loopback(swproxy, origin):
    from conftest import wait_port
    port = free_port()
    p = subprocess.Popen([swproxy, "serve", "--port", str(port), "--quiet"], stderr=subprocess.PIPE)
    try:
        assert wait_port(port)
        r = run(["curl", "-sS", "-x", f"http://127.0.0.1:{port}", f"{origin.base}/path/port"])
        assert r.stdout == b"path /path/port\n"
    finally:
        p.terminate()
        err = p.communicate(timeout=10)[1]
    assert f"listening on 127.0.0.1:{port}".encode() in err


def test_max_header_size_option(swproxy, origin):
    p = Proxy(swproxy, "--max-header-size", "1024", "--quiet")
    try:
        small = raw_exchange(p.port, f"GET {origin.base}/path/h HTTP/1.1\r\nHost: x\r\nX-A: {'a' * 500}\r\n"
                                     "Connection: close\r\n\r\n".encode())
        assert small.startswith(b"HTTP/1.1 200 ")
        big = raw_exchange(p.port, f"GET {origin.base}/path/h HTTP/1.1\r\nHost: x\r\nX-A: {'a' * 2000}\r\n\r\n".encode())
        assert big.startswith(b"HTTP/1.1 431 ")
    finally:
        p.stop()


def test_common_log_format(swproxy, origin, tmp_path):
    log = tmp_path / "access.log"
    p = Proxy(swproxy, "--access-log", str(log), "--log-format", "common")
    try:
        curl(p, "-A", "agent/1", f"{origin.base}/bytes/7")
    finally:
        p.stop()
    line = log.read_text().splitlines()[0]
    assert re.fullmatch(r'127\.0\.0\.1 - - \[[^\]]+\] "GET http://127\.0\.0\.1:\d+/bytes/7 HTTP/1\.1" 200 7', line), line


def test_connect_half_close_and_idle_timeout(swproxy):
    """The client's EOF reaches the origin as a half-close (the origin still answers), and a silent tunnel
    ends at --idle-timeout."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]

    def upper_until_eof():
        for _ in range(2):
            try:
                c, _ = srv.accept()
            except OSError:
                return
            data = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            c.sendall(data.upper())
            c.close()

    threading.Thread(target=upper_until_eof, daemon=True).start()
    p = Proxy(swproxy, "--connect-port", str(port), "--idle-timeout", "1", "--quiet")
    try:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        s.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
        s.sendall(b"half closed")
        s.shutdown(socket.SHUT_WR)
        got, closed = read_until_close(s)
        assert closed
        s.close()
        assert got == b"HALF CLOSED"
        # A tunnel where nobody says anything is closed by the proxy after --idle-timeout.
        s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        s.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
        assert s.recv(4096) == b""  # closed by the proxy (the 10 s socket timeout would raise instead)
        s.close()
    finally:
        p.stop()
        srv.close()


def test_trailers_pass_through_to_http11_clients(swproxy):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    body = b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n"

    def serve():
        c, _ = srv.accept()
        recv_until(c, b"\r\n\r\n", 4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" + body)
        time.sleep(0.5)
        c.close()

    threading.Thread(target=serve, daemon=True).start()
    p = Proxy(swproxy, "--quiet")
    try:
        out = raw_exchange(p.port, f"GET http://127.0.0.1:{port}/t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert b"Transfer-Encoding: chunked\r\n" in out
        assert out.endswith(b"\r\n\r\n" + body), out
    finally:
        p.stop()
        srv.close()


def test_max_connections_leaves_the_rest_in_the_backlog(swproxy, origin):
    """Beyond --max-connections new clients wait (accepted later), they are not accepted and dropped."""
    p = Proxy(swproxy, "--max-connections", "2", "--threads", "1", "--quiet")
    try:
        held = [socket.create_connection(("127.0.0.1", p.port), timeout=10) for _ in range(2)]
        for h in held:
            h.sendall(f"GET {origin.base}/path/held HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert h.recv(4096).startswith(b"HTTP/1.1 200 ")
        third = socket.create_connection(("127.0.0.1", p.port), timeout=10)  # the kernel's backlog takes it
        third.sendall(f"GET {origin.base}/path/third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        third.settimeout(1.0)
        with pytest.raises(socket.timeout):
            third.recv(4096)  # not served while two are open
        held[0].close()
        third.settimeout(10)
        got, closed = read_until_close(third)
        assert closed
        assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"path /path/third\n")
        third.close()
        held[1].close()
    finally:
        p.stop()


def test_loop_by_localhost_name_without_via(swproxy):
    p = Proxy(swproxy, "--no-via", "--quiet")
    try:
        out = raw_exchange(p.port, f"GET http://localhost:{p.port}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert out.startswith(b"HTTP/1.1 508 "), out[:100]
    finally:
        p.stop()
