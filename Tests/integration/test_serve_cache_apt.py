"""`swproxy serve --cache-dir` under apt: a local Debian repository (packages built with dpkg-deb, indexes
from apt-ftparchive) served by nginx, `apt-get update` and `apt-get install --download-only` through the
proxy twice, each time with a fresh apt state, the proxy and its cache the same. The second run takes every
.deb from the cache and only revalidates the indexes. apt's state, configuration and sources are all in a
temporary directory (APT_CONFIG and -o): the host's own lists, archives and sources are neither read nor
touched. Everything stays on loopback."""

import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import TempDaemon, free_port, run, spawn_logged_nginx
from conftest_serve import eventually

# Name, payload size: random bytes, so dpkg-deb cannot compress them and the bytes on the wire are the sizes.
PACKAGES = [("swproxy-cache-alpha", 200_000), ("swproxy-cache-bravo", 300_000), ("swproxy-cache-charlie", 400_000),
            ("swproxy-cache-delta", 500_000)]
INDEXES = ("InRelease", "Release", "Release.gpg", "Packages", "Packages.gz", "Packages.xz")
MONTH = 30 * 86400


def build_repo(root, work):
    """A flat repository in `root` (`deb [trusted=yes] URL ./`): pool/*.deb, Packages, Packages.gz and an
    unsigned Release. Returns {file name: bytes} of the .debs."""
    pool = os.path.join(root, "pool")
    os.makedirs(pool)
    debs = {}
    for name, size in PACKAGES:
        tree = os.path.join(work, name)
        os.makedirs(os.path.join(tree, "DEBIAN"))
        os.makedirs(os.path.join(tree, "usr", "share", name))
        with open(os.path.join(tree, "DEBIAN", "control"), "w") as f:
            f.write(f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: swproxy tests <t@localhost>\n"
                    f"Section: misc\nPriority: optional\nDescription: swproxy cache test package\n"
                    f" {size} random bytes.\n")
        with open(os.path.join(tree, "usr", "share", name, "payload"), "wb") as f:
            f.write(os.urandom(size))
        deb = os.path.join(pool, f"{name}_1.0_all.deb")
        r = run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, deb])
        assert r.returncode == 0, r.stderr.decode()
        with open(deb, "rb") as f:
            debs[os.path.basename(deb)] = f.read()
        # Pool files are old on a real mirror: nginx sends no Cache-Control, so they are fresh by the heuristic
        # (10% of their age, at most a day). The indexes keep their new mtime: fresh for a moment only.
        old = time.time() - MONTH
        os.utime(deb, (old, old))
    r = run(["apt-ftparchive", "packages", "pool"], cwd=root)
    assert r.returncode == 0 and r.stdout, r.stderr.decode()
    with open(os.path.join(root, "Packages"), "wb") as f:
        f.write(r.stdout)
    subprocess.run(["gzip", "-9nk", os.path.join(root, "Packages")], check=True)
    # Written outside and moved in: apt-ftparchive release would list a half-written Release of its own.
    r = run(["apt-ftparchive", "-o", "APT::FTPArchive::Release::Origin=swproxy-tests",
             "-o", "APT::FTPArchive::Release::Suite=test", "release", "."], cwd=root)
    assert r.returncode == 0 and b"Packages.gz" in r.stdout, r.stderr.decode() + r.stdout.decode()
    with open(os.path.join(root, "Release"), "wb") as f:
        f.write(r.stdout)
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
    return debs


class Mirror(TempDaemon):
    """nginx serving the repository; its access log has one `METHOD URI STATUS BODY_BYTES` line a request."""

    def __init__(self, root):
        super().__init__("swproxy-apt-mirror-")
        spawn_logged_nginx(self, root, "$request_method $request_uri $status $body_bytes_sent", "location / { }", 256)
        self.base = f"http://127.0.0.1:{self.port}"

    def entries(self):
        """(method, path, status, bytes) of every request so far."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [(m, p, int(s), int(b)) for m, p, s, b in (line.split() for line in f if line.strip())]


class AptRoot:
    """A private apt: configuration, sources, lists, archives and dpkg status all under `d`."""

    def __init__(self, d, mirror, proxy_port):
        self.d = d
        dirs = ["etc/apt.conf.d", "etc/preferences.d", "etc/trusted.gpg.d", "state/lists/partial",
                "cache/archives/partial", "log", "dpkg"]
        for sub in dirs:
            os.makedirs(os.path.join(d, sub))
        self.sources = os.path.join(d, "etc", "sources.list")
        with open(self.sources, "w") as f:
            f.write(f"deb [trusted=yes] {mirror.base}/ ./\n")
        open(os.path.join(d, "dpkg", "status"), "w").close()
        self.archives = os.path.join(d, "cache", "archives")
        opts = {
            "Dir::Etc::Main": os.path.join(d, "etc", "apt.conf"),
            "Dir::Etc::Parts": os.path.join(d, "etc", "apt.conf.d"),
            "Dir::Etc::SourceList": self.sources,
            "Dir::Etc::SourceParts": "/dev/null",
            "Dir::Etc::Preferences": "/dev/null",
            "Dir::Etc::PreferencesParts": os.path.join(d, "etc", "preferences.d"),
            "Dir::Etc::Trusted": os.path.join(d, "etc", "trusted.gpg"),
            "Dir::Etc::TrustedParts": os.path.join(d, "etc", "trusted.gpg.d"),
            "Dir::State": os.path.join(d, "state"),
            "Dir::State::status": os.path.join(d, "dpkg", "status"),
            "Dir::Cache": os.path.join(d, "cache"),
            "Dir::Log": os.path.join(d, "log"),
            "Debug::NoLocking": "1",
            "APT::Sandbox::User": "root",
            "Acquire::Languages": "none",
            "Acquire::Retries": "0",
            # No port: straight to the mirror (the benchmark's direct run).
            "Acquire::http::Proxy": f"http://127.0.0.1:{proxy_port}" if proxy_port else "DIRECT",
        }
        # APT_CONFIG is read before the host's /etc/apt/apt.conf.d (the -o options only after it): with it,
        # none of the host's configuration is read at all.
        self.config = os.path.join(d, "apt-config")
        with open(self.config, "w") as f:
            f.writelines(f'{k} "{v}";\n' for k, v in opts.items())
        open(opts["Dir::Etc::Main"], "w").close()
        self.args = [a for k, v in opts.items() for a in ("-o", f"{k}={v}")]

    def apt_get(self, *args):
        r = run(["apt-get", "-q", *self.args, *args], timeout=60, env={"APT_CONFIG": self.config, "LC_ALL": "C"})
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        assert r.returncode == 0 and not re.search(r"^(E|W):", out, re.M), out
        return out

    def download(self, names):
        self.apt_get("update")
        self.apt_get("install", "--download-only", "-y", *names)
        return {n: open(os.path.join(self.archives, n), "rb").read()
                for n in os.listdir(self.archives) if n.endswith(".deb")}


DEB_LINE = re.compile(r'"GET (http://\S+/pool/(\S+\.deb)) HTTP/1\.1" (\d{3}) (\d+) "[^"]*" "[^"]*" cache=(\w+)')


def deb_log(text):
    """{deb file name: (status, bytes, cache status)} from the proxy's combined access-log lines."""
    return {m.group(2): (int(m.group(3)), int(m.group(4)), m.group(5)) for m in DEB_LINE.finditer(text)}


def index_log(text):
    """[(index file name, cache status)] from the proxy's access-log lines for the repository's indexes."""
    return re.findall(r'"GET http://\S+/(?:\./)?(' + "|".join(map(re.escape, INDEXES)) +
                      r') HTTP/1\.1" \d{3} \d+ "[^"]*" "[^"]*" cache=(\w+)', text)


def host_apt_state():
    """What the host's apt has in its lists and archives (names, sizes, mtimes): unchanged by the test."""
    seen = {}
    for d in ("/var/lib/apt/lists", "/var/cache/apt/archives"):
        for dirpath, _, filenames in os.walk(d):
            for n in filenames + [""]:
                st = os.lstat(os.path.join(dirpath, n))
                seen[os.path.join(dirpath, n)] = (st.st_size, st.st_mtime_ns)
    return seen


def metric(text, name, label):
    m = re.search(rf"^{name}\{{{label}\}} (\d+(?:\.\d+)?)$", text, re.M)
    return float(m.group(1)) if m else None


@pytest.fixture
def repo(tmp_path):
    for tool in ("dpkg-deb", "apt-ftparchive", "apt-get", "nginx"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed (make deps installs it)")
    root = tmp_path / "repo"
    debs = build_repo(str(root), str(tmp_path / "build"))
    mirror = Mirror(str(root))
    yield mirror, debs
    mirror.stop()


def test_apt_second_run_comes_from_the_cache(start, repo, tmp_path):
    mirror, debs = repo
    names = [name for name, _ in PACKAGES]
    host_before = host_apt_state()
    metrics_port = free_port()
    p = start("--cache-dir", str(tmp_path / "cache"), "--metrics-listen", f"127.0.0.1:{metrics_port}")

    first = AptRoot(str(tmp_path / "apt1"), mirror, p.port).download(names)
    assert first == debs
    run1 = mirror.entries()
    assert sorted(path.rsplit("/", 1)[1] for _, path, status, _ in run1 if path.endswith(".deb")) == sorted(debs)
    assert sum(n for _, path, _, n in run1 if path.endswith(".deb")) == sum(map(len, debs.values()))
    assert eventually(lambda: len(deb_log(p.read_log())) == len(debs)), p.read_log()
    log1 = p.read_log()
    assert {n: e[2] for n, e in deb_log(log1).items()} == {n: "MISS" for n in debs}, log1

    second = AptRoot(str(tmp_path / "apt2"), mirror, p.port).download(names)
    assert second == debs
    run2 = mirror.entries()[len(run1):]
    # No .deb reached the origin; an index did at most as a revalidation (304) or a miss it cannot store (404:
    # the unsigned repository has no InRelease).
    assert not [e for e in run2 if e[1].endswith(".deb")], run2
    assert all(status in (304, 404) for _, _, status, _ in run2), run2
    assert all(path.rsplit("/", 1)[1] in INDEXES for _, path, _, _ in run2), run2
    assert sum(n for _, _, status, n in run2 if status != 404) == 0, run2
    assert eventually(lambda: len(deb_log(p.read_log()[len(log1):])) == len(debs)), p.read_log()
    log2 = deb_log(p.read_log()[len(log1):])
    assert log2 == {n: (200, len(b), "HIT") for n, b in debs.items()}, p.read_log()[len(log1):]
    # Release and Packages.gz: stored in run 1, revalidated in run 2 (apt asks `Cache-Control: max-age=0` for
    # indexes); the 404s of the unsigned repository are not storable and stay misses.
    found = [(n, c) for n, c in index_log(p.read_log()[len(log1):]) if n not in ("InRelease", "Release.gpg")]
    assert found and all(c in ("REVALIDATED", "HIT") for _, c in found), p.read_log()[len(log1):]

    r = run(["curl", "-sS", f"http://127.0.0.1:{metrics_port}/metrics"])
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    total = sum(map(len, debs.values()))
    from_cache = metric(text, "swproxy_cache_bytes_total", 'source="cache"')
    from_upstream = metric(text, "swproxy_cache_bytes_total", 'source="upstream"')
    assert from_cache is not None and from_upstream is not None, text
    # Run 2's .debs from the store; the origin's .deb bytes fetched once (plus the small indexes).
    assert from_cache >= total, text
    assert total <= from_upstream < total + 100_000, text
    assert metric(text, "swproxy_cache_requests_total", 'status="hit"') >= len(debs), text
    assert host_apt_state() == host_before
