"""Helpers to run `swproxy serve` as a subprocess on a free loopback port."""

import os
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
