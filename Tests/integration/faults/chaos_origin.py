"""Origins that misbehave on purpose, for the fault tests: a raw-socket HTTP/1.1 server whose path says
what goes wrong, a TCP echo server (CONNECT target) and a minimal WebSocket endpoint (101, then echo).

Every answer carries `Connection: close` and every connection is closed after one exchange: libcurl then
keeps no upstream connection in its cache, so after a test the proxy's descriptors must return exactly to
where they started, and a leak on a fault path shows as a count that does not come back.

Paths (the request target's path; absolute-form targets are routed on their path too):
  /ok/N            200, Content-Length N, body payload(N)
  /chunked/N       200, chunked, N bytes in pieces, then the last chunk
  /reset-head      part of a status line, then RST
  /reset-body/N    head promising N bytes, about half of them, then RST
  /noanswer        close without a byte
  /stall           read the request, send nothing, wait for the peer to go (past --read-timeout)
  /cut-chunked/N   chunked, some chunks, then FIN without the last chunk
  /slow/N          Content-Length N, sent in 4 KiB pieces 5 ms apart
"""

import hashlib
import re
import socket
import struct
import threading


_BLOCK = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(1 << 15))  # 1 MiB


def payload(n, seed=""):
    """n deterministic bytes (the same for the same n and seed), made fast: the origin must never be what
    makes the proxy time out."""
    start = int(hashlib.sha256(seed.encode()).hexdigest()[:5], 16) % 4096
    reps = (start + n) // len(_BLOCK) + 1
    return (_BLOCK * reps)[start:start + n] if reps > 1 else _BLOCK[start:start + n]


def rst_close(s):
    """Close with RST instead of FIN (SO_LINGER 0)."""
    vanish(s, rst=True)


def vanish(s, rst):
    """A peer goes away: RST (SO_LINGER 0) or FIN; errors from a socket already gone are ignored."""
    try:
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass


def send_quietly(s, data):
    """Sends what the peer still takes; a peer that closed meanwhile is not an error here."""
    try:
        s.sendall(data)
    except OSError:
        pass


def mask_date(data):
    """A response's bytes with its Date value masked: the chaos origin sends none, and the proxy adds the time
    it received the response (RFC 9110 §6.6.1), so control requests compare equal only without it."""
    head, sep, body = data.partition(b"\r\n\r\n")
    return re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: {DATE}", head, count=1) + sep + body


def read_all(s):
    """Everything until the peer closes."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


class ThreadedTCP:
    """Accept loop on 127.0.0.1:0, one thread per connection running `self.serve(conn)`."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.served = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        c.settimeout(30)
        try:
            self.serve(c)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass
            with self.lock:
                self.served += 1

    def stop(self):
        self.stopped.set()
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self.sock.close()


def read_head(c):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def path_of(head):
    target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
    if "://" in target:
        rest = target.split("://", 1)[1]
        target = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return target.split("?", 1)[0]


def drain_body(c, head, rest):
    """Reads a Content-Length request body (uploads through the proxy); chunked ones until the last chunk."""
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        fields[k.strip().lower()] = v.strip()
    if b"content-length" in fields:
        n = int(fields[b"content-length"]) - len(rest)
        while n > 0:
            chunk = c.recv(min(n, 65536))
            if not chunk:
                return False
            n -= len(chunk)
    elif b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        data = rest
        while not data.endswith(b"0\r\n\r\n"):
            chunk = c.recv(65536)
            if not chunk:
                return False
            data = data[-16:] + chunk
    return True


class ChaosOrigin(ThreadedTCP):
    def serve(self, c):
        head, rest = read_head(c)
        if head is None:
            return
        path = path_of(head)
        parts = path.strip("/").split("/")
        mode = parts[0]
        n = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if mode not in ("noanswer", "reset-head"):
            if not drain_body(c, head, rest):
                return
        if mode == "ok":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n + payload(n, path))
        elif mode == "slow":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n)
            body = payload(n, path)
            for i in range(0, n, 4096):
                c.sendall(body[i:i + 4096])
                self.stopped.wait(0.005)
        elif mode == "chunked":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            body = payload(n, path)
            for i in range(0, n, 7000):
                piece = body[i:i + 7000]
                c.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            c.sendall(b"0\r\n\r\n")
        elif mode == "reset-head":
            c.sendall(b"HTTP/1.1 20")
            rst_close(c)
        elif mode == "reset-body":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n)
            c.sendall(payload(n // 2, path))
            rst_close(c)
        elif mode == "noanswer":
            c.close()
        elif mode == "stall":
            c.settimeout(None)
            while c.recv(65536):
                pass
        elif mode == "cut-chunked":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            body = payload(max(n, 100), path)
            for i in range(0, len(body) // 2, 5000):
                piece = body[i:i + 5000]
                c.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            c.shutdown(socket.SHUT_WR)
            c.recv(1)
        else:
            c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


class EchoServer(ThreadedTCP):
    """A CONNECT target: echoes until the peer closes."""

    def serve(self, c):
        while True:
            data = c.recv(65536)
            if not data:
                return
            c.sendall(data)


class WebSocketEcho(ThreadedTCP):
    """Answers any Upgrade request with 101 (no key check: the proxy relays bytes, it does not speak
    WebSocket), then echoes raw bytes until the peer closes."""

    def serve(self, c):
        head, rest = read_head(c)
        if head is None:
            return
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: x\r\n\r\n")
        if rest:
            c.sendall(rest)
        while True:
            data = c.recv(65536)
            if not data:
                return
            c.sendall(data)
