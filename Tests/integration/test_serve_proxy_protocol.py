"""`swproxy serve`: pROXY protocol. Everything stays on loopback (split out of the former
test_beyond.py; shared helpers in conftest_serve.py, the `start` and `cert` fixtures in conftest.py)."""

import os
import re
import shutil
import socket
import struct
import time

import pytest

from conftest import TempDaemon
from conftest_serve import Proxy, Response, exchange, log_has, raw_exchange_closed, read_until_close, sentinel


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
    assert sentinel(pp_proxy.port, origin, prefix=b"PROXY TCP4 198.51.100.9 127.0.0.1 40000 8080\r\n") == []


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
