"""`swproxy fetch` keeps what curl's one-after-another order gives scripts while running URLs at once:
`--next` steps run in order with options of their own; cookies flow from earlier URLs to later ones; the
first URL to a host runs alone so the others reuse its connection; requests that change things, stateful
authentication and writers of one file keep their order; `--fail-early` stops at the first failure.
Every check here is on order, counts and bytes, never on timings."""

import os
import shutil
import subprocess

from conftest import free_port, run


def resolve(name, origin):
    return ["--resolve", f"{name}:{origin.port}:127.0.0.1"]


def base(name, origin):
    return f"http://{name}:{origin.port}"


def test_cookies_flow_from_a_login_to_the_pages_behind_it(swproxy, origin):
    # The cookie engine on (-b with no cookies yet), one command: the first response sets the session,
    # the later URLs send it (as curl's serial order does), whatever the concurrency.
    origin.take()
    u = base("cookies.test", origin)
    r = run([swproxy, "fetch", "-s", "-b", "", *resolve("cookies.test", origin),
             f"{u}/headers", f"{u}/cookies", f"{u}/cookies", f"{u}/cookies"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "with headers"
    for line in lines[1:]:
        assert sorted(line.split("; ")) == ["session=abc123", "theme=dark"], lines
    assert [x.target for x in origin.take()] == ["/headers", "/cookies", "/cookies", "/cookies"]


def test_cookie_strings_are_joined_as_curl_does(swproxy, origin):
    r = run([swproxy, "fetch", "-s", "-b", "a=1;b=2", "-b", "c=3", f"{origin.base}/cookies"])
    assert r.stdout == b"a=1;b=2;c=3\n"


def test_the_first_url_to_a_host_runs_alone_and_the_next_reuses_its_connection(swproxy, origin):
    origin.take()
    u = base("reuse.test", origin)
    r = run([swproxy, "fetch", "-s", "-o", "/dev/null", "-o", "/dev/null", *resolve("reuse.test", origin),
             f"{u}/bytes/10", f"{u}/bytes/20"])
    assert r.returncode == 0
    got = origin.take()
    assert [x.target for x in got] == ["/bytes/10", "/bytes/20"]
    assert got[0].peer == got[1].peer  # one connection, as curl


def test_next_steps_run_in_order_with_their_own_options(swproxy, origin):
    origin.take()
    r = run([swproxy, "fetch", "-s", "-d", "name=one", "-H", "X-Step: 1", f"{origin.base}/echo",
             "--next", "-X", "PUT", "-d", "two", f"{origin.base}/echo",
             "--next", f"{origin.base}/echo", f"{origin.base}/bytes/5"])
    assert r.returncode == 0, r.stderr
    got = origin.take()
    assert [(x.method, x.target) for x in got[:3]] == [("POST", "/echo"), ("PUT", "/echo"), ("GET", "/echo")]
    assert {x.target for x in got[2:]} == {"/echo", "/bytes/5"}
    assert got[0].body == b"name=one" and ("X-Step", "1") in got[0].headers
    assert got[1].body == b"two" and all(k != "X-Step" for k, _ in got[1].headers)
    assert got[2].body == b"" and all(k != "X-Step" for k, _ in got[2].headers)


def test_global_options_hold_for_every_step(swproxy, origin):
    # -s given in the second step silences the first step's failure too, as in curl.
    refused = f"http://127.0.0.1:{free_port()}/"
    r = run([swproxy, "fetch", refused, "--next", "-s", f"{origin.base}/bytes/3"])
    assert r.returncode == 7 and r.stderr == b""


def test_requests_with_a_body_keep_their_order_on_a_host(swproxy, origin, tmp_path):
    origin.take()
    files = []
    for i in range(6):
        f = tmp_path / f"up{i}"
        f.write_bytes(b"%d" % i)
        files.append(str(f))
    r = run([swproxy, "fetch", "-s", "-T", "{" + ",".join(files) + "}", f"{origin.base}/put/"])
    assert r.returncode == 0, r.stderr
    got = origin.take()
    assert [x.target for x in got] == [f"/put/up{i}" for i in range(6)]
    assert [x.body for x in got] == [b"%d" % i for i in range(6)]


def test_writers_of_one_file_run_one_after_another(swproxy, origin, tmp_path):
    out = tmp_path / "one"
    origin.take()
    r = run([swproxy, "fetch", "-s", "-o", str(out), f"{origin.base}/bytes/[1000-1010]"])
    assert r.returncode == 0
    assert [x.target for x in origin.take()] == [f"/bytes/{n}" for n in range(1000, 1011)]
    assert len(out.read_bytes()) == 1010  # the last body, whole, never interleaved


def test_fail_early_stops_at_the_first_failure(swproxy, origin):
    origin.take()
    refused = f"http://127.0.0.1:{free_port()}/"
    r = run([swproxy, "fetch", "-s", "--fail-early", "--parallel-max", "1", refused,
             f"{origin.base}/bytes/1", f"{origin.base}/bytes/2"])
    assert r.returncode == 7
    assert origin.take() == []
    # Without it every URL runs.
    r = run([swproxy, "fetch", "-s", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "--parallel-max",
             "1", refused, f"{origin.base}/bytes/1", f"{origin.base}/bytes/2"])
    assert r.returncode == 7 and len(origin.take()) == 2


def test_no_clobber_writes_numbered_files(swproxy, origin, tmp_path):
    (tmp_path / "f").write_bytes(b"keep")
    (tmp_path / "f.1").write_bytes(b"keep too")
    r = run([swproxy, "fetch", "-s", "--no-clobber", "-o", str(tmp_path / "f"), "-w", "%{filename_effective}",
             f"{origin.base}/bytes/7"])
    assert r.returncode == 0 and r.stdout.decode() == str(tmp_path / "f.2")
    assert (tmp_path / "f").read_bytes() == b"keep" and (tmp_path / "f.1").read_bytes() == b"keep too"
    assert len((tmp_path / "f.2").read_bytes()) == 7


def test_remote_header_name_never_overwrites(swproxy, origin, tmp_path):
    # /disposition/NAME answers with Content-Disposition: attachment; filename="NAME"
    r = run([swproxy, "fetch", "-s", "-O", "-J", f"{origin.base}/disposition/..%2Fescape.txt"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "escape.txt").read_bytes() == b"disposed\n"  # the directory part dropped
    r = run([swproxy, "fetch", "-s", "-O", "-J", f"{origin.base}/disposition/escape.txt"], cwd=tmp_path)
    assert r.returncode == 23  # exists: refused, as curl
    assert (tmp_path / "escape.txt").read_bytes() == b"disposed\n"


def test_libcurl_source_compiles_and_does_the_transfer(swproxy, origin, tmp_path):
    src = tmp_path / "t.c"
    r = run([swproxy, "fetch", "-s", "--libcurl", str(src), "-d", "a=\"1\"?", "-H", "X-A: b",
             "-u", "u:p", "--anyauth", f"{origin.base}/echo"])
    assert r.returncode == 0
    text = src.read_text()
    assert 'CURLOPT_POSTFIELDS, "a=\\"1\\"\\?"' in text and "CURLAUTH_ANY" in text
    exe = tmp_path / "t"
    compiler = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
    assert compiler, "no C compiler to build the --libcurl source with"
    subprocess.run([compiler, "-o", str(exe), str(src), "-lcurl"], check=True)
    origin.take()
    out = subprocess.run([str(exe)], capture_output=True, timeout=30)
    assert out.returncode == 0
    got = origin.take()
    assert got[-1].method == "POST" and got[-1].body == b'a="1"?' and ("X-A", "b") in got[-1].headers


def test_form_syntax_as_curl(swproxy, origin, tmp_path):
    f = tmp_path / 'we,ird;name".txt'
    f.write_bytes(b"file body")
    quoted = str(f).replace("\\", "\\\\").replace('"', '\\"')
    r = run([swproxy, "fetch", "-s", "-F", "a=1;type=text/x-a;charset=q", "--form-string", "b=@not-a-file",
             "-F", f'c=@"{quoted}";filename="shown.txt"', f"{origin.base}/echo"])
    assert r.returncode == 0, r.stderr
    body = origin.take()[-1].body
    assert b'name="a"\r\nContent-Type: text/x-a;charset=q\r\n\r\n1\r\n' in body
    assert b'name="b"\r\n\r\n@not-a-file\r\n' in body
    assert b'name="c"; filename="shown.txt"' in body and b"file body" in body
