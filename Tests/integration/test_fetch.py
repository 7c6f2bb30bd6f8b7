"""`swproxy fetch` behaviour beyond what curl can be compared with: concurrency, ordering, batches, and
clear errors for bad input."""

import json
import re
import hashlib
import os

from conftest import free_port, run


def test_thousand_urls_in_order_through_nginx(swproxy, nginx_files):
    p = run([swproxy, "fetch", "-sS", "--parallel-max", "50", f"{nginx_files.base}/f/[0-999]"], timeout=300)
    assert p.returncode == 0, p.stderr
    expected = b"".join(open(os.path.join(nginx_files.files_root, "f", str(i)), "rb").read() for i in range(1000))
    assert len(p.stdout) == 1000 * 4096
    assert hashlib.sha256(p.stdout).hexdigest() == hashlib.sha256(expected).hexdigest()


def test_thousand_urls_to_files_through_nginx(swproxy, nginx_files, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("# one URL per line\n\n" + "".join(f"{nginx_files.base}/f/{i}\n" for i in range(1000)))
    p = run([swproxy, "fetch", "-sS", "--parallel-max", "50", "--input-file", str(urls), "--remote-name-all",
             "--output-dir", str(tmp_path / "out"), "--create-dirs", "-w", "%{urlnum} %{http_code}\n"],
            timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines == [f"{i} 200" for i in range(1000)]
    for i in range(1000):
        got = (tmp_path / "out" / str(i)).read_bytes()
        assert got == open(os.path.join(nginx_files.files_root, "f", str(i)), "rb").read()


def test_stdout_order_is_input_order_whatever_finishes_first(swproxy, origin):
    p = run([swproxy, "fetch", "-s", f"{origin.base}/slow/0.5", f"{origin.base}/bytes/100000", f"{origin.base}/slow/0.2",
             f"{origin.base}/path/last"])
    assert p.returncode == 0
    from origin import payload
    assert p.stdout == b"slow done\n" + payload(100000, "/bytes/100000") + b"slow done\npath /path/last\n"


def test_transfers_really_run_concurrently_up_to_the_limit(swproxy, origin):
    origin.max_inflight = 0
    p = run([swproxy, "fetch", "-s", "--parallel-max", "4", "-o", "/dev/null", f"{origin.base}/slow/0.3?[1-12]"])
    assert p.returncode == 0, p.stderr
    assert 2 <= origin.max_inflight <= 4


def test_exit_code_is_first_failure_in_input_order(swproxy, origin):
    refused = f"http://127.0.0.1:{free_port()}/"
    p = run([swproxy, "fetch", "-f", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
             f"{origin.base}/bytes/5", f"{origin.base}/status/404", refused])
    assert p.returncode == 22
    assert b"swproxy: (22) The requested URL returned error: 404" in p.stderr
    assert b"swproxy: (7) " in p.stderr
    p = run([swproxy, "fetch", "-f", "-s", refused, f"{origin.base}/status/404"])
    assert p.returncode == 7
    assert p.stderr == b""


def test_unknown_option_is_a_usage_error_naming_it(swproxy):
    p = run([swproxy, "fetch", "--no-such-option", "http://127.0.0.1:1/"])
    assert p.returncode == 2
    assert b"--no-such-option" in p.stderr.splitlines()[0]
    p = run([swproxy, "fetch", "-q", "http://127.0.0.1:1/"])
    assert p.returncode == 2
    assert b"-q" in p.stderr


def test_missing_value_and_bad_numbers_are_usage_errors(swproxy):
    for args, needle in ((["-o"], b"-o"), (["--parallel-max", "0", "http://x/"], b"--parallel-max"),
                         (["--retry", "abc", "http://x/"], b"--retry"), (["-C", "x1", "http://x/"], b"--continue-at"),
                         ([], b"no URL")):
        p = run([swproxy, "fetch"] + args)
        assert p.returncode == 2, args
        assert needle in p.stderr, (args, p.stderr)


def test_malformed_url(swproxy):
    p = run([swproxy, "fetch", "http://exa mple.com/"])
    assert p.returncode == 3
    assert p.stderr.startswith(b"swproxy: (3) ")


def test_unreadable_data_file_fails_before_sending(swproxy, origin):
    origin.take()
    p = run([swproxy, "fetch", "-d", "@/nonexistent/body", f"{origin.base}/echo"])
    assert p.returncode == 26
    assert b"/nonexistent/body" in p.stderr
    assert origin.take() == []


def test_unwritable_output_path(swproxy, origin):
    p = run([swproxy, "fetch", "-o", "/nonexistent/dir/file", f"{origin.base}/bytes/10"])
    assert p.returncode == 23
    assert b"/nonexistent/dir/file" in p.stderr


def test_url_list_with_one_bad_line_runs_the_others(swproxy, origin, tmp_path):
    lst = tmp_path / "urls"
    lst.write_text(f"{origin.base}/path/one\nhttp://bad/[1-\n{origin.base}/path/three\n")
    p = run([swproxy, "fetch", "--input-file", str(lst)])
    assert p.returncode == 3
    assert p.stdout == b"path /path/one\npath /path/three\n"
    assert b"http://bad/[1-" in p.stderr


def test_unreadable_input_file(swproxy):
    p = run([swproxy, "fetch", "--input-file", "/nonexistent/list"])
    assert p.returncode == 26
    assert b"/nonexistent/list" in p.stderr


def test_verbose_shows_request_and_response_headers(swproxy, origin):
    p = run([swproxy, "fetch", "-v", "-o", "/dev/null", f"{origin.base}/headers"])
    assert p.returncode == 0
    err = p.stderr.decode()
    # curl's format: header lines as sent and received, CRLF included; body data announced, not shown
    assert "> GET /headers HTTP/1.1\r\n" in err
    assert "< HTTP/1.1 200 OK\r\n" in err
    assert "< X-Multi: two\r\n" in err
    assert "* Connected to 127.0.0.1" in err
    assert "{ [13 bytes data]\n" in err


def test_trace_ascii_and_trace_time_in_curls_format(swproxy, origin, tmp_path):
    """The request head's dump is the same as curl's, line for line; every line has curl's shape."""
    dumps = {}
    for tool in ("curl", "swproxy"):
        cmd = ["curl"] if tool == "curl" else [swproxy, "fetch"]
        trace = tmp_path / tool
        p = run(cmd + ["-s", "--trace-ascii", str(trace), "--trace-time", "-A", "x", "-o", "/dev/null",
                       f"{origin.base}/headers"])
        assert p.returncode == 0
        lines = trace.read_text().splitlines()
        assert all(re.match(r"\d\d:\d\d:\d\d\.\d{6} (== Info|=> Send|<= Recv)", l) or re.match(r"[0-9a-f]{4}: ", l)
                   for l in lines), lines
        i = next(i for i, l in enumerate(lines) if "=> Send header" in l)
        block = [lines[i].split(" ", 1)[1]]
        for l in lines[i + 1:]:
            if not re.match(r"[0-9a-f]{4}: ", l):
                break
            block.append(l)
        dumps[tool] = block
    assert dumps["swproxy"] == dumps["curl"]


def test_input_file_from_stdin_and_parallel_flag(swproxy, origin):
    p = run([swproxy, "fetch", "-Z", "--input-file", "-"], input=f"{origin.base}/path/a\n{origin.base}/path/b\n".encode())
    assert p.returncode == 0
    assert p.stdout == b"path /path/a\npath /path/b\n"


def test_retry_after_is_honoured(swproxy, origin):
    origin.counters.clear()
    p = run([swproxy, "fetch", "--retry", "1", f"{origin.base}/flaky/ra/1/1"])
    assert p.returncode == 0
    # As curl does: what the failed attempt wrote to stdout cannot be taken back.
    assert p.stdout == b"try later\nok after 1\n"
    assert b"Will retry in 1 seconds" in p.stderr


def test_arguments_arrive_byte_for_byte(swproxy, origin, tmp_path):
    # The shipped binary hands the Swift runtime its argv from a constructor (Sources/CStart), not from the
    # runtime's own stack walk: spaces, UTF-8, an empty argument and many arguments all arrive as given.
    name = "dür b\u00e9 c.json"
    header = "X-Echo: two  spaces, ü"
    urls = [f"{origin.base}/bytes/{n}" for n in range(1, 201)]
    p = run([swproxy, "fetch", "-s", "-H", header, "-H", "", "-o", str(tmp_path / name), f"{origin.base}/echo",
             "-w", "%{urlnum}\n", "-o", "/dev/null", "-o", "/dev/null"] + urls[:2], timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().split() == ["0", "1", "2"]
    echo = json.loads((tmp_path / name).read_bytes())
    assert [v for k, v in echo["headers"] if k == "X-Echo"] == ["two  spaces, ü".encode().decode("latin-1")]
    p = run([swproxy, "fetch", "-s", "-w", "%{url}\n"] + [a for u in urls for a in ("-o", "/dev/null", u)], timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == urls
