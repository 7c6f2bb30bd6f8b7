"""Byte-exact golden cases for `swproxy serve`, one folder per case under Tests/Fixtures/serve/:

  client.http            bytes the client sends to the proxy
  origin-response.http   bytes a raw origin answers with (optional; absent: nothing may reach an origin)
  origin-delay           seconds the origin waits before answering (optional)
  proxy-args             extra arguments for `swproxy serve` (optional, one per line)
  origin-saw.http        expected: the exact bytes the origin received (absent: nothing)
  client-got.http        expected: the exact bytes the client received until the proxy closed

{VIA} stands for the proxy's default Via name (HOST:PORT), {ORIGIN} for the origin's 127.0.0.1:PORT, {CLOSED} for a port nothing listens on (both also in
proxy-args), {PROXY} for the proxy, {DATE} for any IMF-fixdate Date field. Run with SWPROXY_RECORD=1 to re-record the expected files on purpose (then read the diff)."""

import os
import re
import socket
import threading
import time

import pytest

from conftest import free_port
from conftest_serve import Proxy, read_until_close, recv_until

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "serve")
CASES = sorted(d for d in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, d)))
RECORD = os.environ.get("SWPROXY_RECORD") == "1"


class RawOrigin:
    """Accepts connections, records the raw request bytes (head and body), answers with canned bytes.
    Sends `100 Continue` first when the request asks for it."""

    def __init__(self, response, delay=0.0):
        self.response = response
        self.delay = delay
        self.received = b""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(c,), daemon=True).start()

    def handle(self, c):
        c.settimeout(5)
        try:
            head, _, body = recv_until(c, b"\r\n\r\n").partition(b"\r\n\r\n")
            lower = head.lower()
            if b"expect: 100-continue" in lower:
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            m = re.search(rb"content-length: *(\d+)", lower)
            if m:
                while len(body) < int(m.group(1)):
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            elif b"transfer-encoding: chunked" in lower:
                while not body.endswith(b"0\r\n\r\n"):
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            self.received += head + b"\r\n\r\n" + body
            if self.delay:
                time.sleep(self.delay)
            c.sendall(self.response)
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopped = True
        self.sock.close()


def read(case, name):
    p = os.path.join(FIXTURES, case, name)
    if not os.path.exists(p):
        return None
    with open(p, "rb") as f:
        return f.read()


def write(case, name, data):
    p = os.path.join(FIXTURES, case, name)
    if data is None:
        if os.path.exists(p):
            os.remove(p)
        return
    with open(p, "wb") as f:
        f.write(data)


def normalise(data, subs, origin_response=b""):
    for real, placeholder in subs:
        data = data.replace(real, placeholder)
    data = re.sub(rb"after \d+ ms", b"after {N} ms", data)
    # The Date the proxy appends to a response that came without one (RFC 9110 §6.6.1); the origin's own
    # stays as it is.
    data = re.sub(rb"\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n",
                  lambda m: m.group(0) if m.group(0)[2:] in origin_response else b"\r\nDate: {DATE}\r\n", data)
    return data


def check_error_length(data):
    """Error bodies carry port numbers and timings, so their Content-Length is masked in the golden files;
    here it is checked against the real body instead."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if b"Content-Type: text/plain; charset=utf-8\r\n" not in head:
        return data
    m = re.search(rb"Content-Length: (\d+)", head)
    assert m and int(m.group(1)) == len(body), f"Content-Length does not match the body: {data!r}"
    return re.sub(rb"Content-Length: \d+", b"Content-Length: {LEN}", head) + sep + body


@pytest.mark.parametrize("case", CASES)
def test_golden(case, swproxy):
    response = read(case, "origin-response.http")
    delay = float((read(case, "origin-delay") or b"0").decode())
    args = [a for a in (read(case, "proxy-args") or b"").decode().split("\n") if a]
    origin = RawOrigin(response or b"HTTP/1.1 500 Unexpected\r\nContent-Length: 0\r\n\r\n", delay)
    closed = free_port()
    args = [a.replace("{ORIGIN}", f"127.0.0.1:{origin.port}").replace("{CLOSED}", f"127.0.0.1:{closed}") for a in args]
    proxy = Proxy(swproxy, "--quiet", *args)
    # The default Via name: this host's name and the proxy's port.
    subs = [(f"{socket.gethostname().lower()}:{proxy.port}".encode(), b"{VIA}"),
            (f"127.0.0.1:{origin.port}".encode(), b"{ORIGIN}"), (f"127.0.0.1:{closed}".encode(), b"{CLOSED}"),
            (f"127.0.0.1:{proxy.port}".encode(), b"{PROXY}"), (str(closed).encode(), b"{CLOSED_PORT}"),
            (str(origin.port).encode(), b"{ORIGIN_PORT}")]
    try:
        client = read(case, "client.http")
        for real, placeholder in subs[:4]:
            client = client.replace(placeholder, real)
        s = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        s.sendall(client)
        got, _ = read_until_close(s)
        s.close()
    finally:
        proxy.stop()
        origin.stop()
    saw = normalise(origin.received, subs) if origin.received else None
    got = normalise(check_error_length(got), subs, response or b"")
    if RECORD:
        write(case, "origin-saw.http", saw)
        write(case, "client-got.http", got)
        return
    assert saw == read(case, "origin-saw.http"), f"{case}: the origin saw something else"
    assert got == read(case, "client-got.http"), f"{case}: the client got something else"
