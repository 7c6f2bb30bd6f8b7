"""Bounded memory: a 1 GiB download through the proxy to a client reading at 10 MB/s keeps the proxy's
resident memory under 64 MiB (the watermarks pause libcurl; nothing buffers the body)."""

import os

from conftest import Nginx, run
from conftest_serve import Proxy


def test_one_gib_to_a_slow_client_stays_under_64_mib(swproxy, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    with open(www / "gib", "wb") as f:
        f.truncate(1 << 30)
    os.chmod(tmp_path, 0o755)
    os.chmod(www, 0o755)
    nginx = Nginx(str(www))
    proxy = Proxy(swproxy, "--quiet", "--threads", "1")
    try:
        with proxy.peak_rss(0.25) as peak:
            r = run(["curl", "-sS", "-x", proxy.url, "--limit-rate", "10M", "-o", "/dev/null", "-w",
                     "%{size_download}", f"{nginx.base}/gib"], timeout=600)
    finally:
        proxy.stop()
        nginx.stop()
    assert r.returncode == 0, r.stderr
    assert r.stdout == str(1 << 30).encode()
    assert 0 < peak.kib < 64 * 1024, f"peak RSS {peak.kib} KiB"
