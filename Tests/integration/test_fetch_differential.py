"""Differential tests: the system curl and `swproxy fetch` run with the same arguments against the same
local origin; what the origin saw, what reached stdout, which files were written and the exit status must
match (timings and random multipart boundaries masked)."""

import os
import re
import tempfile

import pytest

from conftest import free_port, run

CONFIG = 'silent\nheader = "X-From-Config: yes"\nwrite-out = "%{http_code}\\n"\n'

# (id, args, files to create first in the working directory)
CASES = [
    ("get", ["{base}/bytes/1000"], {}),
    ("get-two-urls-order", ["{base}/slow/0.3", "{base}/bytes/100", "{base}/status/200"], {}),
    ("include", ["-i", "{base}/headers"], {}),
    ("head", ["-I", "{base}/headers"], {}),
    ("custom-method", ["-X", "DELETE", "{base}/echo"], {}),
    ("headers-add-remove-empty", ["-H", "X-One: 1", "-H", "Accept:", "-H", "X-Empty;", "-H", "X-Two:  two",
                                  "{base}/echo"], {}),
    ("header-file", ["-H", "@hdrs.txt", "{base}/echo"], {"hdrs.txt": "X-A: a\r\nX-B: b\n"}),
    ("data-joined", ["-d", "a=1", "-d", "b=2", "{base}/echo"], {}),
    ("data-file-strips-newlines", ["-d", "@body.txt", "{base}/echo"], {"body.txt": "line1\nline2\r\n"}),
    ("data-binary-file", ["--data-binary", "@body.txt", "{base}/echo"], {"body.txt": "line1\nline2\r\n"}),
    ("data-raw-at", ["--data-raw", "@notafile", "{base}/echo"], {}),
    ("data-urlencode", ["--data-urlencode", "q=a b&c", "--data-urlencode", "=x/y", "--data-urlencode",
                        "plain text", "--data-urlencode", "f@v.txt", "{base}/echo"], {"v.txt": "ü v\n"}),
    ("json", ["--json", '{"a":1}', "{base}/echo"], {}),
    ("get-with-data", ["-G", "-d", "q=1", "-d", "r=two", "{base}/echo?x=0"], {}),
    ("put-method-with-data", ["-X", "PUT", "-d", "payload", "{base}/echo"], {}),
    ("upload-file", ["-T", "up.bin", "{base}/echo"], {"up.bin": "uploaded content\n" * 50}),
    ("form", ["-F", "name=value", "-F", "file=@up.txt;type=text/plain", "-F", "inline=<up.txt",
              "{base}/echo"], {"up.txt": "form file\n"}),
    ("agent-referer-user", ["-A", "agent/1.0", "-e", "http://ref.example/", "-u", "alice:s3cret",
                            "{base}/echo"], {}),
    ("cookie-string", ["-b", "a=b; c=d", "{base}/cookies"], {}),
    ("cookie-jar", ["-c", "jar.txt", "{base}/headers"], {}),
    ("cookie-roundtrip", ["-b", "jar.txt", "-c", "jar.txt", "{base}/cookies"],
     {"jar.txt": "127.0.0.1\tFALSE\t/\tFALSE\t0\tk\tv\n"}),
    ("location", ["-L", "{base}/redirect/3"], {}),
    ("no-location", ["{base}/redirect/3"], {}),
    ("max-redirs", ["-L", "--max-redirs", "1", "{base}/redirect/3"], {}),
    ("output-file", ["-o", "out.bin", "{base}/bytes/5000"], {}),
    ("output-pairs", ["-o", "a.txt", "{base}/bytes/10", "-o", "b.txt", "{base}/bytes/20", "{base}/bytes/30"], {}),
    ("remote-name", ["-O", "{base}/bytes/77"], {}),
    ("remote-name-all", ["--remote-name-all", "{base}/bytes/11", "{base}/bytes/12"], {}),
    ("output-dir", ["--create-dirs", "--output-dir", "sub/dir", "-o", "x.bin", "{base}/bytes/9"], {}),
    ("create-dirs", ["--create-dirs", "-o", "deep/er/file", "{base}/bytes/9"], {}),
    ("create-dirs-per-url", ["--create-dirs", "-o", "g/#1/f.bin", "-o", "g/one", "{base}/bytes/[1-3]", "{base}/bytes/4"], {}),
    ("create-dirs-existing", ["--create-dirs", "-o", "deep/er/file", "{base}/bytes/5"], {"deep/er/old": "x\n"}),
    ("create-dirs-through-a-file", ["--create-dirs", "-o", "plain/file", "{base}/bytes/6"], {"plain": "x\n"}),
    ("no-create-dirs-missing", ["-o", "missing/file", "{base}/bytes/7"], {}),
    ("glob-range-output", ["-o", "g_#1.txt", "{base}/bytes/[1-3]"], {}),
    ("glob-set-two", ["-o", "s_#1_#2", "{base}/{bytes,status}/[200-201]"], {}),
    ("glob-padded", ["{base}/path/[08-10]"], {}),
    ("glob-letters-step", ["{base}/path/[a-e:2]"], {}),
    ("globoff", ["-g", "{base}/path/[1-2]"], {}),
    ("continue-at", ["-C", "-", "-o", "r.bin", "{base}/range"], {"r.bin": None}),
    ("write-out", ["-s", "-o", "/dev/null", "-w",
                   "%{http_code} %{response_code} %{size_download} %{size_upload} %{url} %{url_effective} "
                   "%{num_redirects} %{content_type} %{exitcode} [%{errormsg}] %{method} %{scheme} "
                   "%{http_version} %{num_headers} %{header{content-type}} %header{x-multi} %%\\n",
                   "-L", "{base}/redirect/1"], {}),
    ("write-out-times", ["-s", "-o", "/dev/null", "-w",
                         "%{time_namelookup} %{time_connect} %{time_starttransfer} %{time_total}\\n",
                         "{base}/bytes/10"], {}),
    ("write-out-file", ["-s", "-w", "@fmt.txt", "{base}/bytes/3"], {"fmt.txt": "code=%{http_code}\\n"}),
    ("write-out-stderr-switch", ["-s", "-w", "%{stderr}err%{stdout}out %{http_code}\\n", "{base}/empty"], {}),
    ("fail-404", ["-f", "{base}/status/404"], {}),
    ("no-fail-404", ["{base}/status/404"], {}),
    ("fail-with-body", ["--fail-with-body", "{base}/status/500"], {}),
    ("refused", ["{refused}/x"], {}),
    ("refused-silent-show", ["-sS", "{refused}/x"], {}),
    ("timeout", ["-m", "0.5", "{base}/slow/3"], {}),
    ("malformed-url", ["http://exa mple.com/"], {}),
    # The resolver refuses an empty label itself: exit 6 with no query leaving the machine.
    ("resolve-failure", ["http://a..b/"], {}),
    ("bad-glob", ["{base}/path/[1-"], {}),
    ("empty-body-file", ["-o", "empty.out", "{base}/empty"], {}),
    ("no-content", ["-o", "nc.out", "-w", "%{http_code}\\n", "{base}/nocontent"], {}),
    ("chunked", ["{base}/chunked"], {}),
    ("compressed", ["--compressed", "{base}/gzip"], {}),
    ("not-compressed", ["{base}/gzip"], {}),
    ("proxy", ["-x", "{base}", "http://fake.test/via/proxy"], {}),
    ("noproxy", ["-x", "{refused}", "--noproxy", "127.0.0.1", "{base}/direct"], {}),
    ("http10", ["--http1.0", "{base}/echo"], {}),
    ("http11", ["--http1.1", "{base}/echo"], {}),
    ("short-cluster", ["-sSfo", "cl.out", "-XPOST", "{base}/echo"], {}),
    ("config-file", ["-K", "cfg.txt", "{base}/echo"], {"cfg.txt": CONFIG}),
    ("retry-http", ["--retry", "1", "--retry-delay", "1", "{base}/flaky/{key}/1"], {}),
    ("retry-exhausted", ["-f", "--retry", "1", "--retry-delay", "1", "{base}/flaky/{key}/5"], {}),
    ("retry-connrefused", ["--retry", "1", "--retry-delay", "1", "--retry-connrefused", "{refused}/x"], {}),
    ("drop-mid-body", ["{base}/drop"], {}),
    ("ipv6", ["{base6}/bytes/50"], {}),
    # curl's options that map onto libcurl settings (issue "fetch against curl's own test suite")
    ("digest-offered", ["--digest", "-u", "a:b", "{base}/echo"], {}),
    ("anyauth-last-wins", ["--digest", "--basic", "-u", "a:b", "{base}/echo"], {}),
    ("range", ["-r", "10-19", "{base}/range"], {}),
    ("time-cond-date", ["-z", "Sun, 06 Nov 1994 08:49:37 GMT", "{base}/echo"], {}),
    ("time-cond-unmodified", ["-z", "-Sun, 06 Nov 1994 08:49:37 GMT", "{base}/echo"], {}),
    ("time-cond-bad", ["-z", "not a date nor a file", "{base}/echo"], {}),
    ("resolve", ["--resolve", "fake.test:{port}:127.0.0.1", "http://fake.test:{port}/echo"], {}),
    ("connect-to", ["--connect-to", "fake.test:80:127.0.0.1:{port}", "http://fake.test/echo"], {}),
    ("dump-header-file", ["-D", "hd.txt", "-o", "body.out", "{base}/headers"], {}),
    ("dump-header-stdout", ["-D", "-", "{base}/headers"], {}),
    ("proxy-user-and-header", ["-x", "{base}", "-U", "pu:pp", "--proxy-header", "X-P: 1", "http://fake.test/p"], {}),
    ("proxy10", ["--proxy1.0", "127.0.0.1:{port}", "http://fake.test/p10"], {}),
    ("tr-encoding", ["--tr-encoding", "{base}/echo"], {}),
    ("post301", ["--post301", "-L", "-d", "x", "{base}/redirect/1"], {}),
    ("ipv4-only", ["-4", "{base}/echo"], {}),
    ("limit-rate", ["--limit-rate", "100k", "{base}/bytes/1000"], {}),
    ("request-target", ["--request-target", "/other", "{base}/echo"], {}),
    ("raw", ["--raw", "{base}/chunked"], {}),
    ("max-filesize", ["--max-filesize", "100", "{base}/bytes/1000"], {}),
    ("location-trusted", ["--location-trusted", "-u", "a:b", "{base}/redirect/1"], {}),
    ("oauth2-bearer", ["--oauth2-bearer", "tok", "{base}/echo"], {}),
    ("stderr-to-stdout", ["--stderr", "-", "http://exa mple.com/"], {}),
    ("trace-ascii", ["-A", "x", "--trace-ascii", "tr.txt", "{base}/bytes/5"], {}),
    ("get-head", ["-A", "x", "-G", "-I", "-d", "q=1", "{base}/echo"], {}),
    ("etag-save", ["--etag-save", "e.txt", "{base}/notmodified"], {}),
    ("remove-on-error", ["--remove-on-error", "-o", "r.out", "{base}/drop"], {}),
    ("remove-on-error-ok", ["--remove-on-error", "-o", "r.out", "{base}/bytes/10"], {}),
    ("etag-compare", ["--etag-compare", "e.txt", "{base}/echo"], {"e.txt": '"abc"\n'}),
    ("etag-compare-missing", ["--etag-compare", "none.txt", "{base}/echo"], {}),
    ("etag-compare-and-save", ["--etag-compare", "e.txt", "--etag-save", "e.txt", "{base}/notmodified"],
     {"e.txt": '"x"\n'}),
    # One at a time, so each URL runs on the easy handle the previous one used (as it was, only the URL
    # changed): nothing of a redirect chain, a referer or a failure may carry over.
    ("handle-reuse", ["--parallel-max", "1", "-L", "-e", "http://first.example/;auto", "-u", "a:b", "-H", "X-K: v",
                      "-w", "%{http_code} %{num_redirects} %{url_effective} %{referer} %{size_download} [%{errormsg}]\\n",
                      "{base}/redirect/2", "{base}/status/404", "{base}/redirect/1", "{base}/headers",
                      "{base}/bytes/7", "{refused}/x"], {}),
    ("handle-reuse-auto-referer", ["--parallel-max", "1", "-L", "-e", ";auto", "-w", "%{referer}|%{method}\\n",
                                   "{base}/redirect/1", "{base}/echo", "{base}/redirect/2", "{base}/echo"], {}),
    ("handle-reuse-post", ["--parallel-max", "1", "-L", "-d", "x=1", "-w", "%{method} %{num_redirects}\\n",
                           "{base}/redirect/1", "{base}/echo", "{base}/redirect/2", "{base}/echo"], {}),
]

TIME_RE = re.compile(rb"\b\d+\.\d{6}\b")
BOUNDARY_RE = re.compile(rb"-{2,}[-\w]{20,}")
DATE_RE = re.compile(rb"(?im)^([0-9a-f]{4}: )?date: [^\r\n]*")
TOOL_RE = re.compile(rb"(?m)^(curl|swproxy): ")
AGENT_RE = re.compile(rb"\b(curl|swproxy)/\d+\.\d+\.\d+")
# libcurl's connect errors give the time taken ("Failed to connect to H port P after 1 ms"): 0 or 1 ms by chance.
AFTER_MS_RE = re.compile(rb"\bafter \d+ ms\b")


def normalize_bytes(b):
    b = TIME_RE.sub(b"<time>", b)
    b = BOUNDARY_RE.sub(b"<boundary>", b)
    b = DATE_RE.sub(b"Date: <date>", b)
    b = TOOL_RE.sub(b"<tool>: ", b)
    b = AGENT_RE.sub(b"<agent>", b)
    b = AFTER_MS_RE.sub(b"after <ms> ms", b)
    return b


def normalize_requests(reqs):
    out = []
    for r in reqs:
        headers = []
        for k, v in r.headers:
            if k.lower() == "user-agent" and (v.startswith("curl/") or v.startswith("swproxy/")):
                v = "<default>"
            if k.lower() == "content-type":
                v = BOUNDARY_RE.sub(b"<boundary>", v.encode()).decode()
                v = re.sub(r"boundary=\S+", "boundary=<b>", v)
            headers.append((k, v))
        out.append((r.method, r.target, r.version, tuple(headers), normalize_bytes(r.body)))
    return sorted(out, key=lambda x: (x[1], x[0]))


def snapshot(d):
    files = {}
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, d)] = normalize_bytes(f.read())
    return files


def setup_dir(files):
    d = tempfile.mkdtemp(prefix="swproxy-diff-")
    for name, content in files.items():
        p = os.path.join(d, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            if content is None:
                from origin import payload
                f.write(payload(1000, "range")[:300])  # a partial download to resume
            else:
                f.write(content.encode())
    return d


def expand(args, origin, origin6, key, refused):
    return [a.replace("{base6}", origin6.base).replace("{base}", origin.base).replace("{key}", key)
            .replace("{refused}", refused).replace("{port}", str(origin.port)) for a in args]


@pytest.mark.parametrize("case_id,args,files", CASES, ids=[c[0] for c in CASES])
def test_same_as_curl(case_id, args, files, swproxy, origin, origin6):
    refused = f"http://127.0.0.1:{free_port()}"
    results = {}
    for tool, cmd in (("curl", ["curl"]), ("swproxy", [swproxy, "fetch"])):
        d = setup_dir(files)
        origin.take()
        origin6.take()
        origin.counters.clear()
        argv = cmd + expand(args, origin, origin6, case_id, refused)
        p = run(argv, cwd=d, timeout=60)
        results[tool] = {
            "exit": p.returncode,
            "stdout": normalize_bytes(p.stdout),
            "files": snapshot(d),
            "seen": normalize_requests(origin.take() + origin6.take()),
            "stderr": p.stderr,
        }
    c, s = results["curl"], results["swproxy"]
    assert s["exit"] == c["exit"], f"exit codes differ; swproxy stderr: {s['stderr']!r}"
    assert s["stdout"] == c["stdout"]
    assert s["files"] == c["files"]
    assert s["seen"] == c["seen"]
