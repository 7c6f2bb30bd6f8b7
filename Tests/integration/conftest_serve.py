"""Helpers to run `swproxy serve` as a subprocess on a free loopback port."""

import os
import re
import signal
import socket
import subprocess
import threading
import time

from conftest import free_port, wait_port


class Proxy:
    # Swift's own backtracer on a crash; the fault tests turn it off (it reads the crashed thread's stack,
    # which AddressSanitizer reports as an error of its own) and let ASan print the stack instead.
    backtrace = "enable=yes,interactive=no"

    def __init__(self, binary, *args, port=None):
        self.port = port or free_port()
        env = dict(os.environ, SWIFT_BACKTRACE=self.backtrace)
        for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
            env.pop(k, None)
        self.log_path = f"/tmp/swproxy-test-{self.port}.log"
        self.log = open(self.log_path, "wb")
        cmd = [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--threads", "2"] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("proxy did not start: " + self.read_log())
        self.url = f"http://127.0.0.1:{self.port}"

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def peak_rss(self, interval):
        """A context manager sampling the proxy's resident memory every `interval` seconds while its block
        runs; its `kib` is the highest sample."""
        return PeakRSS(self, interval)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class PeakRSS:
    def __init__(self, proxy, interval):
        self.proxy, self.interval, self.kib = proxy, interval, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample)

    def _sample(self):
        while not self.done.is_set():
            self.kib = max(self.kib, self.proxy.rss_kib())
            time.sleep(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        return False


def raw_exchange(port, data, read_until_close=True, timeout=5.0):
    """Sends raw bytes to the proxy and returns everything it answers until it closes (or times out)."""
    return raw_exchange_closed(port, data, read_until_close, timeout)[0]


def raw_exchange_closed(port, data, read_until_close=True, timeout=5.0):
    """Like raw_exchange; also tells whether the proxy closed the connection (rather than the wait timing out)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    closed = False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
            if not read_until_close and b"\r\n\r\n" in out:
                break
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return out, closed


def recv_until(s, marker, size=65536):
    """What the peer sends until `marker` is in it (or it closes)."""
    data = b""
    while marker not in data:
        chunk = s.recv(size)
        if not chunk:
            break
        data += chunk
    return data


def read_until_close(s, timeout=10.0):
    """Everything the peer sends until it closes; also whether it did close (rather than the wait timing out)."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out, True
            out += chunk
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True


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


def via_entry(proxy=None, name=None):
    """This proxy's Via entry: `1.1 NAME (swproxy/VERSION)`, NAME by default the host name and its port."""
    return f"1.1 {name or socket.gethostname().lower() + ':' + str(proxy.port)} (swproxy/0.1.0)"


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
    return free_port(socket.AF_INET6, "::1")


_sentinels = [0]


def sentinel(port, origin, prefix=b""):
    """A request through the proxy on a connection of its own, answered by the origin: once it is back,
    anything the proxy forwarded before it (a smuggled request, a refused PROXY header's request) has
    reached the origin's log too. Returns the requests the origin recorded, the sentinel's removed; a check
    for something's absence reads these instead of sleeping first. `prefix`: bytes the proxy wants first
    (a PROXY header)."""
    _sentinels[0] += 1
    path = f"/sentinel/{os.getpid()}-{_sentinels[0]}"
    r = exchange(port, prefix + f"GET {origin.base}{path} HTTP/1.1\r\nHost: sentinel\r\nConnection: close\r\n\r\n".encode())
    assert r.status == 200, r
    seen = []
    deadline = time.time() + 10
    while not any(x.target.endswith(path) for x in seen) and time.time() < deadline:
        seen += origin.take()
    assert any(x.target.endswith(path) for x in seen), "the sentinel never reached the origin"
    return [x for x in seen if not x.target.endswith(path)]
