"""fetch's fault paths, on the AddressSanitizer build under `make test`: interrupted batches, timeouts while
stdout is slow, a stdout pipe closed mid-batch, retries of transfers cut short, upstream resets. Each run
must end with curl's exit status and no sanitizer report."""

import os
import signal
import subprocess
import time

import pytest

from chaos_origin import payload
from conftest import run
from fault_fixtures import chaos_origin, sanitizer_report  # noqa: F401 (a fixture)


def env():
    e = dict(os.environ, SWIFT_BACKTRACE="enable=no")
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        e.pop(k, None)
    return e


def clean(stderr):
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    report = sanitizer_report(text)
    assert not report, "sanitizer report from fetch:\n" + report


def test_sigint_mid_batch_leaves_partial_files(swproxy, chaos_origin, tmp_path):
    out = tmp_path / "out"
    url = f"http://127.0.0.1:{chaos_origin.port}/slow/3000000?[1-12]"
    p = subprocess.Popen([swproxy, "fetch", "-s", "--create-dirs", "-o", f"{out}/f#1", url],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(f.stat().st_size for f in out.glob("f*")) < 200_000:
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("fetch did not stop on SIGINT")
    clean(err)
    # As curl: the interrupt ends the run (killed by SIGINT, or 130), files hold what had arrived.
    assert p.returncode in (-signal.SIGINT, 130), p.returncode
    files = sorted(out.glob("f*"))
    assert files, "no partial files"
    body = payload(3000000, "/slow/3000000")
    for f in files:
        data = f.read_bytes()
        assert len(data) < len(body) and body.startswith(data), f"{f.name}: not a prefix of the body"


def read_later(cmd, delay, limit=None):
    """Runs fetch with stdout on a pipe nobody reads for `delay` seconds; then reads `limit` bytes and
    closes the pipe, or everything."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    time.sleep(delay)
    if limit is not None:
        got = p.stdout.read(limit)
        p.stdout.close()
        err = p.stderr.read()
    else:
        got = p.stdout.read()
        err = p.stderr.read()
    p.wait(timeout=30)
    return p.returncode, got, err


def test_max_time_while_stdout_reader_is_slow(swproxy, chaos_origin):
    # `swproxy fetch --max-time 0.5 URL | (sleep 1; cat)`: the limit passes while stdout is full; curl
    # then stops with 28, having written a prefix of the body.
    path = "/slow/3000000"  # about 4 s of body: it cannot be over before the reader wakes
    code, got, err = read_later([swproxy, "fetch", "-s", "--max-time", "0.5", chaos_origin_url(chaos_origin, path)],
                                1.0)
    clean(err)
    assert code == 28, (code, err)
    assert 0 < len(got) < 3000000 and payload(3000000, path).startswith(got)


def test_stdout_reader_that_quits_gives_23(swproxy, chaos_origin):
    # `swproxy fetch URL | (sleep 1; head -c 10)`
    code, got, err = read_later([swproxy, "fetch", "-s", "--max-time", "5", chaos_origin_url(chaos_origin, "/ok/8000000")],
                                1.0, limit=10)
    clean(err)
    assert code == 23, (code, err)
    assert len(got) == 10


def test_stdout_closed_mid_batch_gives_23(swproxy, chaos_origin):
    urls = [chaos_origin_url(chaos_origin, f"/ok/{300000 + i}") for i in range(10)]
    code, got, err = read_later([swproxy, "fetch", "-s", "--parallel-max", "5"] + urls, 0.3, limit=450000)
    clean(err)
    assert code == 23, (code, err)
    assert got == payload(300000, "/ok/300000") + payload(300001, "/ok/300001")[:150000]


def chaos_origin_url(o, path):
    return f"http://127.0.0.1:{o.port}{path}"


FAULTS = ["/reset-head", "/reset-body/500000", "/noanswer", "/cut-chunked/300000", "/ok/1000", "/chunked/200000"]


def test_upstream_faults_exit_like_curl(swproxy, chaos_origin, tmp_path):
    urls = [chaos_origin_url(chaos_origin, p) for p in FAULTS]
    want = []
    for u in urls:
        want.append(run(["curl", "-s", "-o", "/dev/null", u], timeout=30).returncode)
    # One at a time: each URL's own exit status.
    for u, w in zip(urls, want):
        r = run([swproxy, "fetch", "-s", "-o", "/dev/null", u], timeout=30, env={"SWIFT_BACKTRACE": "enable=no"})
        clean(r.stderr)
        assert r.returncode == w, (u, r.returncode, w, r.stderr)
    # All at once, several times over: the first failure in input order.
    r = run([swproxy, "fetch", "-s", "--parallel-max", "20", "-o", "/dev/null"] + urls * 4, timeout=60,
            env={"SWIFT_BACKTRACE": "enable=no"})
    clean(r.stderr)
    assert r.returncode == next(w for w in want if w != 0)


def test_retries_of_transfers_cut_short(swproxy, chaos_origin, tmp_path):
    # Each attempt is cancelled by --max-time (stall) or cut by the origin (reset), retried at once; two
    # URLs at once, so retries and new transfers share the multi handle.
    for path, code in (("/stall", 28), ("/reset-body/400000", 56), ("/noanswer", 52)):
        url = chaos_origin_url(chaos_origin, path)
        retry = ["--retry", "2", "--retry-delay", "1", "--retry-all-errors", "--max-time", "0.3"]
        r = run([swproxy, "fetch", "-S", "--no-progress-meter"] + retry + ["-o", str(tmp_path / "a"), url, "-o", str(tmp_path / "b"), url],
                timeout=60, env={"SWIFT_BACKTRACE": "enable=no"})
        clean(r.stderr)
        assert r.returncode == code, (path, r.returncode, r.stderr)
        assert r.stderr.count(b"Will retry") == 4, r.stderr
        c = run(["curl", "-sS"] + retry + ["-o", str(tmp_path / "c"), url], timeout=60)
        assert c.returncode == code, (path, "curl", c.returncode)
