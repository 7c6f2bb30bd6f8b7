"""`swproxy fetch` beyond curl: reports, per-host limits, rates, Retry-After, chosen failures, batch exit
codes, streaming, progress, dry runs, resumable and skippable outputs, per-line options. Time bounds here
are lower bounds that follow from the options by construction (20 starts at 10/s take at least 1.9 s)."""

import json
import os
import pty
import re
import select
import struct
import subprocess
import fcntl
import termios
import time

from conftest import free_port, run
from origin import payload


def test_report_is_json_lines_with_a_summary(swproxy, origin, tmp_path):
    report = tmp_path / "report.jsonl"
    refused = f"http://127.0.0.1:{free_port()}/"
    r = run([swproxy, "fetch", "-s", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
             "--report", str(report), "--fail-on", "404", "-m", "0.5",
             f"{origin.base}/bytes/100", refused, f"{origin.base}/slow/2", f"{origin.base}/status/404"])
    assert r.returncode == 7  # the first failure in input order
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(lines) == 5
    by_index = {l["index"]: l for l in lines[:4]}
    assert by_index[0]["http_status"] == 200 and by_index[0]["exit_code"] == 0 and by_index[0]["bytes_down"] == 100
    assert by_index[0]["error"] is None and by_index[0]["output"] == "/dev/null"
    assert by_index[1]["exit_code"] == 7 and "Failed to connect" in by_index[1]["error"]
    assert by_index[2]["exit_code"] == 28
    assert by_index[3]["exit_code"] == 22 and by_index[3]["http_status"] == 404
    for l in lines[:4]:
        assert set(l["timings"]) == {"namelookup", "connect", "tls", "first_byte", "total"}
        assert {"url", "effective_url", "retries", "redirects", "http_version", "bytes_up"} <= set(l)
    s = lines[4]["summary"]
    assert s["total"] == 4 and s["ok"] == 1 and s["failed"] == 3 and s["http_errors"] == 1 and s["bytes"] >= 100
    assert s["seconds"] > 0 and s["retried"] == 0


def test_report_to_stdout_keeps_bodies_whole(swproxy, origin):
    r = run([swproxy, "fetch", "-s", "--report", "-", f"{origin.base}/path/a", f"{origin.base}/path/b"])
    out = r.stdout.decode().splitlines()
    assert out[0] == "path /path/a" and json.loads(out[1])["index"] == 0
    assert out[2] == "path /path/b" and json.loads(out[3])["index"] == 1
    assert "summary" in json.loads(out[4])


def test_parallel_max_host_limits_each_host_without_blocking_others(swproxy, origin, origin6):
    deadline = time.time() + 10
    while (origin.inflight or origin6.inflight) and time.time() < deadline:
        time.sleep(0.05)  # slow requests of earlier tests (timed out by their clients) finish first
    origin.host_max.clear()
    origin6.host_max.clear()
    origin.max_inflight = 0
    a = [f"{origin.base}/slow/0.4?a{i}" for i in range(8)]
    b = [f"{origin6.base}/slow/0.4?b{i}" for i in range(4)]
    r = run([swproxy, "fetch", "-s", "-o", "/dev/null", "--parallel-max", "4", "--parallel-max-host", "2"] + a + b)
    assert r.returncode == 0, r.stderr
    assert max(origin.host_max.values()) == 2
    assert max(origin6.host_max.values()) == 2
    # The 'b' URLs come last in input order, yet ran while 'a' ones were waiting for their host.
    first_b = min(x.time for x in origin6.take() if "slow" in x.target)
    last_a = max(x.time for x in origin.take() if "slow" in x.target)
    assert first_b < last_a


def test_rate_spaces_starts(swproxy, origin):
    origin.take()
    r = run([swproxy, "fetch", "-s", "-o", "/dev/null", "--parallel-max", "20", "--rate", "10/s",
             f"{origin.base}/path/[1-20]"])
    assert r.returncode == 0
    times = sorted(x.time for x in origin.take())
    assert len(times) == 20
    assert times[-1] - times[0] >= 1.9 - 0.05  # 19 intervals of 0.1 s (allowing clock granularity)


def test_retry_after_delays_the_retry_and_pauses_the_host(swproxy, origin):
    origin.take()
    origin.counters.clear()
    r = run([swproxy, "fetch", "-s", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "--retry", "1",
             "--parallel-max", "2", f"{origin.base}/ratelimit/ra/1/2", f"{origin.base}/slow/0.5",
             f"{origin.base}/path/third"])
    assert r.returncode == 0, r.stderr
    seen = origin.take()
    limited = sorted(x.time for x in seen if "ratelimit" in x.target)
    # Retry-After: 2 is longer than curl's first retry delay (1 s): the retry waits for it. The second URL is
    # slow so that the third one's slot frees only after the 429 paused the host (else it may start first).
    assert len(limited) == 2 and limited[1] - limited[0] >= 1.9
    third = [x.time for x in seen if x.target.endswith("/third")][0]
    assert third - limited[0] >= 1.9, "a new transfer to the paused host started before Retry-After"


def test_fail_on(swproxy, origin):
    def code(spec, status):
        return run([swproxy, "fetch", "-s", "-o", "/dev/null", "--fail-on", spec, f"{origin.base}/status/{status}"]).returncode

    assert code("4xx,5xx,!404", 404) == 0
    assert code("4xx,5xx,!404", 403) == 22
    assert code("4xx,5xx,!404", 500) == 22
    assert code("500-599,429", 429) == 22
    assert code("500-599,429", 404) == 0
    assert code("500-599,429", 200) == 0
    r = run([swproxy, "fetch", "--fail-on", "4zz", "http://127.0.0.1/"])
    assert r.returncode == 2 and b"--fail-on" in r.stderr
    # The body is kept (only the exit code changes).
    r = run([swproxy, "fetch", "-s", "--fail-on", "404", f"{origin.base}/status/404"])
    assert r.returncode == 22 and r.stdout == b"status 404\n"


def test_exit_summary(swproxy, origin):
    ok = run([swproxy, "fetch", "-s", "-o", "/dev/null", "--exit-summary", f"{origin.base}/path/1"])
    assert ok.returncode == 0
    some = run([swproxy, "fetch", "-s", "-o", "/dev/null", "-o", "/dev/null", "--exit-summary", "-f",
                f"{origin.base}/path/1", f"{origin.base}/status/500"])
    assert some.returncode == 1
    usage = run([swproxy, "fetch", "--exit-summary", "--parallel-max", "0", "http://x/"])
    assert usage.returncode == 2


def test_stream(swproxy, origin):
    r = run([swproxy, "fetch", "-s", "--stream", f"{origin.base}/bytes/50000"])
    assert r.returncode == 0 and r.stdout == payload(50000, "/bytes/50000")
    # curl scripts pass -N with several URLs: accepted; the body at the head of the order streams, the
    # others follow whole and in input order.
    r = run([swproxy, "fetch", "-s", "-N", f"{origin.base}/slow/0.3", f"{origin.base}/path/b"])
    assert r.returncode == 0 and r.stdout == b"slow done\npath /path/b\n"


def test_dry_run_sends_nothing(swproxy, origin):
    origin.take()
    r = run([swproxy, "fetch", "--dry-run", "-H", "X-A: 1", "-d", "abc", "-o", "out_#1", f"{origin.base}/x/[1-2]"])
    assert r.returncode == 0
    text = r.stdout.decode()
    assert f"POST {origin.base}/x/1" in text and f"POST {origin.base}/x/2" in text
    assert "> X-A: 1" in text and "body: 3 bytes" in text and "-> out_1" in text
    time.sleep(0.1)
    assert origin.take() == []


def test_skip_existing_and_duplicate_outputs(swproxy, origin, tmp_path):
    (tmp_path / "1").write_bytes(b"already here")
    origin.take()
    r = run([swproxy, "fetch", "-s", "--skip-existing", "--remote-name-all", f"{origin.base}/bytes/[1-3]"],
            cwd=tmp_path)
    assert r.returncode == 0
    assert (tmp_path / "1").read_bytes() == b"already here"
    assert (tmp_path / "2").read_bytes() == payload(2, "/bytes/2")
    assert sorted(x.target for x in origin.take()) == ["/bytes/2", "/bytes/3"]
    # Two URLs with the same remote name: one after the other, in order (never interleaved); the later
    # body stays, as in curl.
    r = run([swproxy, "fetch", "-s", "-O", "-O", f"{origin.base}/a/same", f"{origin.base}/b/same"], cwd=tmp_path)
    assert r.returncode == 0
    assert [x.target for x in origin.take()] == ["/a/same", "/b/same"]
    assert (tmp_path / "same").read_bytes() == b"path /b/same\n"


def test_resume_under_concurrency(swproxy, origin, tmp_path):
    full = payload(1000, "range")
    for i in range(4):
        (tmp_path / f"r{i}").write_bytes(full[: 100 * (i + 1)])
    args = []
    for i in range(4):
        args += ["-o", f"r{i}", f"{origin.base}/range?{i}"]
    r = run([swproxy, "fetch", "-s", "-C", "-"] + args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for i in range(4):
        assert (tmp_path / f"r{i}").read_bytes() == full


def test_input_file_per_line_options(swproxy, origin, tmp_path):
    lst = tmp_path / "urls"
    lst.write_text(f'{origin.base}/path/a\toutput = a.out\theader = "X-A: 1"\n'
                   f'{origin.base}/echo\trequest = PUT\tdata = "hello"\n'
                   f'{origin.base}/path/c\tbogus = 1\n')
    origin.take()
    r = run([swproxy, "fetch", "-s", "-S", "--input-file", str(lst)], cwd=tmp_path)
    assert r.returncode == 2  # the third line's unknown option fails that URL
    assert b"urls:3: unknown per-URL option 'bogus'" in r.stderr
    assert (tmp_path / "a.out").read_bytes() == b"path /path/a\n"
    seen = {x.target: x for x in origin.take()}
    assert ("X-A", "1") in seen["/path/a"].headers
    assert seen["/echo"].method == "PUT" and seen["/echo"].body == b"hello"
    assert "/path/c" not in seen


def run_in_pty(cmd, cols=60, rows=10, timeout=30):
    """Runs cmd with stderr on a pseudo-terminal of the given size; returns (stdout, terminal bytes, rc)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, SWIFT_BACKTRACE="enable=no")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    term = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            term += chunk
        elif p.poll() is not None:
            break
    out = p.stdout.read()
    rc = p.wait()
    os.close(master)
    return out, term, rc


ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")


def test_progress_display_on_a_terminal(swproxy, origin):
    urls = [f"{origin.base}/slow/0.4?{i}" for i in range(6)]
    out, term, rc = run_in_pty([swproxy, "fetch", "-o", "/dev/null", "--parallel-max", "3"] + ["-o", "/dev/null"] * 5 + urls,
                               cols=60)
    assert rc == 0
    assert b"\x1b[" in term, "no live display on a terminal"
    # Every line drawn fits the terminal's width.
    for line in re.split(rb"[\r\n]", ANSI.sub(b"", term)):
        assert len(line.decode("utf-8", "replace")) <= 60, line
    # The final state stays readable.
    final = ANSI.sub(b"", term).replace(b"\r", b"\n").split(b"\n")
    final = [l for l in final if l.strip()]
    assert final[-1].startswith(b"[6/6] failed 0"), final[-3:]


def test_progress_bar_and_none_when_not_a_terminal(swproxy, origin, tmp_path):
    out, term, rc = run_in_pty([swproxy, "fetch", "-#", "-o", "/dev/null", f"{origin.base}/bytes/100000"], cols=40)
    assert rc == 0 and b"100.0%" in ANSI.sub(b"", term)
    err = tmp_path / "err"
    with open(err, "wb") as f:
        p = subprocess.run([swproxy, "fetch", "-o", "/dev/null", f"{origin.base}/slow/0.3"], stderr=f)
    assert p.returncode == 0
    assert b"\x1b" not in err.read_bytes()
    out, term, rc = run_in_pty([swproxy, "fetch", "-s", "-o", "/dev/null", f"{origin.base}/slow/0.3"])
    assert rc == 0 and term == b""


def test_progress_display_trims_to_height_and_shows_transfers(swproxy, origin):
    """More transfers than rows: the display keeps to the terminal's height (rows - 1 lines at most, an
    'and N more' line for the rest), and a transfer line shows its name (the URL's last segment), bytes and rate."""
    urls = [f"{origin.base}/slow/0.6?t{i}" for i in range(12)]
    out, term, rc = run_in_pty([swproxy, "fetch", "--parallel-max", "12"] + ["-o", "/dev/null"] * 12 + urls,
                               cols=80, rows=6)
    assert rc == 0
    plain = ANSI.sub(b"", term).decode("utf-8", "replace")
    assert "more" in plain, plain[-400:]
    assert re.search(r"\n  0\.6 \d+ B \d+ B/s", plain), plain[-400:]  # a transfer: its name, bytes, rate
    # Each frame is drawn after moving the cursor up over the previous one: never more than rows - 1 lines.
    ups = [int(n) for n in re.findall(rb"\x1b\[(\d+)A", term)]
    assert ups and max(ups) <= 5, ups


def test_no_progress_meter_draws_nothing(swproxy, origin):
    out, term, rc = run_in_pty([swproxy, "fetch", "--no-progress-meter", "-o", "/dev/null", f"{origin.base}/slow/0.3"])
    assert rc == 0 and term == b""


def test_parallel_max_host_queues_do_not_hold_global_slots(swproxy, origin, origin6):
    """URLs waiting for their host's slot are queued by swproxy, not handed to libcurl where they would sit
    in global slots: the other host's URL, last in input order, starts at once, not after the first host's
    first 1-second transfers end."""
    deadline = time.time() + 10
    while (origin.inflight or origin6.inflight) and time.time() < deadline:
        time.sleep(0.05)
    origin.take()
    origin6.take()
    a = [f"{origin.base}/slow/1?q{i}" for i in range(6)]
    b = [f"{origin6.base}/slow/0.1?q"]
    r = run([swproxy, "fetch", "-s", "-o", "/dev/null", "--parallel-max", "4", "--parallel-max-host", "2"] + a + b)
    assert r.returncode == 0, r.stderr
    first_a = min(x.time for x in origin.take() if "slow" in x.target)
    first_b = min(x.time for x in origin6.take() if "slow" in x.target)
    assert first_b - first_a < 0.8, first_b - first_a


def test_reused_handles_carry_nothing_from_the_previous_url(swproxy, origin, tmp_path):
    # One transfer at a time: each URL gets the easy handle the previous one finished with (reset).
    lst = tmp_path / "urls"
    lst.write_text(f'{origin.base}/echo\trequest = PUT\tdata = "hello"\theader = "X-A: 1"\tmax-time = 5\n'
                   f'{origin.base}/echo?second\n'
                   f'{origin.base}/echo?third\tuser-agent = "third/1"\n'
                   f'{origin.base}/echo?fourth\n')
    origin.take()
    r = run([swproxy, "fetch", "-s", "-S", "--parallel-max", "1", "--input-file", str(lst)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    seen = origin.take()
    assert [x.target for x in seen] == ["/echo", "/echo?second", "/echo?third", "/echo?fourth"]
    first, second, third, fourth = seen
    assert first.method == "PUT" and first.body == b"hello" and ("X-A", "1") in first.headers
    for later in (second, fourth):
        assert later.method == "GET" and later.body == b""
        assert all(k.lower() != "x-a" for k, _ in later.headers)
        assert dict(later.headers)["User-Agent"].startswith("swproxy/")
    assert dict(third.headers)["User-Agent"] == "third/1"
    text, bodies, dec = r.stdout.decode(), [], json.JSONDecoder()
    while text.strip():
        body, end = dec.raw_decode(text.lstrip())
        bodies.append(body["method"])
        text = text.lstrip()[end:]
    assert bodies == ["PUT", "GET", "GET", "GET"]  # each body whole, in input order


def test_output_to_dev_null_counts_the_body_and_writes_nowhere(swproxy, origin, tmp_path):
    r = run([swproxy, "fetch", "-s", "-o", "/dev/null", "-o", "/dev/null", "--create-dirs",
             "-w", "%{size_download} %{filename_effective}\\n", origin.base + "/bytes/5000",
             origin.base + "/empty"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"5000 /dev/null\n0 /dev/null\n"
    assert os.listdir(tmp_path) == []
    # Resuming into /dev/null starts at 0, as curl does.
    r = run([swproxy, "fetch", "-s", "-C", "-", "-o", "/dev/null", "-w", "%{size_download}", origin.base + "/range"])
    assert r.returncode == 0 and r.stdout == b"1000", (r.returncode, r.stdout, r.stderr)
