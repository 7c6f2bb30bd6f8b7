"""`swproxy serve`: upstream proxy chaining. Everything stays on loopback (split out of the former
test_beyond.py; shared helpers in conftest_serve.py, the `start` and `cert` fixtures in conftest.py)."""

import json
import os
import re
import shutil

import pytest

from conftest import TempDaemon, free_port
from conftest_serve import connect_refused, get, log_has, tunnel_get, via_entry
from socks5 import Socks5Server, TLSFront


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
    assert hdrs["Via"] == f"{via_entry(a)}, {via_entry(name='swproxy-b')}"  # A's hop, then B's
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
        assert dict(origin.take()[0].headers)["Via"] == f"{via_entry(a)}, {via_entry(name='swproxy-b')}"
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
    assert via.startswith(via_entry(a) + ", 1.1 ") and "squid" in via, via
    r = tunnel_get(a.port, f"127.0.0.1:{origin.port}", "/path/through-squid")
    assert r.status == 200 and r.body == b"path /path/through-squid\n", r
    assert [x.target for x in origin.take()] == ["/path/through-squid"]
