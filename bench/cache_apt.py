#!/usr/bin/env python3
"""The apt scenario of the cache: a local Debian repository (PACKAGES packages of SIZE random bytes, built
with dpkg-deb and apt-ftparchive as Tests/integration/test_serve_cache_apt.py does) served by nginx;
`apt-get update` + `apt-get install --download-only` of every package, each run with a fresh apt state:
direct (no proxy), through `swproxy serve --cache-dir` cold (empty store), then warm. Reports wall times
and the bytes the origin sent in each run (warm: 0 for packages, the indexes only revalidated).

    python3 bench/cache_apt.py [SWPROXY]      # PACKAGES=40 SIZE=2000000 ROUNDS=3 by default
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tests", "integration"))
import test_serve_cache_apt as apt  # noqa: E402
from conftest import free_port, wait_port  # noqa: E402

SWPROXY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", ".build", "release", "swproxy")
COUNT = int(os.environ.get("PACKAGES", "40"))
SIZE = int(os.environ.get("SIZE", "2000000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
apt.PACKAGES = [(f"swproxy-bench-{i:03d}", SIZE) for i in range(COUNT)]
names = [n for n, _ in apt.PACKAGES]


def origin_bytes(mirror, since):
    e = mirror.entries()[since:]
    return sum(b for _, p, _, b in e if p.endswith(".deb")), sum(b for _, p, _, b in e if not p.endswith(".deb")), len(e)


def timed_run(work, mirror, port, label):
    since = len(mirror.entries())
    root = apt.AptRoot(os.path.join(work, label), mirror, port)
    t = time.monotonic()
    got = root.download(names)
    wall = time.monotonic() - t
    assert len(got) == COUNT, sorted(got)
    return wall, origin_bytes(mirror, since)


def main():
    rows = {"direct": [], "cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="swproxy-bench-apt-") as work:
        repo = os.path.join(work, "repo")
        apt.build_repo(repo, os.path.join(work, "build"))
        mirror = apt.Mirror(repo)
        try:
            for r in range(ROUNDS):
                d = apt.AptRoot(os.path.join(work, f"d{r}"), mirror, None)  # direct: no proxy
                since = len(mirror.entries())
                t = time.monotonic()
                assert len(d.download(names)) == COUNT
                rows["direct"].append((time.monotonic() - t, origin_bytes(mirror, since)))
                port = free_port()
                cache = os.path.join(work, f"cache{r}")
                p = subprocess.Popen([SWPROXY, "serve", "--listen", f"127.0.0.1:{port}", "--quiet", "--cache-dir", cache],
                                     stderr=subprocess.DEVNULL)
                try:
                    assert wait_port(port)
                    rows["cold"].append(timed_run(work, mirror, port, f"c{r}"))
                    rows["warm"].append(timed_run(work, mirror, port, f"w{r}"))
                finally:
                    p.terminate()
                    p.wait()
        finally:
            mirror.stop()
    total = COUNT * SIZE
    print(f"apt-get update + install --download-only of {COUNT} packages of {SIZE} bytes "
          f"({total / 1e6:.0f} MB), {ROUNDS} rounds, medians")
    print("| run | wall s | origin .deb bytes | origin index bytes | origin requests |")
    print("|---|---|---|---|---|")
    for k, label in (("direct", "direct (no proxy)"), ("cold", "swproxy cache, cold"), ("warm", "swproxy cache, warm")):
        w = statistics.median(x[0] for x in rows[k])
        deb = statistics.median(x[1][0] for x in rows[k])
        idx = statistics.median(x[1][1] for x in rows[k])
        n = statistics.median(x[1][2] for x in rows[k])
        print(f"| {label} | {w:.2f} | {deb:.0f} | {idx:.0f} | {n:.0f} |")
    d = statistics.median(x[0] for x in rows["direct"])
    print(f"warm ÷ direct wall time: {statistics.median(x[0] for x in rows['warm']) / d:.2f}×; "
          f"cold ÷ direct: {statistics.median(x[0] for x in rows['cold']) / d:.2f}×")


if __name__ == "__main__":
    main()
