"""The cache on a full disk: a store on a 2 MiB tmpfs (mounted by the test; root only, as in CI). A body that
does not fit fails its fill: the client's body is cut (never complete-looking), nothing partial is stored or
left in DIR/tmp, and the proxy goes on caching what fits."""

import os
import subprocess

import pytest

from test_serve_cache import (BigBody, MISS_STORED, Stream, cache_status, entry_files, is_hit, launch,  # noqa: F401
                              request, settle, site)


@pytest.fixture
def small_disk(tmp_path):
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)], capture_output=True)
    assert r.returncode == 0, r.stderr
    yield str(d)
    subprocess.run(["umount", "-l", str(d)])


def test_a_full_disk_never_leaves_an_entry_that_is_served(launch, site, small_disk):
    big = BigBody(4)  # 4 MiB on a 2 MiB disk
    url = site.serve("/huge", big, headers=[("Cache-Control", "max-age=3600")])
    small = site.serve("/small", b"s" * 1000, headers=[("Cache-Control", "max-age=3600")])
    p = launch(cache_dir=os.path.join(small_disk, "cache"))
    s = Stream(p, url, timeout=30).start()
    s.join(60)
    assert s.response.status == 200 and s.response.header("Content-Length") == str(big.length)
    assert s.closed and s.received < big.length, s.received
    settle(p)
    assert entry_files(p.cache_dir) == []
    # Room again: the proxy still stores and serves what fits.
    assert cache_status(request(p, small)) == MISS_STORED
    settle(p)
    r = request(p, small)
    assert is_hit(r) and r.body == b"s" * 1000
    assert site.count("/small") == 1
    assert "cache=MISS reason=cache-write-failed" in p.read_log()
