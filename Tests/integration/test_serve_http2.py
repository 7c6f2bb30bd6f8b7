"""`swproxy serve`: hTTP/2 to https:// upstreams. Everything stays on loopback (split out of the former
test_beyond.py; shared helpers in conftest_serve.py, the `start` and `cert` fixtures in conftest.py)."""

import asyncio
import os
import re
import shutil

import pytest

from conftest import TempDaemon, spawn_logged_nginx
from conftest_serve import Response, eventually, get


class NginxEntry:
    def __init__(self, connection, protocol, request, start, end):
        self.connection, self.protocol, self.request, self.start, self.end = connection, protocol, request, start, end

    def __repr__(self):
        return f"<{self.connection} {self.protocol} {self.request} {self.start:.3f}-{self.end:.3f}>"


class TLSNginx(TempDaemon):
    """nginx with TLS and HTTP/2 on loopback; its access log records `$connection $server_protocol "$request"`."""

    def __init__(self, crt, key, root):
        super().__init__("swproxy-nginx-h2-")
        spawn_logged_nginx(self, root, '$connection $server_protocol "$request" $msec $request_time',
                           "location / { }\n        location /slow/ { limit_rate 32k; }", tls=(crt, key))

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
