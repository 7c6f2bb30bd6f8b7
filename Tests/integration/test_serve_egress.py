"""The egress gate: host rules from files (with ports, wildcards and IP literals), SIGHUP reloads, --learn and
--audit, reason codes everywhere, SNI checked in tunnels, and a Via name unique per instance. Real clients
(curl, Python's urllib and ssl) against loopback origins; no name outside localhost is ever resolved (denied
names are refused before any lookup)."""

import json
import re
import signal
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import free_port, run
from conftest_serve import Proxy, eventually, log_has, open_tunnel, raw_exchange, read_until_close, recv_until


def curl_status(proxy, url, *extra):
    r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", proxy.url, *extra, url])
    return r.stdout.decode()


def python_status(proxy, url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.url}))
    try:
        with opener.open(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\d+)"
    m = re.search(pattern, text)
    return int(m.group(1)) if m else 0


def scrape(port):
    return run(["curl", "-s", f"http://127.0.0.1:{port}/metrics"]).stdout.decode()


class RawUpstream:
    """Accepts tunnelled connections and records every byte each one sent (and answers `reply`, if any)."""

    def __init__(self, reply=b""):
        self.reply = reply
        self.received = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(c,), daemon=True).start()

    def handle(self, c):
        got = bytearray()
        self.received.append(got)
        c.settimeout(10)
        try:
            if self.reply:
                c.sendall(self.reply)
            while True:
                b = c.recv(65536)
                if not b:
                    break
                got += b
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.sock.close()


def client_hello(server_name=None, records=1):
    """A TLS 1.3 ClientHello with an optional server_name, split over `records` handshake records."""
    def u16(n):
        return n.to_bytes(2, "big")

    exts = b""
    if server_name is not None:
        n = server_name.encode()
        entry = b"\x00" + u16(len(n)) + n
        exts += u16(0) + u16(len(entry) + 2) + u16(len(entry)) + entry
    exts += u16(43) + u16(3) + b"\x02\x03\x04"
    body = b"\x03\x03" + b"\x07" * 32 + b"\x20" + b"\x01" * 32 + u16(2) + b"\x13\x01" + b"\x01\x00" + u16(len(exts)) + exts
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    size = -(-len(message) // records)
    out = b""
    for i in range(0, len(message), size):
        part = message[i:i + size]
        out += b"\x16\x03\x01" + u16(len(part)) + part
    return out


# --- Via: one name per instance


def test_default_via_names_differ_so_chained_instances_work(start, origin):
    """Two instances with default names chained: 200 (each calls itself HOST:PORT). A real loop (A → B → A)
    is still a loop: 508."""
    b = start("--quiet")
    a = start("--quiet", "--upstream-proxy", b.url)
    r = run(["curl", "-s", "-D", "-", "-x", a.url, f"{origin.base}/path/chained"])
    assert r.stdout.startswith(b"HTTP/1.1 200 "), r.stdout
    host = socket.gethostname().lower()
    via = re.search(rb"\r\nVia: ([^\r]+)\r\n", r.stdout).group(1).decode()
    assert via == f"1.1 {host}:{b.port} (swproxy/0.1.0), 1.1 {host}:{a.port} (swproxy/0.1.0)", via

    # A real loop: y forwards to x, x forwards to y.
    y_port = free_port()
    x = start("--quiet", "--upstream-proxy", f"http://127.0.0.1:{y_port}")
    start("--quiet", "--upstream-proxy", x.url, "--port", str(y_port))
    assert curl_status(x, f"{origin.base}/path/loop") == "508"


# --- host rules from files


@pytest.fixture
def rules_proxy(tmp_path, swproxy, origin):
    tls = RawUpstream()
    allow = tmp_path / "allow.txt"
    allow.write_text(f"# the one origin, by name and port\nlocalhost:{origin.port}\n*.localhost:{origin.port}\n"
                     f"127.0.0.1:{origin.port}   # by address\nlocalhost:{tls.port}\n")
    deny = tmp_path / "deny.txt"
    deny.write_text("denied.localhost\n")
    mport = free_port()
    p = Proxy(swproxy, "--allow-host-file", str(allow), "--deny-host-file", str(deny), "--connect-port", str(tls.port),
              "--connect-port", "443", "--metrics-listen", f"127.0.0.1:{mport}", "--log-format", "combined")
    p.allow, p.deny, p.tls, p.mport = allow, deny, tls, mport
    yield p
    p.stop()
    tls.stop()


def test_host_rule_files_with_curl_and_python(rules_proxy, origin):
    p = rules_proxy
    # Allowed: the name with its port, a subdomain by wildcard, the listed address.
    r = run(["curl", "-s", "-x", p.url, f"http://localhost:{origin.port}/path/ok"])
    assert r.stdout == b"path /path/ok\n"
    assert curl_status(p, f"http://127.0.0.1:{origin.port}/path/ip") == "200"
    # *.localhost is loopback by RFC 6761 (libcurl resolves it itself): allowed by the wildcard rule.
    assert curl_status(p, f"http://api.localhost:{origin.port}/path/wild") == "200"
    assert python_status(p, f"http://localhost:{origin.port}/path/py") == (200, b"path /path/py\n")
    # Refused: another port, a denied subdomain (deny wins over the wildcard), an unlisted address, a name
    # not on the list.
    for url in (f"http://localhost:{origin.port + 1 if origin.port < 65535 else 1}/x",
                f"http://denied.localhost:{origin.port}/x", f"http://127.0.0.2:{origin.port}/x",
                "http://elsewhere.test/x"):
        assert curl_status(p, url) == "403", url
    status, body = python_status(p, "http://elsewhere.test/x")
    assert status == 403 and b"reason: host-denied" in body, body
    # CONNECT: to a listed name and port; to an IP literal only its address rule would let through.
    s, head = open_tunnel(p.port, f"localhost:{p.tls.port}")
    assert head.startswith(b"HTTP/1.1 200 "), head
    s.close()
    out = raw_exchange(p.port, f"CONNECT 127.0.0.1:{p.tls.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 403 ") and b"reason: host-denied" in out, out
    assert log_has(p, rf'"CONNECT 127\.0\.0\.1:{p.tls.port} HTTP/1\.1" 403 .* reason=host-denied$')
    text = scrape(p.mport)
    assert metric(text, "swproxy_refusals_total", reason="host-denied") >= 6, text


def test_host_rule_reload_keeps_old_rules_on_a_bad_line(rules_proxy, origin):
    p = rules_proxy
    assert curl_status(p, f"http://localhost:{origin.port}/path/a") == "200"
    p.allow.write_text(f"localhost:{origin.port}\nnot a rule\n")
    p.proc.send_signal(signal.SIGHUP)
    assert log_has(p, re.escape(f"{p.allow}:2: 'not a rule'"))
    assert log_has(p, "reload refused, keeping the old configuration")
    # The old lists are in force: the address rule still allows, the name rule still allows.
    assert curl_status(p, f"http://127.0.0.1:{origin.port}/path/b") == "200"
    assert curl_status(p, f"http://localhost:{origin.port}/path/c") == "200"
    # A good file replaces them.
    p.allow.write_text(f"127.0.0.1:{origin.port}\n")
    p.proc.send_signal(signal.SIGHUP)
    assert log_has(p, "configuration reloaded")
    assert eventually(lambda: curl_status(p, f"http://localhost:{origin.port}/path/d") == "403")
    assert curl_status(p, f"http://127.0.0.1:{origin.port}/path/e") == "200"


def test_host_rules_govern_upgrade_reverse_forward_and_parent_routes(start, origin):
    """One rule set for every way out: an Upgrade, the forward side of --reverse --forward, and requests
    that would go through --upstream-proxy (refused here; the parent never sees them)."""
    allow = f"localhost:{origin.port}"
    p = start("--allow-host", allow, "--quiet")
    out = raw_exchange(p.port, b"GET http://elsewhere.test/ws HTTP/1.1\r\nHost: elsewhere.test\r\nConnection: Upgrade\r\n"
                               b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 403 ") and b"reason: host-denied" in out, out
    r = start("--reverse", origin.base, "--forward", "--allow-host", allow, "--quiet")
    assert curl_status(r, "http://elsewhere.test/x") == "403"
    out = raw_exchange(r.port, b"GET /path/rev HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 "), out  # the backend is the reverse proxy's own: no host rule
    parent = start("--log-format", "common")
    child = start("--upstream-proxy", parent.url, "--allow-host", allow, "--quiet")
    assert curl_status(child, "http://elsewhere.test/x") == "403"
    assert curl_status(child, f"http://localhost:{origin.port}/path/via-parent") == "200"
    assert log_has(parent, r"/path/via-parent HTTP/1\.1\" 200")
    assert "elsewhere.test" not in parent.read_log()


@pytest.mark.parametrize("fmt,pattern", [
    ("combined", r'"GET http://elsewhere\.test/x HTTP/1\.1" 403 \d+ "-" "curl/[^"]+" reason=host-denied$'),
    ("common", r'"GET http://elsewhere\.test/x HTTP/1\.1" 403 \d+ reason=host-denied$'),
    ("json", r'"status":403,.*"reason":"host-denied"'),
])
def test_refusal_reason_in_every_log_format(start, origin, fmt, pattern):
    p = start("--allow-host", "localhost", "--log-format", fmt)
    assert curl_status(p, "http://elsewhere.test/x") == "403"
    assert log_has(p, pattern)


def test_bad_rule_file_at_start(swproxy, tmp_path):
    f = tmp_path / "allow.txt"
    f.write_text("ok.test\n*.fine.test:443\nbad_rule:99999\n")
    r = run([swproxy, "serve", "--port", str(free_port()), "--allow-host-file", str(f)])
    assert r.returncode != 0
    assert f"{f}:3: 'bad_rule:99999'" in r.stderr.decode(), r.stderr
    r = run([swproxy, "serve", "--port", str(free_port()), "--allow-host-file", str(tmp_path / "missing.txt")])
    assert r.returncode != 0 and "missing.txt" in r.stderr.decode()


# --- learn, then enforce; audit


def test_learn_then_enforce(start, origin, tmp_path):
    learned = tmp_path / "learned.txt"
    up = RawUpstream(reply=b"hello")
    learner = start("--learn", str(learned), "--connect-port", str(up.port), "--quiet")
    assert curl_status(learner, f"http://localhost:{origin.port}/path/1") == "200"
    assert curl_status(learner, f"http://127.0.0.1:{origin.port}/path/2") == "200"
    assert curl_status(learner, f"http://LOCALHOST:{origin.port}/path/3") == "200"
    s, head = open_tunnel(learner.port, f"localhost:{up.port}")
    assert head.startswith(b"HTTP/1.1 200 ")
    s.close()
    want = sorted([f"127.0.0.1:{origin.port}", f"localhost:{origin.port}", f"localhost:{up.port}"])
    assert eventually(lambda: learned.exists() and
                      [l for l in learned.read_text().splitlines() if not l.startswith("#")] == want), \
        learned.read_text() if learned.exists() else "no file"

    enforcer = start("--allow-host-file", str(learned), "--connect-port", str(up.port), "--quiet")
    for url in (f"http://localhost:{origin.port}/path/1", f"http://127.0.0.1:{origin.port}/path/2"):
        assert curl_status(enforcer, url) == "200", url
    s, head = open_tunnel(enforcer.port, f"localhost:{up.port}")
    assert head.startswith(b"HTTP/1.1 200 ")
    s.close()
    for url in (f"http://127.0.0.2:{origin.port}/x", "http://other.test/x"):
        assert curl_status(enforcer, url) == "403", url
    up.stop()


def test_audit_logs_would_deny_and_refuses_nothing(swproxy, origin, tmp_path):
    log = tmp_path / "access.log"
    mport = free_port()
    p = Proxy(swproxy, "--audit", "--allow-host", "only.test", "--access-log", str(log), "--log-format", "json",
              "--metrics-listen", f"127.0.0.1:{mport}")
    try:
        assert curl_status(p, f"{origin.base}/path/audited") == "200"
        text = scrape(mport)
    finally:
        p.stop()
    first = json.loads(log.read_text().splitlines()[0])
    assert first["status"] == 200 and first["would_deny"] == "host-denied" and first["reason"] is None, first
    assert metric(text, "swproxy_would_deny_total", reason="host-denied") >= 1, text
    assert metric(text, "swproxy_refusals_total", reason="host-denied") == 0


# --- SNI in tunnels


@pytest.fixture
def sni_proxy(swproxy):
    up = RawUpstream()
    p = Proxy(swproxy, "--allow-host", f"localhost:{up.port}", "--allow-host", f"*.localhost:{up.port}",
              "--connect-port", str(up.port))
    p.up = up
    yield p
    p.stop()
    up.stop()


def tunnel_send(proxy, authority, data):
    """CONNECT, send `data`, half-close; returns (what came back, whether the proxy closed)."""
    s, head = open_tunnel(proxy.port, authority)
    assert head.startswith(b"HTTP/1.1 200 "), head
    early = head.split(b"\r\n\r\n", 1)[1]  # what the server sent first may come with the 200
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out, closed = read_until_close(s)
    s.close()
    return early + out, closed


def test_sni_matching_the_connect_host_is_relayed_byte_exactly(sni_proxy):
    p = sni_proxy
    data = client_hello("LocalHost.", records=3) + b"\x17\x03\x03\x00\x05appdt" * 100
    tunnel_send(p, f"localhost:{p.up.port}", data)
    assert eventually(lambda: len(p.up.received) == 1 and bytes(p.up.received[0]) == data)


def test_sni_mismatch_is_closed_before_a_byte_goes_upstream(sni_proxy):
    p = sni_proxy
    tunnel_send(p, f"localhost:{p.up.port}", client_hello("evil.test"))
    tunnel_send(p, f"localhost:{p.up.port}", client_hello(None))
    tunnel_send(p, f"localhost:{p.up.port}", b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00")  # not a ClientHello
    assert log_has(p, rf'"CONNECT localhost:{p.up.port} HTTP/1\.1" 200 .* reason=sni-mismatch$')
    assert log_has(p, r'reason=sni-missing$')
    assert log_has(p, r'reason=sni-unreadable$')
    time.sleep(0.3)
    assert all(len(r) == 0 for r in p.up.received), p.up.received


@pytest.fixture(scope="module")
def tls_origin(cert):
    from origin import Origin
    o = Origin()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    o.socket = ctx.wrap_socket(o.socket, server_side=True)
    yield o
    o.stop()


def test_sni_checked_with_real_tls_clients(swproxy, tls_origin):
    """curl with the right name passes; curl told to connect elsewhere than its TLS name (--connect-to: the
    classic domain-fronting shape) and Python's ssl with another server_hostname are cut off."""
    port = tls_origin.port
    p = Proxy(swproxy, "--allow-host", f"localhost:{port}", "--allow-host", f"*.localhost:{port}",
              "--connect-port", str(port))
    try:
        r = run(["curl", "-sSk", "-x", p.url, f"https://localhost:{port}/path/tls"])
        assert r.returncode == 0 and r.stdout == b"path /path/tls\n", r.stderr
        r = run(["curl", "-sSk", "-x", p.url, "--connect-to", f"front.localhost:{port}:localhost:{port}",
                 f"https://front.localhost:{port}/path/fronted"])
        assert r.returncode != 0 and r.stdout == b"", r.stdout
        s, head = open_tunnel(p.port, f"localhost:{port}")
        assert head.startswith(b"HTTP/1.1 200 ")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(s, server_hostname="other.localhost").do_handshake()
        s.close()
        assert log_has(p, rf'"CONNECT localhost:{port} HTTP/1\.1" 200 .* reason=sni-mismatch$')
    finally:
        p.stop()


def test_tunnel_require_tls(start):
    up = RawUpstream(reply=b"SSH-2.0-test\r\n")
    relaxed = start("--tunnel-check-sni", "--connect-port", str(up.port))
    out, _ = tunnel_send(relaxed, f"localhost:{up.port}", b"SSH-2.0-client\r\n")
    assert out == b"SSH-2.0-test\r\n"  # server-first bytes flow before the check
    assert eventually(lambda: any(bytes(r) == b"SSH-2.0-client\r\n" for r in up.received))
    strict = start("--tunnel-require-tls", "--connect-port", str(up.port))
    before = len(up.received)
    tunnel_send(strict, f"localhost:{up.port}", b"SSH-2.0-client\r\n")
    assert log_has(strict, r'reason=not-tls$')
    time.sleep(0.3)
    assert all(len(r) == 0 for r in up.received[before:])
    up.stop()


def test_hello_never_sent_times_out(start):
    up = RawUpstream()
    p = start("--tunnel-check-sni", "--connect-port", str(up.port), "--header-timeout", "1")
    s, head = open_tunnel(p.port, f"localhost:{up.port}")
    assert head.startswith(b"HTTP/1.1 200 ")
    s.sendall(client_hello("localhost")[:20])  # a start, never finished
    out, closed = read_until_close(s, timeout=5)
    assert closed
    s.close()
    assert log_has(p, r'reason=sni-timeout$')
    up.stop()


# --- parent-proxy failover


def test_parent_failover_and_probe_back(swproxy, start, origin):
    """Two parents, the first killed mid-run: no request that starts afterwards sees an error (GET, POST,
    CONNECT); the first is marked down, and once it is back, probed and used again after its window."""
    p1 = Proxy(swproxy, "--connect-port", str(origin.port), "--log-format", "common")
    p2 = start("--connect-port", str(origin.port), "--log-format", "common")
    mport = free_port()
    a = start("--quiet", "--upstream-proxy", p1.url, "--upstream-proxy", p2.url, "--connect-port", str(origin.port),
              "--metrics-listen", f"127.0.0.1:{mport}")
    try:
        for i in range(5):
            assert curl_status(a, f"{origin.base}/path/before{i}") == "200"
        assert log_has(p1, r"/path/before4 HTTP/1\.1\" 200")
        p1.proc.kill()
        p1.proc.wait()
        for i in range(10):
            assert curl_status(a, f"{origin.base}/path/after{i}") == "200", i
            r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", a.url, "-d", f"body{i}",
                     f"{origin.base}/echo"])
            assert r.stdout == b"200", i
            s, head = open_tunnel(a.port, f"127.0.0.1:{origin.port}")
            assert head.startswith(b"HTTP/1.1 200 "), (i, head)
            s.close()
        assert log_has(p2, r"/path/after9 HTTP/1\.1\" 200")
        text = scrape(mport)
        assert metric(text, "swproxy_parent_up", parent=f"http://127.0.0.1:{p1.port}") == 0, text
        assert metric(text, "swproxy_parent_failovers_total", parent=f"http://127.0.0.1:{p1.port}") >= 1, text
        assert metric(text, "swproxy_parent_up", parent=f"http://127.0.0.1:{p2.port}") == 1, text

        # Back on its port: after the window, the next request probes it and it is in use again.
        back = Proxy(swproxy, "--connect-port", str(origin.port), "--log-format", "common", port=p1.port)
        time.sleep(1.2)
        assert eventually(lambda: curl_status(a, f"{origin.base}/path/probe") == "200" and
                          re.search(r"/path/probe HTTP/1\.1\" 200", back.read_log()) is not None, timeout=15)
        assert metric(scrape(mport), "swproxy_parent_up", parent=f"http://127.0.0.1:{p1.port}") == 1
        back.stop()
    finally:
        p1.stop()
