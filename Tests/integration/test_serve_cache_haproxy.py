"""Two `swproxy serve --cache-dir` instances behind haproxy (`balance uri whole`, `hash-type consistent`:
examples/haproxy-cache.cfg, its ports replaced): each URL is sent to one instance, fetched from the origin
once and stored there only; the second round of the same requests is all hits. Everything stays on
loopback."""

import os
import re
import shutil

import pytest

from conftest import ROOT, TempDaemon, run, spawn_logged_nginx
from conftest_serve import eventually, get

EXAMPLE = os.path.join(ROOT, "examples", "haproxy-cache.cfg")
FILES = {f"/f/{i:02d}.bin": (f"file {i:02d} ".encode() * (200 * (i + 1)))[: 1000 * (i + 1)] for i in range(20)}


class Origin(TempDaemon):
    """nginx serving FILES with `Cache-Control: max-age=600`; its access log has `URI STATUS` a request."""

    def __init__(self, root):
        super().__init__("swproxy-haproxy-origin-")
        spawn_logged_nginx(self, root, "$request_uri $status",
                           'location / { add_header Cache-Control "max-age=600"; }', 256)
        self.base = f"http://127.0.0.1:{self.port}"

    def paths(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [line.split()[0] for line in f if line.strip()]


class HAProxy(TempDaemon):
    """haproxy with the documented example, its frontend and the two servers' ports replaced."""

    def __init__(self, backend_ports):
        super().__init__("swproxy-haproxy-")
        with open(EXAMPLE) as f:
            cfg = f.read()
        for old, new in [(3128, self.port)] + list(zip((3129, 3130), backend_ports)):
            # Each address once in the example's configuration lines (its comments name them too).
            lines = cfg.split("\n")
            hits = [i for i, line in enumerate(lines)
                    if not line.lstrip().startswith("#") and f"127.0.0.1:{old}" in line]
            assert len(hits) == 1, f"127.0.0.1:{old} in {EXAMPLE}: {hits}"
            lines[hits[0]] = lines[hits[0]].replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
            cfg = "\n".join(lines)
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        self.errors = os.path.join(self.dir, "stderr")
        check = run(["haproxy", "-c", "-f", self.cfg])
        assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
        with open(self.errors, "wb") as err:
            self.spawn(["haproxy", "-db", "-f", self.cfg], "haproxy", stderr=err, why=self.read_errors)

    def read_errors(self):
        with open(self.errors, "rb") as f:
            return f.read().decode(errors="replace")


def entries(swproxy, cache_dir):
    r = run([swproxy, "cache", "stats", "--cache-dir", cache_dir])
    assert r.returncode == 0, r.stderr.decode()
    m = re.search(r"^entries: (\d+)$", r.stdout.decode(), re.M)
    assert m, r.stdout.decode()
    return int(m.group(1))


def logged_urls(proxy):
    """The URLs in this instance's access log, in order."""
    return re.findall(r'"GET (\S+) HTTP/1\.1" 200 ', proxy.read_log())


@pytest.fixture
def origin_files(tmp_path):
    for tool in ("haproxy", "nginx"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed (make deps installs it)")
    root = tmp_path / "www"
    (root / "f").mkdir(parents=True)
    for path, body in FILES.items():
        (root / path.lstrip("/")).write_bytes(body)
    os.chmod(root, 0o755)
    os.chmod(root / "f", 0o755)
    o = Origin(str(root))
    yield o
    o.stop()


def test_haproxy_balance_uri_spreads_urls_over_two_caches(start, swproxy, origin_files, tmp_path):
    dirs = [str(tmp_path / "cache1"), str(tmp_path / "cache2")]
    caches = [start("--cache-dir", d) for d in dirs]
    lb = HAProxy([c.port for c in caches])
    try:
        urls = [origin_files.base + path for path in FILES]

        for url in urls:
            r = get(lb.port, url)
            assert r.status == 200 and r.body == FILES[url[len(origin_files.base):]], (url, r)
            assert r.header("Cache-Status") == "swproxy; fwd=uri-miss; fwd-status=200; stored", (url, r)
        # Stored once each, on one instance: the two stores hold 20 entries together, both some.
        assert eventually(lambda: sum(entries(swproxy, d) for d in dirs) == len(urls)), \
            [entries(swproxy, d) for d in dirs]
        first = [set(logged_urls(c)) for c in caches]
        assert first[0] | first[1] == set(urls) and not first[0] & first[1], first
        assert all(first), f"balance uri sent every URL to one instance: {first}"
        assert [entries(swproxy, d) for d in dirs] == [len(s) for s in first]

        for url in urls:
            r = get(lb.port, url)
            assert r.status == 200 and r.body == FILES[url[len(origin_files.base):]], (url, r)
            status = r.header("Cache-Status") or ""
            assert re.fullmatch(r"swproxy; hit; ttl=\d+", status), (url, r)
            assert 590 <= int(status.rsplit("=", 1)[1]) <= 600, (url, r)
            assert r.header("Age") is not None, (url, r)
        # The same instance answered each URL again (haproxy hashed it to the same server).
        assert eventually(lambda: sum(len(logged_urls(c)) for c in caches) == 2 * len(urls))
        assert [set(logged_urls(c)) for c in caches] == first
        for c in caches:
            assert re.findall(r" cache=(\w+)", c.read_log()) == ["MISS"] * len(first[caches.index(c)]) + \
                ["HIT"] * len(first[caches.index(c)]), c.read_log()

        assert sorted(origin_files.paths()) == sorted(FILES), origin_files.paths()

        # Purging every URL on both: each is purged where it was stored and not cached on the other.
        for c, d, mine in zip(caches, dirs, first):
            r = run([swproxy, "cache", "purge", "--cache-dir", d, *urls])
            assert r.returncode == 0, r.stderr.decode()
            expected = [f"purged {u}" if u in mine else f"not cached: {u}" for u in urls]
            assert r.stdout.decode().splitlines() == expected, r.stdout.decode()
            assert entries(swproxy, d) == 0
    finally:
        lb.stop()
