"""`swproxy fetch --segments N`: a body over several range transfers into one file, resumable from its
sidecar, and `--checksum` computed while writing. Against an in-process origin that serves single byte
ranges with ETag and If-Range and logs every request (range asked, status, bytes sent, connection), and that
can ignore ranges, change the file mid-download, cut connections or send slowly; and nginx over TLS with
HTTP/2. Everything on loopback."""

import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import TempDaemon, run, spawn_logged_nginx, swproxy_path


def body_of(size, version):
    return random.Random(f"{size}/{version}").randbytes(size)


class RangeOrigin:
    """Serves /file (size set per test) with single byte ranges, a strong ETag of its version and If-Range;
    `log` holds (range, if_range, status, bytes_sent, connection) per request."""

    def __init__(self):
        self.size = 0
        self.version = 1
        self.ignore_ranges = False
        self.rate = None  # bytes per second per response for ranges that start past 0 (None: no limit)
        self.rate0 = None  # the same for responses from byte 0 (the probe)
        self.outage_after = None  # after this many body bytes in all, an outage: responses cut, requests 503
        self.outage_seconds = 0
        self.outage_until = 0
        self.drop_after = None  # a response whose range starts past 0 is cut after this many bytes, once per start
        self.change_after = None  # after this many body bytes in all, the file changes (a new version)
        self.last_modified_only = False
        self.log = []
        self.sent = 0
        self.dropped = set()
        self.lock = threading.Lock()
        self.connections = 0
        self.in_flight = set()  # handlers answering a request now
        self.max_active = 0  # the most requests in flight at once on connections the client held open
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with origin.lock:
                    origin.connections += 1
                    self.conn_id = origin.connections

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.do_GET(head=True)

            def do_GET(self, head=False):
                with origin.lock:
                    # Requests in flight on connections the client still holds open: a handler whose client
                    # has closed (an aborted probe or segment) may still be in sendall when the client's
                    # next connection arrives, and is not one of the client's connections any more.
                    others = sum(1 for h in origin.in_flight if not h.peer_closed())
                    origin.in_flight.add(self)
                    origin.max_active = max(origin.max_active, others + 1)
                try:
                    self.answer(head)
                finally:
                    with origin.lock:
                        origin.in_flight.discard(self)

            def peer_closed(self):
                try:
                    return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
                except BlockingIOError:
                    return False
                except OSError:
                    return True  # reset

            def answer(self, head):
                with origin.lock:
                    version, size = origin.version, origin.size
                    down = time.time() < origin.outage_until
                if down:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    origin.note(self.headers.get("Range"), self.headers.get("If-Range"), 503, 0, self.conn_id)
                    return
                data = body_of(size, version)
                etag = f'"v{version}"'
                rng = self.headers.get("Range")
                if_range = self.headers.get("If-Range")
                status, start, end = 200, 0, size
                if rng and not origin.ignore_ranges:
                    m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
                    valid = if_range is None or if_range == (etag if not origin.last_modified_only else LM)
                    if m and valid:
                        a = int(m.group(1))
                        b = int(m.group(2)) + 1 if m.group(2) else size
                        if a >= size:
                            self.send_response(416)
                            self.send_header("Content-Range", f"bytes */{size}")
                            self.send_header("Content-Length", "0")
                            self.end_headers()
                            origin.note(rng, if_range, 416, 0, self.conn_id)
                            return
                        status, start, end = 206, a, min(b, size)
                self.send_response(status)
                if not origin.last_modified_only:
                    self.send_header("ETag", etag)
                self.send_header("Last-Modified", LM)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(end - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
                self.end_headers()
                if head:
                    return
                piece = data[start:end]
                cut = None
                with origin.lock:
                    if origin.drop_after is not None and start > 0 and start not in origin.dropped:
                        origin.dropped.add(start)
                        cut = origin.drop_after
                sent = 0
                try:
                    step = 16384
                    while sent < len(piece):
                        n = min(step, len(piece) - sent)
                        if cut is not None and sent + n > cut:
                            n = cut - sent
                        if n > 0:
                            self.wfile.write(piece[sent:sent + n])
                            self.wfile.flush()
                            sent += n
                        with origin.lock:
                            origin.sent += n
                            if origin.change_after is not None and origin.sent >= origin.change_after:
                                origin.change_after = None
                                origin.version += 1
                            if origin.outage_after is not None and origin.sent >= origin.outage_after:
                                origin.outage_after = None
                                origin.outage_until = time.time() + origin.outage_seconds
                            if time.time() < origin.outage_until:
                                cut = sent
                        if cut is not None and sent >= cut:
                            self.close_connection = True
                            self.connection.shutdown(socket.SHUT_RDWR)
                            break
                        rate = origin.rate0 if start == 0 else origin.rate
                        if rate:
                            time.sleep(n / rate)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True
                origin.note(rng, if_range, status, sent, self.conn_id)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/file"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def note(self, rng, if_range, status, sent, conn):
        with self.lock:
            self.log.append((rng, if_range, status, sent, conn))

    def reset(self, size, **kw):
        with self.lock:
            self.size = size
            self.version = 1
            self.ignore_ranges = False
            self.rate = None
            self.rate0 = None
            self.outage_after = None
            self.outage_seconds = 0
            self.outage_until = 0
            self.drop_after = None
            self.change_after = None
            self.last_modified_only = False
            self.log = []
            self.sent = 0
            self.dropped = set()
            self.max_active = 0
            for k, v in kw.items():
                setattr(self, k, v)

    def data(self):
        return body_of(self.size, self.version)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


LM = "Tue, 01 Dec 2026 10:00:00 GMT"
MIB = 1 << 20


@pytest.fixture(scope="module")
def ranges():
    o = RangeOrigin()
    yield o
    o.stop()


def fetch(*args, timeout=120, quiet=True):
    """`quiet`: -sS (errors only); else warnings too (stderr is no terminal: no progress display)."""
    return run([swproxy_path(), "fetch", *(["-sS"] if quiet else []), *args], timeout=timeout)


def ranges_asked(origin):
    return sorted(r for r, _, status, _, _ in origin.log if r)


@pytest.mark.parametrize("size,n", [(0, 4), (1, 4), (1000, 4), (3 * MIB, 1), (3 * MIB, 3), (3 * MIB, 4),
                                    (4 * MIB, 4), (5 * MIB + 7, 16), (12 * MIB, 16)])
def test_every_size_and_count_gives_the_right_bytes(ranges, tmp_path, size, n):
    ranges.reset(size)
    out = tmp_path / "f"
    r = fetch("--segments", str(n), "--min-segment-size", "1M", "-o", str(out), ranges.url)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ranges.data()
    assert not os.path.exists(str(out) + ".swproxy-part")
    statuses = [s for _, _, s, _, _ in ranges.log]
    # As many segments of at least 1 MiB as the plan cuts, each a 206 for its own range.
    assert statuses.count(206) >= planned(size, n, MIB), ranges.log


def planned(size, n, minimum):
    """How many segments the first plan has (the largest piece halved while both halves are big enough)."""
    pieces = [size] if size else []
    while pieces and len(pieces) < n and max(pieces) >= 2 * minimum:
        big = pieces.index(max(pieces))
        p = pieces.pop(big)
        pieces += [p // 2, p - p // 2]
    return len(pieces)


def test_ranges_are_split_adaptively_and_counted_in_the_report(ranges, tmp_path):
    # 16 MiB over 2 segments of at least 1 MiB; the first comes fast, the second at 8 MiB/s: when the first
    # ends, the second's rest is cut in two, and so on.
    ranges.reset(16 * MIB, rate=8 * MIB)
    out, report = tmp_path / "f", tmp_path / "r.jsonl"
    r = fetch("--segments", "2", "--min-segment-size", "1M", "-o", str(out), "--report", str(report), ranges.url)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ranges.data()
    line = json.loads(report.read_text().splitlines()[0])
    assert line["segments"] >= 2 and line["connections"] >= 2, line
    assert line["bytes_down"] >= 16 * MIB


def test_a_server_that_ignores_ranges_gets_one_plain_transfer(ranges, tmp_path):
    ranges.reset(3 * MIB, ignore_ranges=True)
    out = tmp_path / "f"
    r = fetch("--segments", "4", "--min-segment-size", "1M", "-o", str(out), ranges.url)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ranges.data()
    assert len(ranges.log) == 1 and ranges.log[0][2] == 200, ranges.log


def test_a_file_that_changes_mid_download_is_never_mixed(ranges, tmp_path):
    # After 1 MiB the origin serves version 2 (new ETag); the segments past the first are cut at 500 kB,
    # so they ask again with If-Range: version 1, get 200s, and the download starts over: the file is all
    # of one version.
    ranges.reset(4 * MIB, change_after=1 * MIB, drop_after=500_000, rate=20 * MIB, rate0=20 * MIB)
    out = tmp_path / "f"
    r = fetch("--segments", "4", "--min-segment-size", "512K", "-o", str(out), ranges.url, quiet=False)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == body_of(4 * MIB, ranges.version)
    assert b"starting over" in r.stderr, r.stderr


def test_a_dropped_segment_continues_from_its_progress(ranges, tmp_path):
    ranges.reset(4 * MIB, drop_after=300_000)
    out = tmp_path / "f"
    r = fetch("--segments", "4", "--min-segment-size", "1M", "-o", str(out), ranges.url)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ranges.data()
    asked = [rng for rng, _, _, _, _ in ranges.log if rng]
    # Each cut segment is asked again from where it was cut (its start + 300,000), not from its start.
    restarts = [rng for rng in asked if re.fullmatch(r"bytes=(\d+)-\d+", rng)
                and int(rng[6:].split("-")[0]) % MIB == 300_000]
    assert len(restarts) >= 3, asked


def test_killed_download_continues_from_the_sidecar_with_fewer_bytes(ranges, tmp_path):
    size = 8 * MIB
    ranges.reset(size, rate=1 * MIB, rate0=1 * MIB)  # 1 MiB/s per connection: two seconds per segment
    out = tmp_path / "f"
    cmd = [swproxy_path(), "fetch", "-sS", "--segments", "4", "--min-segment-size", "1M", "-o", str(out), ranges.url]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    part = str(out) + ".swproxy-part"
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(part) and "range " in open(part).read():
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    time.sleep(0.5)  # the origin's threads of the killed run note their cut responses
    text = open(part).read()
    assert "validator \"v1\"" in text and "range " in text, text
    have = sum(int(b) - int(a) for a, b in re.findall(r"^range (\d+) (\d+)$", text, flags=re.M))
    assert 0 < have < size
    ranges.log = []
    ranges.rate = ranges.rate0 = None
    report = tmp_path / "report.jsonl"
    r = fetch("--segments", "4", "--min-segment-size", "1M", "-o", str(out), "--report", str(report), ranges.url)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ranges.data()
    assert not os.path.exists(part)
    # Exactly the missing bytes were fetched (the origin may have sent more into a socket before a cut).
    assert json.loads(report.read_text().splitlines()[0])["bytes_down"] == size - have
    assert all(ir == '"v1"' for rng, ir, _, _, _ in ranges.log if rng), ranges.log


def test_a_changed_file_is_fetched_anew_despite_the_sidecar(ranges, tmp_path):
    size = 2 * MIB
    ranges.reset(size)
    out = tmp_path / "f"
    out.write_bytes(b"\0" * size)
    (tmp_path / "f.swproxy-part").write_text(f"swproxy-part 1\nurl {ranges.url}\nsize {size}\nvalidator \"v0\"\n"
                                             f"range 0 1048576\n")
    r = fetch("--segments", "2", "--min-segment-size", "512K", "-o", str(out), ranges.url, quiet=False)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ranges.data(), "nothing of the old version kept"
    assert b"starting over" in r.stderr, r.stderr


def test_retry_continues_from_what_is_complete(ranges, tmp_path):
    # After 2 MiB the origin is down for 3 s (responses cut, requests answered 503): the segments give up,
    # the URL fails, and --retry starts it again 4 s later from the ranges on disk, not from zero.
    size = 8 * MIB
    ranges.reset(size, rate=4 * MIB, rate0=4 * MIB, outage_after=2 * MIB, outage_seconds=3)
    out = tmp_path / "f"
    r = fetch("--segments", "4", "--min-segment-size", "1M", "--retry", "2", "--retry-all-errors", "--retry-delay", "4",
              "-o", str(out), ranges.url, timeout=60, quiet=False)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ranges.data()
    assert b"Will retry" in r.stderr, r.stderr
    resumed = [rng for rng, ir, status, _, _ in ranges.log if status == 206 and ir == '"v1"' and rng.endswith("-")]
    assert resumed and resumed[-1] != "bytes=0-", (ranges.log, r.stderr)  # the retry's probe asks for the first gap
    assert ranges.sent < size + 3 * MIB, ranges.sent


def test_checksum_right_and_wrong(ranges, tmp_path):
    ranges.reset(3 * MIB + 5)
    good = hashlib.sha256(ranges.data()).hexdigest()
    for segments in ([], ["--segments", "3", "--min-segment-size", "1M"]):
        out = tmp_path / "ok"
        r = fetch(*segments, "--checksum", f"sha256={good}", "-o", str(out), ranges.url)
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == ranges.data()
        bad = tmp_path / "bad"
        r = fetch(*segments, "--checksum", "sha256=" + "0" * 64, "-o", str(bad), ranges.url)
        assert r.returncode == 110, (r.returncode, r.stderr)
        assert b"checksum mismatch" in r.stderr and good.encode() in r.stderr, r.stderr
        assert not bad.exists(), "removed"
        r = fetch(*segments, "--checksum", "md5=" + "0" * 32, "--keep-bad", "-o", str(bad), ranges.url)
        assert r.returncode == 110 and bad.read_bytes() == ranges.data()
        bad.unlink()


def test_checksum_per_line_in_an_input_file(ranges, tmp_path):
    ranges.reset(1000)
    good = hashlib.sha1(ranges.data()).hexdigest()
    urls = tmp_path / "urls"
    urls.write_text(f"{ranges.url}\toutput = {tmp_path}/a\tchecksum = sha1={good}\n"
                    f"{ranges.url}\toutput = {tmp_path}/b\tchecksum = sha1={'1' * 40}\n")
    r = fetch("--input-file", str(urls))
    assert r.returncode == 110, r.stderr
    assert (tmp_path / "a").read_bytes() == ranges.data() and not (tmp_path / "b").exists()


def test_segments_refuse_stdout_and_bodies(ranges):
    ranges.reset(10)
    r = fetch("--segments", "4", ranges.url)
    assert r.returncode == 2 and b"--segments writes to files" in r.stderr, r.stderr
    r = fetch("--segments", "4", "-d", "x", "-o", "/dev/null", ranges.url)
    assert r.returncode == 2 and b"-d/--data" in r.stderr, r.stderr
    r = fetch("--segments", "17", "-o", "/dev/null", ranges.url)
    assert r.returncode == 2, r.stderr
    assert ranges.log == [], "nothing sent"


def test_dry_run_says_it_needs_a_probe_or_shows_the_sidecar_plan(ranges, tmp_path):
    ranges.reset(10)
    out = tmp_path / "f"
    r = fetch("--dry-run", "--segments", "4", "-o", str(out), ranges.url)
    assert r.returncode == 0 and b"needs a probe" in r.stdout, r.stdout
    out.write_bytes(b"\0" * (4 * MIB))
    (tmp_path / "f.swproxy-part").write_text(f"swproxy-part 1\nurl {ranges.url}\nsize {4 * MIB}\nvalidator \"v1\"\n"
                                             f"range 0 1048576\n")
    r = fetch("--dry-run", "--segments", "2", "--min-segment-size", "1M", "-o", str(out), ranges.url)
    assert r.returncode == 0 and b"1048576 of 4194304 bytes on disk" in r.stdout, r.stdout
    assert b"1048576-2621439, 2621440-4194303" in r.stdout, r.stdout
    assert ranges.log == []


def test_segments_with_a_last_modified_validator(ranges, tmp_path):
    ranges.reset(3 * MIB, last_modified_only=True)
    out = tmp_path / "f"
    r = fetch("--segments", "3", "--min-segment-size", "1M", "-o", str(out), ranges.url)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ranges.data()
    assert {ir for rng, ir, _, _, _ in ranges.log if rng and rng != "bytes=0-"} == {LM}, ranges.log


class H2Nginx(TempDaemon):
    """nginx over TLS with HTTP/2, 4 MB/s per request; its log: `$connection $status $http_range`."""

    def __init__(self, crt, key, root):
        super().__init__("swproxy-nginx-seg-")
        spawn_logged_nginx(self, root, "$connection $status $http_range", "location / { limit_rate 4m; }", 256,
                           tls=(crt, key))


def test_http2_segments_share_one_connection(cert, tmp_path):
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        pytest.fail("nginx is not installed (make deps installs it)")
    crt, key = cert
    root = tmp_path / "www"
    root.mkdir()
    os.chmod(root, 0o755)
    data = os.urandom(6 * MIB)
    (root / "big").write_bytes(data)
    n = H2Nginx(crt, key, str(root))
    try:
        out = tmp_path / "big"
        r = fetch("--segments", "4", "--min-segment-size", "1M", "--cacert", crt, "-o", str(out),
                  f"https://localhost:{n.port}/big")
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == data
        deadline = time.time() + 5
        lines = []
        while time.time() < deadline:
            lines = [l.split(" ", 2) for l in open(n.log).read().splitlines()] if os.path.exists(n.log) else []
            if len(lines) >= 4:
                break
            time.sleep(0.1)
        assert len([l for l in lines if l[1] == "206"]) >= 4, lines
        assert len({l[0] for l in lines}) == 1, f"one HTTP/2 connection for every segment: {lines}"
    finally:
        n.stop()


def test_segments_with_globs_output_dirs_and_a_host_limit(ranges, tmp_path):
    # Three URLs from a glob into created directories, and two more with -O into --output-dir; at most two
    # connections to the host: the segments wait for them (libcurl's per-host limit holds every transfer).
    ranges.reset(3 * MIB)
    base = f"http://127.0.0.1:{ranges.port}"
    r = fetch("--segments", "3", "--min-segment-size", "1M", "--parallel-max-host", "2", "--create-dirs",
              "-o", str(tmp_path / "glob" / "part#1"), f"{base}/f[1-3]", "--output-dir", str(tmp_path / "o"),
              "-O", f"{base}/x.bin", "-O", f"{base}/y.bin")
    assert r.returncode == 0, r.stderr
    for p in [tmp_path / "glob" / f"part{i}" for i in (1, 2, 3)] + [tmp_path / "o" / "x.bin", tmp_path / "o" / "y.bin"]:
        assert p.read_bytes() == ranges.data(), p
        assert not os.path.exists(str(p) + ".swproxy-part")
    assert ranges.max_active <= 2, ranges.max_active
    assert len([s for _, _, s, _, _ in ranges.log if s == 206]) >= 5 * planned(3 * MIB, 3, MIB), ranges.log
