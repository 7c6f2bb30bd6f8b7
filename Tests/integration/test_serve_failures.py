"""Upstream failures that need no network beyond loopback, the drain timeout running out, and the memory an
upload takes: each answered with its status, counted under its metrics kind, and bounded."""

import os
import signal
import socket
import threading
import time

from conftest import free_port, run, wait_port
from conftest_serve import Proxy, raw_exchange, recv_until
from test_operate import metric, scrape


def black_hole():
    """A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it never
    completes (on loopback, with nothing leaving the machine)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    return port, [srv] + fillers


def test_upstream_tls_resolve_and_connect_timeout_failures(swproxy, origin):
    mport = free_port()
    p = Proxy(swproxy, "--metrics-listen", f"127.0.0.1:{mport}", "--connect-timeout", "1", "--quiet")
    port, held = black_hole()
    try:
        assert wait_port(mport)
        # https:// in absolute form: the proxy speaks TLS to a port that answers in plain HTTP.
        out = raw_exchange(p.port, f"GET https://127.0.0.1:{origin.port}/bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert out.startswith(b"HTTP/1.1 502 "), out[:120]
        assert b"upstream TLS failure" in out
        # A name the resolver refuses without asking any server (an empty label): 502.
        out = raw_exchange(p.port, b"GET http://a..b/ HTTP/1.1\r\nHost: a..b\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 502 "), out[:120]
        assert b"upstream name not resolved" in out
        # A connect that never completes: --connect-timeout, then 504.
        out = raw_exchange(p.port, f"GET http://127.0.0.1:{port}/x HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert out.startswith(b"HTTP/1.1 504 "), out[:120]
        assert b"upstream timed out" in out
        # The proxy keeps serving everyone else.
        r = run(["curl", "-s", "-x", p.url, f"{origin.base}/bytes/10"])
        assert r.returncode == 0 and len(r.stdout) == 10
        status, text = scrape(mport)
        assert status == 200
        assert metric(text, "swproxy_upstream_errors_total", '{kind="tls"}') == 1
        assert metric(text, "swproxy_upstream_errors_total", '{kind="resolve"}') == 1
        assert metric(text, "swproxy_upstream_errors_total", '{kind="timeout"}') == 1
        assert metric(text, "swproxy_upstream_errors_total", '{kind="connect"}') == 0
    finally:
        p.stop()
        for s in held:
            s.close()


def test_drain_timeout_closes_what_is_still_running(swproxy, origin):
    p = Proxy(swproxy, "--drain-timeout", "1", "--quiet")
    result = {}

    def fetch():
        result["r"] = run(["curl", "-sS", "-x", p.url, f"{origin.base}/slow/20"], timeout=60)

    t = threading.Thread(target=fetch)
    t.start()
    time.sleep(0.5)
    p.proc.send_signal(signal.SIGTERM)
    try:
        # Ends with the drain timeout, long before the origin's 20 s answer: the request is cut, exit 0.
        assert p.proc.wait(15) == 0
    finally:
        p.stop()
    t.join()
    assert result["r"].returncode == 52, result["r"]  # curl: empty reply from server
    assert result["r"].stdout == b""


class SlowSink(threading.Thread):
    """An origin that reads a request body at about `rate` bytes/s and answers with the count it read."""

    def __init__(self, rate):
        super().__init__(daemon=True)
        self.rate = rate
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        self.start()

    def run(self):
        try:
            c, _ = self.srv.accept()
        except OSError:
            return
        with c:
            head, _, rest = recv_until(c, b"\r\n\r\n").partition(b"\r\n\r\n")
            fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
            fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
            length = int(fields[b"content-length"])
            if fields.get(b"expect", b"").lower() == b"100-continue":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            got = len(rest)
            chunk = 64 * 1024
            while got < length:
                data = c.recv(min(chunk, length - got))
                if not data:
                    break
                got += len(data)
                time.sleep(len(data) / self.rate)
            body = str(got).encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


def test_upload_to_a_slow_origin_stays_bounded(swproxy, tmp_path):
    size = 128 << 20
    path = tmp_path / "upload"
    with open(path, "wb") as f:
        f.truncate(size)
    sink = SlowSink(rate=16 << 20)
    proxy = Proxy(swproxy, "--quiet", "--threads", "1")
    try:
        with proxy.peak_rss(0.1) as peak:
            r = run(["curl", "-sS", "-x", proxy.url, "-T", str(path), f"http://127.0.0.1:{sink.port}/up"],
                    timeout=120)
    finally:
        proxy.stop()
        sink.srv.close()
    assert r.returncode == 0, r.stderr
    assert r.stdout == str(size).encode()
    # The client is held back by the watermarks instead of the body piling up in the proxy.
    assert 0 < peak.kib < 64 * 1024, f"peak RSS {peak.kib} KiB for a {size >> 20} MiB upload"
    os.remove(path)
