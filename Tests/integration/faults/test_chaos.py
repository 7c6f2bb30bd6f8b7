"""A seeded chaos test of serve: many concurrent clients, each doing one random misbehaviour, against
origins that misbehave at random too. After each batch the proxy is alive and answers a control request
byte for byte as it did before any chaos; at the end, once the idle timeout has passed, its descriptor
count is back where it started. Bounded: at most CHAOS_SECONDS (default 75) of batches.

CHAOS_SEED=N replays a run; the seed is printed, and named in every failure."""

import os
import random
import socket
import threading
import time

from chaos_origin import mask_date, payload, read_all, send_quietly
from chaos_origin import vanish as close_peer
from fault_fixtures import chaos_origin, echo_server, fault_proxy, ws_server  # noqa: F401 (fixtures)

SEED = int(os.environ.get("CHAOS_SEED", str(random.SystemRandom().randrange(1 << 32))))
SECONDS = float(os.environ.get("CHAOS_SECONDS", "75"))
WORKERS = 24
ACTIONS_PER_BATCH = 240
IDLE = 2.0


def vanish(s, rng):
    """The client goes away: FIN (close) or RST (SO_LINGER 0), at random."""
    close_peer(s, rst=rng.random() < 0.5)


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_some(s, n):
    got = 0
    try:
        while got < n:
            chunk = s.recv(min(65536, n - got))
            if not chunk:
                break
            got += len(chunk)
    except OSError:
        pass
    return got


def get_head(origin_port, path, extra=b""):
    return (b"GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n"
            % (origin_port, path.encode(), origin_port, extra))


class Chaos:
    def __init__(self, proxy, origin, echo, ws, rng):
        self.proxy, self.origin, self.echo, self.ws = proxy, origin, echo, ws
        self.rng = rng
        self.lock = threading.Lock()
        self.counts = {}
        self.wrong = []

    def pick_path(self, rng):
        mode = rng.choice(["ok", "ok", "chunked", "slow", "reset-head", "reset-body", "noanswer", "stall",
                           "cut-chunked"])
        size = rng.choice([0, 1, 100, 5000, 70000, 300000, 2_000_000])
        return f"/{mode}/{size}"

    # Each misbehaviour: one connection, one way of going wrong.

    def vanish_in_head(self, rng):
        head = get_head(self.origin.port, self.pick_path(rng), b"User-Agent: chaos\r\nAccept: */*\r\n")
        s = connect(self.proxy.port)
        s.sendall(head[:rng.randrange(1, len(head))])
        if rng.random() < 0.3:
            time.sleep(rng.random() * 0.2)
        vanish(s, rng)

    def vanish_in_upload(self, rng):
        size = rng.choice([1000, 100_000, 1_000_000])
        if rng.random() < 0.5:
            head = (b"POST http://127.0.0.1:%d/ok/10 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                    % (self.origin.port, size))
            body = payload(size, "up")
        else:
            head = (b"POST http://127.0.0.1:%d/ok/10 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    % self.origin.port)
            data = payload(size, "up")
            body = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 9000]), data[i:i + 9000])
                            for i in range(0, size, 9000)) + b"0\r\n\r\n"
        s = connect(self.proxy.port)
        send_quietly(s, head + body[:rng.randrange(0, len(body))])
        vanish(s, rng)

    def vanish_in_response(self, rng):
        s = connect(self.proxy.port)
        s.sendall(get_head(self.origin.port, self.pick_path(rng)))
        read_some(s, rng.choice([0, 1, 100, 20000, 200000, 1_500_000]))
        vanish(s, rng)

    def slow_read_then_vanish(self, rng):
        s = connect(self.proxy.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(get_head(self.origin.port, "/ok/5000000"))
        for _ in range(rng.randrange(1, 15)):
            read_some(s, 8192)
            time.sleep(0.02)
        vanish(s, rng)

    def pipeline_then_close(self, rng):
        s = connect(self.proxy.port)
        reqs = b"".join(get_head(self.origin.port, self.pick_path(rng)) for _ in range(rng.randrange(2, 6)))
        if rng.random() < 0.3:
            reqs += b"BROKEN REQUEST\r\n\r\n"
        s.sendall(reqs)
        read_some(s, rng.choice([0, 10, 5000, 100000]))
        vanish(s, rng)

    def connect_then_vanish(self, rng):
        s = connect(self.proxy.port)
        s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (self.echo.port, self.echo.port))
        if rng.random() < 0.7:
            read_some(s, rng.randrange(1, 60))
            send_quietly(s, payload(rng.choice([10, 50000, 400000]), "t"))
            read_some(s, rng.randrange(0, 100000))
        vanish(s, rng)

    def websocket_then_vanish(self, rng):
        s = connect(self.proxy.port)
        s.sendall(b"GET http://127.0.0.1:%d/chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n" % (self.ws.port, self.ws.port))
        read_some(s, rng.randrange(0, 200))
        if rng.random() < 0.6:
            send_quietly(s, payload(rng.choice([5, 30000, 300000]), "ws"))
            read_some(s, rng.randrange(0, 50000))
        vanish(s, rng)

    def well_behaved(self, rng):
        """A normal client among the bad ones: its answer must be whole and right."""
        n = rng.choice([0, 10, 70000, 1_000_000])
        chunked = rng.random() < 0.5
        path = f"/{'chunked' if chunked else 'ok'}/{n}"
        s = connect(self.proxy.port)
        s.settimeout(20)
        s.sendall(get_head(self.origin.port, path, b"Connection: close\r\n"))
        data = read_all(s)
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        if chunked:
            out, rest = b"", body
            while True:
                line, _, rest = rest.partition(b"\r\n")
                size = int(line, 16) if line else -1
                if size <= 0:
                    break
                out, rest = out + rest[:size], rest[size + 2:]
            body = out
        if not head.startswith(b"HTTP/1.1 200") or body != payload(n, path):
            self.wrong.append(f"{path}: {head[:200]!r}, {len(body)} body bytes")

    ACTIONS = ["vanish_in_head", "vanish_in_upload", "vanish_in_response", "vanish_in_response",
               "slow_read_then_vanish", "pipeline_then_close", "connect_then_vanish", "websocket_then_vanish",
               "well_behaved"]

    def batch(self, batch_seed):
        rng = random.Random(batch_seed)
        plan = [(rng.choice(self.ACTIONS), rng.randrange(1 << 32)) for _ in range(ACTIONS_PER_BATCH)]
        index = {"next": 0}

        def worker():
            while True:
                with self.lock:
                    if index["next"] >= len(plan):
                        return
                    name, seed = plan[index["next"]]
                    index["next"] += 1
                    self.counts[name] = self.counts.get(name, 0) + 1
                try:
                    getattr(self, name)(random.Random(seed))
                except OSError:
                    pass  # the proxy closing on a misbehaving client is fine; the checks say if it is alive

        threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def control(proxy_port, origin_port):
    """The whole answer, as bytes, to one plain request on a fresh connection; the Date the proxy adds (the
    origin sends none) masked."""
    s = connect(proxy_port)
    s.settimeout(10)
    s.sendall(get_head(origin_port, "/ok/54321", b"Connection: close\r\n"))
    data = read_all(s)
    s.close()
    return mask_date(data)


def test_chaos(fault_proxy, chaos_origin, echo_server, ws_server):
    print(f"chaos seed: {SEED} (CHAOS_SEED={SEED} replays it)")
    p = fault_proxy("--quiet", "--read-timeout", "1", "--idle-timeout", str(IDLE), "--header-timeout", "2",
                    "--connect-port", str(echo_server.port))
    expected = control(p.port, chaos_origin.port)
    assert expected.startswith(b"HTTP/1.1 200") and expected.endswith(payload(54321, "/ok/54321"))
    time.sleep(0.5)
    fds_before = p.fd_count()
    rng = random.Random(SEED)
    chaos = Chaos(p, chaos_origin, echo_server, ws_server, rng)
    started = time.monotonic()
    batches = 0
    while time.monotonic() - started < SECONDS or batches == 0:
        chaos.batch(rng.randrange(1 << 32))
        batches += 1
        p.check()
        got = control(p.port, chaos_origin.port)
        assert got == expected, f"seed {SEED}, batch {batches}: the control request's answer changed"
        assert not chaos.wrong, f"seed {SEED}: well-behaved clients got wrong answers: {chaos.wrong[:5]}"
    print(f"{batches} batches, {sum(chaos.counts.values())} clients: {chaos.counts}")
    # Once every connection has idled out (and lingering closes are done), nothing is left open.
    deadline = time.monotonic() + IDLE + 2 + 15
    fds = p.fd_count()
    while fds != fds_before and time.monotonic() < deadline:
        time.sleep(0.25)
        fds = p.fd_count()
    assert fds == fds_before, (f"seed {SEED}: {fds} descriptors open after the idle timeout, {fds_before} before: "
                               + " ".join(sorted(os.readlink(f"/proc/{p.proc.pid}/fd/{f}")
                                                 for f in os.listdir(f"/proc/{p.proc.pid}/fd"))))
