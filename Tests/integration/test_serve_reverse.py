"""`swproxy serve`: reverse-proxy mode. Everything stays on loopback (split out of the former
test_beyond.py; shared helpers in conftest_serve.py, the `start` and `cert` fixtures in conftest.py)."""

import socket

from conftest import run, wait_port
from conftest_serve import Response, connect_refused, exchange, free_port6, get, read_until_close, tunnel_get, via_entry


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
        ("Via", via_entry(p)),
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
    assert fwd["Host"] == f"127.0.0.1:{origin.port}" and fwd["Via"] == via_entry(p)
    for name in ("X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"):
        assert name not in fwd
    assert dict(seen[2].headers)["X-Forwarded-Host"] == "front.example"
