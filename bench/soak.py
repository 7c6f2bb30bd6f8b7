#!/usr/bin/env python3
"""Soak: a mixed, faulty load through one `swproxy serve` for SOAK_SECONDS, sampling its open descriptors
and resident memory every 5 s. Run by bench/soak.sh (`make soak`).

Load, all on loopback, all at once:
  - wrk, keep-alive small (1 KiB) requests through the proxy to nginx (absolute-form, bench/serve.lua);
  - 10 MiB downloads with curl, every third one aborted after 20 ms;
  - CONNECT tunnels to an echo server (data both ways, then close or vanish);
  - origin faults: resets mid-head and mid-body, no answer, stalls past --read-timeout, cut chunked bodies;
  - broken clients: half-sent heads, resets mid-upload, invalid requests, pipelined requests then close.

Checks, printed as a table (and as bench/out/soak/result.md):
  - the proxy never died (no crash) and answers a control request byte for byte at the end;
  - descriptors after the load, once the idle timeout has passed, equal those before it;
  - resident memory at the end exceeds that after warm-up by at most 4 MiB.
Exit status 0 when all three hold, 1 otherwise.

Environment: SWPROXY_BIN (required), SOAK_SECONDS (600), SOAK_WARMUP (60, seconds after which the memory
baseline is taken), PROXY_THREADS (nproc), OUT (bench/out/soak)."""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "Tests", "integration", "faults"))
sys.path.insert(0, os.path.join(ROOT, "Tests", "integration"))
from chaos_origin import ChaosOrigin, EchoServer, mask_date, payload, read_all, vanish  # noqa: E402
from conftest import free_port, wait_port  # noqa: E402

BIN = os.environ["SWPROXY_BIN"]
SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
WARMUP = float(os.environ.get("SOAK_WARMUP", str(min(60.0, SECONDS / 5))))
THREADS = os.environ.get("PROXY_THREADS", str(os.cpu_count() or 2))
OUT = os.environ.get("OUT", os.path.join(ROOT, "bench", "out", "soak"))
IDLE = 5.0
NGINX_KEEPALIVE = 1


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = {}

    def add(self, k, v=1):
        with self.lock:
            self.n[k] = self.n.get(k, 0) + v


def main():
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp(prefix="swproxy-soak-")
    procs = []
    try:
        return run(work, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)


def run(work, procs):
    www = os.path.join(work, "www")
    os.makedirs(www)
    with open(os.path.join(www, "small"), "wb") as f:
        f.write(os.urandom(1024))
    with open(os.path.join(www, "ten"), "wb") as f:
        f.write(os.urandom(10 << 20))
    os.chmod(work, 0o755)
    nginx_port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/nginx-error.log warn;
user root; events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_timeout {NGINX_KEEPALIVE}s; keepalive_requests 100000;
  client_body_temp_path {work}/b; proxy_temp_path {work}/p; fastcgi_temp_path {work}/f;
  uwsgi_temp_path {work}/u; scgi_temp_path {work}/s;
  server {{ listen 127.0.0.1:{nginx_port} backlog=4096; root {www}; }} }}
""")
    procs.append(subprocess.Popen(["nginx", "-c", conf, "-p", work], stderr=subprocess.DEVNULL))
    assert wait_port(nginx_port), "nginx did not start"
    chaos, echo = ChaosOrigin(), EchoServer()
    port = free_port()
    log = open(os.path.join(OUT, "proxy.log"), "wb")
    proxy = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--threads", THREADS, "--quiet",
                              "--idle-timeout", str(IDLE), "--read-timeout", "2", "--header-timeout", "3",
                              "--connect-port", str(echo.port)], stderr=log, stdout=subprocess.DEVNULL)
    procs.append(proxy)
    assert wait_port(port), "swproxy did not start"
    pid = proxy.pid
    nginx = f"http://127.0.0.1:{nginx_port}"

    def control():
        """A plain request on a fresh connection to an origin that closes: its answer's bytes (Date masked)."""
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET http://127.0.0.1:%d/ok/54321 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % chaos.port)
        data = read_all(s)
        s.close()
        return mask_date(data)

    def settled_fds():
        """Descriptors once nothing is in flight: each loop's libcurl closes the upstream connections nginx
        dropped (it prunes dead ones when a transfer starts, at most once a second), so control requests on
        fresh connections (spread over the loops by SO_REUSEPORT) come first."""
        time.sleep(NGINX_KEEPALIVE + 1.5)
        for _ in range(2):
            for _ in range(16):
                control()
            time.sleep(1.2)
        return fds(pid)

    # warm-up traffic of every kind, then the descriptor baseline
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-x", f"http://127.0.0.1:{port}", nginx + "/small"])
    expected = control()
    fds_before = settled_fds()

    stop = threading.Event()
    counts = Counter()
    anomalies = []
    samples = []
    deadline = time.monotonic() + SECONDS
    started = time.monotonic()

    def sampler():
        while not stop.is_set():
            if proxy.poll() is not None:
                return
            samples.append((round(time.monotonic() - started, 1), fds(pid), rss_kib(pid)))
            stop.wait(5)

    def downloads(i):
        n = 0
        while time.monotonic() < deadline and proxy.poll() is None:
            n += 1
            aborted = n % 3 == 0
            cmd = ["curl", "-s", "-o", "/dev/null", "-x", f"http://127.0.0.1:{port}"]
            if aborted:
                cmd += ["--max-time", "0.02"]
            r = subprocess.run(cmd + ["-w", "%{size_download}", nginx + "/ten"], capture_output=True)
            if aborted:
                counts.add("downloads aborted")
            elif r.returncode == 0 and r.stdout == b"10485760":
                counts.add("downloads complete")
            else:
                counts.add("downloads failed")

    def tunnels(i):
        rng = random.Random(i)
        while time.monotonic() < deadline and proxy.poll() is None:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % echo.port)
                head = s.recv(100)
                data = payload(rng.choice([10, 5000, 200000]), "t")
                if rng.random() < 0.7 and head.startswith(b"HTTP/1.1 200"):
                    s.sendall(data)
                    got = 0
                    while got < len(data):
                        c = s.recv(65536)
                        if not c:
                            break
                        got += len(c)
                    if got == len(data):
                        counts.add("tunnels relayed")
                    else:
                        counts.add("tunnels short")
                        anomalies.append(f"tunnel: {got} of {len(data)} bytes echoed, head {head!r}")
                else:
                    counts.add("tunnels vanished")
                vanish(s, rng.random() < 0.5)
            except OSError as e:
                counts.add("tunnels failed")
                anomalies.append(f"tunnel: {e!r}")
            time.sleep(0.01)

    def faults(i):
        rng = random.Random(1000 + i)
        paths = ["/reset-head", "/reset-body/300000", "/noanswer", "/stall", "/cut-chunked/200000", "/slow/100000"]
        while time.monotonic() < deadline and proxy.poll() is None:
            kind = rng.randrange(6)
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                if kind == 0:  # an origin fault
                    s.sendall(b"GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: x\r\n\r\n"
                              % (chaos.port, rng.choice(paths).encode()))
                    s.settimeout(5)
                    try:
                        s.recv(rng.choice([1, 100, 100000]))
                    except OSError:
                        pass
                    counts.add("origin faults")
                elif kind == 1:  # half-sent head
                    h = b"GET http://127.0.0.1:%d/small HTTP/1.1\r\nHost: x\r\n\r\n" % nginx_port
                    s.sendall(h[:rng.randrange(1, len(h))])
                    counts.add("broken: half head")
                elif kind == 2:  # reset mid-upload
                    s.sendall(b"POST http://127.0.0.1:%d/ok/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n"
                              % chaos.port + payload(rng.randrange(0, 400000), "u"))
                    counts.add("broken: reset mid-upload")
                elif kind == 3:  # invalid request
                    s.sendall(rng.choice([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET http://x HTTP/9.9\r\n\r\n",
                                          b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                                          b"POST http://127.0.0.1:1/ HTTP/1.1\r\nContent-Length: 1\r\n"
                                          b"Transfer-Encoding: chunked\r\n\r\n"]))
                    s.settimeout(5)
                    try:
                        s.recv(1000)
                    except OSError:
                        pass
                    counts.add("broken: invalid")
                elif kind == 4:  # pipelined, then close
                    one = b"GET http://127.0.0.1:%d/small HTTP/1.1\r\nHost: x\r\n\r\n" % nginx_port
                    s.sendall(one * rng.randrange(2, 8))
                    s.settimeout(5)
                    try:
                        s.recv(rng.choice([10, 3000]))
                    except OSError:
                        pass
                    counts.add("broken: pipelined then close")
                else:  # slow reader of a big body, then gone
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    s.sendall(b"GET http://127.0.0.1:%d/ten HTTP/1.1\r\nHost: x\r\n\r\n" % nginx_port)
                    for _ in range(rng.randrange(1, 10)):
                        s.recv(4096)
                        time.sleep(0.02)
                    counts.add("broken: slow reader gone")
                vanish(s, rng.random() < 0.5)
            except OSError:
                counts.add("broken: refused")

    wrk_out = os.path.join(OUT, "wrk.txt")
    env = dict(os.environ, WRK_TARGET=nginx + "/small")
    wrk = subprocess.Popen(["wrk", "-t1", "-c20", f"-d{int(SECONDS)}s", "-s", os.path.join(ROOT, "bench", "serve.lua"),
                            f"http://127.0.0.1:{port}"], stdout=open(wrk_out, "w"), stderr=subprocess.STDOUT, env=env)
    procs.append(wrk)
    threads = [threading.Thread(target=sampler)]
    threads += [threading.Thread(target=downloads, args=(i,)) for i in range(3)]
    threads += [threading.Thread(target=tunnels, args=(i,)) for i in range(2)]
    threads += [threading.Thread(target=faults, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    wrk.wait()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    alive = proxy.poll() is None
    wrk_requests = 0
    with open(wrk_out) as f:
        for line in f:
            if line.startswith("BENCH "):
                fields = dict(kv.split("=") for kv in line.split()[1:])
                wrk_requests = int(fields["requests"])
    control_ok = False
    fds_after = rss_end = rss_warm = None
    if alive:
        time.sleep(IDLE + 2.5)  # client connections idle out, lingering closes end
        fds_after = settled_fds()
        control_ok = control() == expected
        rss_end = rss_kib(pid)
    warm = [s for s in samples if s[0] >= WARMUP]
    rss_warm = warm[0][2] if warm else (samples[0][2] if samples else None)
    with open(os.path.join(OUT, "samples.tsv"), "w") as f:
        f.write("seconds\tfds\trss_kib\n")
        for s in samples:
            f.write(f"{s[0]}\t{s[1]}\t{s[2]}\n")
    served = wrk_requests + sum(v for k, v in counts.n.items())
    growth = (rss_end - rss_warm) if (rss_end and rss_warm) else None
    ok = alive and control_ok and fds_after == fds_before and growth is not None and growth <= 4096
    lines = [
        f"| soak | {int(SECONDS)} s, {THREADS} loops |",
        "|---|---|",
        f"| requests and connections served | {served:,} (wrk keep-alive {wrk_requests:,}; "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.n.items())) + ") |",
        f"| crashes | {'none' if alive else 'DIED, exit ' + str(proxy.returncode)} |",
        f"| control request byte-exact at the end | {'yes' if control_ok else 'NO'} |",
        f"| open fds before the load / after it (idle timeout passed) | {fds_before} / {fds_after} |",
        f"| RSS after warm-up ({int(WARMUP)} s) / at the end | "
        f"{(rss_warm or 0) / 1024:.1f} MiB / {(rss_end or 0) / 1024:.1f} MiB "
        f"(growth {(growth or 0) / 1024:+.2f} MiB; limit +4 MiB) |",
        f"| RSS peak / fds peak during the load | {max(s[2] for s in samples) / 1024:.1f} MiB / "
        f"{max(s[1] for s in samples)} |" if samples else "| samples | none |",
        f"| verdict | {'pass' if ok else 'FAIL'} |",
    ]
    text = "\n".join(lines) + "\n"
    if anomalies:
        text += "\nanomalies (first 10):\n" + "\n".join(anomalies[:10]) + "\n"
    with open(os.path.join(OUT, "result.md"), "w") as f:
        f.write(text)
    print(text)
    chaos.stop()
    echo.stop()
    if alive:
        proxy.send_signal(signal.SIGTERM)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
