"""`--listen-tls`: clients reach the proxy over TLS (`https://` proxies), so proxy credentials never cross the
network in clear. Real clients: curl (-x https://, with --proxy-user, plain requests and CONNECT), Python
(urllib3's HTTPS-proxy support, and ssl by hand), headless Chromium (--proxy-server=https://). Handshake
failures are logged and counted and the proxy keeps serving; SIGHUP loads a new certificate."""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading

import pytest

from conftest import free_port, run
from conftest_serve import Proxy, eventually, log_has, read_until_close, recv_until


def make_cert(d, cn):
    key, crt = d / f"{cn}.key", d / f"{cn}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "1", "-subj", f"/CN={cn}", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return str(crt), str(key)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("proxy-tls")
    os.chmod(d, 0o755)
    return d, make_cert(d, "proxy-one"), make_cert(d, "proxy-two")


@pytest.fixture
def tls_proxy(swproxy, certs, tmp_path):
    d, (crt, key), _ = certs
    # The files the proxy reads, replaced by the reload test.
    live_crt, live_key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(crt, live_crt)
    shutil.copy(key, live_key)
    port = free_port()
    mport = free_port()
    p = Proxy(swproxy, "--listen-tls", f"127.0.0.1:{port}", "--tls-cert", str(live_crt), "--tls-key", str(live_key),
              "--auth", "alice:s3cret", "--metrics-listen", f"127.0.0.1:{mport}")
    p.tls_port, p.mport, p.crt, p.live_crt, p.live_key = port, mport, crt, live_crt, live_key
    assert eventually(lambda: _open(port))
    yield p
    p.stop()


def _open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def curl_via(p, *args):
    return run(["curl", "-sS", "-x", f"https://127.0.0.1:{p.tls_port}", "--proxy-cacert", p.crt,
                "--proxy-user", "alice:s3cret", *args])


def metric(p, name):
    text = run(["curl", "-s", f"http://127.0.0.1:{p.mport}/metrics"]).stdout.decode()
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1)) if m else -1


def test_curl_through_an_https_proxy_with_auth(tls_proxy, origin):
    p = tls_proxy
    r = curl_via(p, f"{origin.base}/path/over-tls")
    assert r.returncode == 0 and r.stdout == b"path /path/over-tls\n", r.stderr
    # A large body down, through TLS.
    big = curl_via(p, f"{origin.base}/bytes/3000000")
    assert big.returncode == 0 and len(big.stdout) == 3_000_000, big.stderr
    # Without credentials: 407, over TLS.
    r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", f"https://127.0.0.1:{p.tls_port}",
             "--proxy-cacert", p.crt, f"{origin.base}/path/x"])
    assert r.stdout == b"407"
    assert metric(p, "swproxy_tls_handshakes_total") >= 3


def test_connect_inside_tls_to_the_proxy(swproxy, certs, tls_origin_cert):
    """CONNECT through an https:// proxy to a TLS origin: TLS inside TLS, with curl."""
    d, (crt, key), _ = certs
    origin_port, origin_crt = tls_origin_cert
    port = free_port()
    p = Proxy(swproxy, "--listen-tls", f"127.0.0.1:{port}", "--tls-cert", crt, "--tls-key", key,
              "--connect-port", str(origin_port), "--auth", "alice:s3cret")
    try:
        assert eventually(lambda: _open(port))
        r = run(["curl", "-sS", "-x", f"https://127.0.0.1:{port}", "--proxy-cacert", crt, "--proxy-user", "alice:s3cret",
                 "--cacert", origin_crt, f"https://localhost:{origin_port}/path/tunnelled"])
        assert r.returncode == 0 and r.stdout == b"path /path/tunnelled\n", r.stderr
        assert log_has(p, rf'"CONNECT localhost:{origin_port} HTTP/1\.1" 200 ')
    finally:
        p.stop()


@pytest.fixture(scope="module")
def tls_origin_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("origin-tls")
    crt, key = make_cert(d, "origin")
    from origin import Origin
    o = Origin()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    o.socket = ctx.wrap_socket(o.socket, server_side=True)
    yield o.port, crt
    o.stop()


def test_python_clients(tls_proxy, origin):
    import base64
    import urllib3
    p = tls_proxy
    ctx = ssl.create_default_context(cafile=p.crt)
    auth = base64.b64encode(b"alice:s3cret").decode()
    # (urllib3 verifies an https:// proxy with ca_certs for http:// targets; proxy_ssl_context is not used there)
    pm = urllib3.ProxyManager(f"https://127.0.0.1:{p.tls_port}", ca_certs=p.crt,
                              proxy_headers={"Proxy-Authorization": f"Basic {auth}"})
    r = pm.request("GET", f"{origin.base}/path/urllib3", retries=False)
    assert r.status == 200 and r.data == b"path /path/urllib3\n"
    # By hand: ssl over a socket, an absolute-form request with credentials.
    with socket.create_connection(("127.0.0.1", p.tls_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(f"GET {origin.base}/path/by-hand HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\n"
                      "Connection: close\r\n\r\n".encode())
            out, _ = read_until_close(s)
    assert out.startswith(b"HTTP/1.1 200 ") and out.endswith(b"path /path/by-hand\n"), out


def test_handshake_failures_are_logged_and_do_not_stop_the_proxy(tls_proxy, origin):
    p = tls_proxy
    before = metric(p, "swproxy_tls_handshake_failures_total")
    # Plain HTTP to the TLS port; a TLS client that does not trust the certificate (it aborts with an
    # alert); a client that sends half a ClientHello and vanishes; garbage.
    s = socket.create_connection(("127.0.0.1", p.tls_port), timeout=5)
    s.sendall(f"GET {origin.base}/x HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    out, closed = read_until_close(s)
    s.close()
    assert out.startswith(b"HTTP/1.1 400 ") and b"use an https:// proxy URL" in out, out
    r = run(["curl", "-s", "-x", f"https://127.0.0.1:{p.tls_port}", f"{origin.base}/x"])
    assert r.returncode != 0
    s = socket.create_connection(("127.0.0.1", p.tls_port), timeout=5)
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    s.close()
    s = socket.create_connection(("127.0.0.1", p.tls_port), timeout=5)
    s.sendall(os.urandom(4096))
    s.close()
    assert eventually(lambda: metric(p, "swproxy_tls_handshake_failures_total") >= before + 4)
    assert log_has(p, r'"- - -" 400 0 .* reason=tls-handshake: ')
    r = curl_via(p, f"{origin.base}/path/still-serving")
    assert r.returncode == 0 and r.stdout == b"path /path/still-serving\n", r.stderr


def test_sighup_loads_a_new_certificate(tls_proxy, certs, origin):
    p = tls_proxy
    _, _, (crt2, key2) = certs

    def presented():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", p.tls_port), timeout=5) as raw:
            with ctx.wrap_socket(raw) as s:
                return s.getpeercert(binary_form=True)

    first = presented()
    shutil.copy(crt2, p.live_crt)
    shutil.copy(key2, p.live_key)
    p.proc.send_signal(signal.SIGHUP)
    assert log_has(p, "configuration reloaded")
    assert eventually(lambda: presented() != first)
    r = run(["curl", "-sS", "-x", f"https://127.0.0.1:{p.tls_port}", "--proxy-cacert", crt2,
             "--proxy-user", "alice:s3cret", f"{origin.base}/path/new-cert"])
    assert r.returncode == 0 and r.stdout == b"path /path/new-cert\n", r.stderr
    # A key that does not match: the reload is refused, the certificate in force stays.
    shutil.copy(p.crt, p.live_crt)
    p.proc.send_signal(signal.SIGHUP)
    assert log_has(p, r"reload refused.*--tls-key")
    assert presented() != first


def test_headless_chromium_through_an_https_proxy_with_auth(swproxy, certs, origin, tmp_path):
    """Chromium's --proxy-server=https://: its TLS to the proxy, the 407 answered with credentials (over the
    DevTools protocol, as a user at the prompt would), the page through."""
    from cdp import page_text
    chromium = shutil.which("chromium")
    assert chromium, "chromium is installed by make deps"
    d, (crt, key), _ = certs
    port = free_port()
    p = Proxy(swproxy, "--listen-tls", f"127.0.0.1:{port}", "--tls-cert", crt, "--tls-key", key,
              "--auth", "alice:s3cret")
    try:
        assert eventually(lambda: _open(port))
        text = page_text(chromium, f"https://127.0.0.1:{port}", f"{origin.base}/path/chromium", tmp_path / "profile",
                         username="alice", password="s3cret")
        assert "path /path/chromium" in text, text
        assert log_has(p, r'"GET http://127\.0\.0\.1:\d+/path/chromium HTTP/1\.1" 407 ')
        assert log_has(p, r'"GET http://127\.0\.0\.1:\d+/path/chromium HTTP/1\.1" 200 ')
    finally:
        p.stop()
