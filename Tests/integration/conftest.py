import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from origin import Origin  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def swproxy_path():
    p = os.environ.get("SWPROXY_BIN") or os.path.join(ROOT, ".build", "debug", "swproxy")
    if not os.path.exists(p):
        pytest.exit(f"swproxy binary not found at {p}: build first (make test does)", returncode=2)
    return p


@pytest.fixture(scope="session")
def swproxy():
    return swproxy_path()


@pytest.fixture(scope="session")
def origin():
    o = Origin()
    yield o
    o.stop()


@pytest.fixture(scope="session")
def origin6():
    o = Origin("::1")
    yield o
    o.stop()


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_handed_out = set()


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A port free to listen on, below the kernel's ephemeral range: a port the kernel chose (bind to 0) is
    one it may hand to any outgoing connection the tests make before the server binds it ("Address already
    in use"); below the range only another listener can take it. Not twice in one test session."""
    import random
    high = _ephemeral_low() - 1
    for _ in range(1000):
        port = random.randint(10000, high)
        if port in _handed_out:
            continue
        s = socket.socket(family)
        try:
            s.bind((host, port))
        except OSError:
            continue
        finally:
            s.close()
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def stop_process(proc, timeout=10.0):
    """SIGTERM, wait, SIGKILL if it does not go: every server a test starts is stopped this way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_port(port, host="127.0.0.1", timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


class TempDaemon:
    """A daemon the tests start: its files in a temporary directory, listening on a free loopback port."""

    stop_grace = 5.0

    def __init__(self, prefix):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        self.proc = None

    def spawn(self, cmd, name, stderr=subprocess.DEVNULL, timeout=10.0, why=lambda: ""):
        """Starts `cmd` and waits for the port; if it never listens, cleans up and says so (with `why()`)."""
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
        if not wait_port(self.port, timeout=timeout):
            detail = why()
            self.stop()
            raise RuntimeError(f"{name} did not start" + (": " + detail if detail else ""))

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc, self.stop_grace)
        shutil.rmtree(self.dir, ignore_errors=True)

    def spawn_nginx(self, connections, http):
        """nginx in the foreground with one worker and its files in this directory; `http`: the directives of
        its http block (servers, logging)."""
        d = self.dir
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
user root;
events {{ worker_connections {connections}; }}
http {{
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{http}
}}
""")
        self.spawn(["nginx", "-c", conf, "-p", d], "nginx")


def spawn_logged_nginx(daemon, root, log_format, locations, connections=1024, tls=None):
    """nginx on `daemon`'s port serving `root`, its access log (`daemon.log`) in `log_format`, `locations` the
    server block's location directives; `tls`: (certificate, key) for TLS and HTTP/2."""
    daemon.log = os.path.join(daemon.dir, "access.log")
    ssl = f" ssl http2;\n        ssl_certificate {tls[0]};\n        ssl_certificate_key {tls[1]};" if tls else ";"
    daemon.spawn_nginx(connections, f"""
    log_format conn '{log_format}';
    access_log {daemon.log} conn;
    server {{
        listen 127.0.0.1:{daemon.port}{ssl}
        root {root};
        {locations}
    }}""")


class Nginx(TempDaemon):
    """A real nginx origin on loopback, serving files from a temporary directory."""

    def __init__(self, root):
        super().__init__("swproxy-nginx-")
        self.root = root
        self.spawn_nginx(4096, f"""
    access_log off;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{self.port} backlog=4096;
        root {root};
        location / {{ }}
    }}""")
        self.base = f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def nginx_files(tmp_path_factory):
    """nginx serving 1,000 distinct 4 KiB files /f/0 … /f/999, plus a larger one."""
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        pytest.fail("nginx is not installed (make deps installs it)")
    root = tmp_path_factory.mktemp("www")
    (root / "f").mkdir()
    for i in range(1000):
        (root / "f" / str(i)).write_bytes((f"file {i:04d} ".encode() * 410)[:4096])
    (root / "big").write_bytes(os.urandom(3 << 20))
    with open(root / "huge", "wb") as f:  # sparse: a download that cannot finish into socket buffers
        f.truncate(1 << 30)
    os.chmod(root, 0o755)
    n = Nginx(str(root))
    n.files_root = str(root)
    yield n
    n.stop()


def run(cmd, cwd=None, input=None, timeout=60, env=None):
    e = dict(os.environ)
    e.setdefault("SWIFT_BACKTRACE", "enable=no")
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy",
              "NO_PROXY"):
        e.pop(k, None)
    if env:
        e.update(env)
    return subprocess.run(cmd, cwd=cwd, input=input, capture_output=True, timeout=timeout, env=e)


@pytest.fixture
def start(swproxy):
    """Starts swproxy serve processes with extra arguments; all are stopped after the test."""
    from conftest_serve import Proxy  # here: conftest_serve imports from this module

    started = []

    def go(*args):
        p = Proxy(swproxy, *args)
        started.append(p)
        return p

    yield go
    for p in started:
        p.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for localhost (CN and subjectAltName, 127.0.0.1 too): (cert, key) paths."""
    d = tmp_path_factory.mktemp("beyond-tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    os.chmod(d, 0o755)
    return str(crt), str(key)
