"""fetch's two argument readers agree: the direct mapping of normalized tokens to FetchOptions (the fast
path, which keeps swift-argument-parser's reflection out of a one-URL run) and swift-argument-parser itself.
With SWPROXY_CHECK_ARGUMENTS=1 the binary runs both and prints `same`, `differ` (with both option sets) or
`declined` (the fast path left the arguments to swift-argument-parser); it fetches nothing."""

import json
import os
import tempfile

import pytest

from conftest import run
from test_fetch_differential import CASES, CONFIG

BASE = "http://127.0.0.1:9/b"

# Every differential case against curl, plus the spellings scripts use that the table does not cover.
EXTRA = [
    ("bench-batch", ["-s", "--parallel", "--parallel-max", "50", "-o", "/dev/null", BASE + "/[0-999]"]),
    ("bench-one", ["-s", "-o", "/dev/null", BASE + "/0"]),
    ("equals-forms", ["--max-time=2.5", "--connect-timeout=1", "--retry=3", "--output=x", BASE]),
    ("url-option-before-positional", ["--url", BASE + "/1", BASE + "/2", "--url", BASE + "/3"]),
    ("outputs-and-remote-names", ["-O", "-o", "a", "-O", BASE + "/1", BASE + "/2", BASE + "/3"]),
    ("data-family-order", ["--json", "{}", "-d", "a", "--data-raw", "@b", "--data-binary", "c",
                           "--data-urlencode", "d e", "--data-ascii", "f", BASE]),
    ("http-version-precedence", ["--http1.0", "--http2", "--http1.1", BASE]),
    ("prior-knowledge", ["--http2-prior-knowledge", "--http1.0", BASE]),
    ("progress", ["--progress-bar", "--no-progress-meter", "-N", "--stream", BASE]),
    ("beyond-curl", ["--report", "-", "--parallel-max-host", "4", "--rate", "10/s", "--fail-on", "4xx,!404",
                     "--exit-summary", "--skip-existing", "--dry-run", BASE]),
    ("continue-offset", ["-C", "100", "-o", "f", BASE]),
    ("everything-else", ["-k", "--cacert", "ca.pem", "--capath", "/etc/ssl", "-x", "socks5h://127.0.0.1:1",
                         "--noproxy", "*", "-b", "a=b", "-b", "jar", "-c", "out", "-u", "u:p", "-A", "a",
                         "-e", "r;auto", "-G", "-I", "--compressed", "-g", "--retry-all-errors",
                         "--retry-connrefused", "--retry-max-time", "9", "--retry-delay", "0.25", "-L",
                         "--max-redirs", "3", "-i", "-v", "-S", "-f", "--fail-with-body", "--create-dirs",
                         "--output-dir", "d", "--remote-name-all", "-w", "%{json}", "-T", "up", "-F", "a=b",
                         "--input-file", "list", BASE]),
    ("after-double-dash", ["-s", "--", BASE, "-not-an-option"]),
    ("no-urls", ["-s"]),
]

# Where the fast path must step aside: swift-argument-parser judges these (and words the errors).
DECLINED = [
    ("unknown-option", ["--no-such-option", BASE]),
    ("bad-integer", ["--parallel-max", "many", BASE]),
    ("negative-looking-value", ["--max-redirs", "-1", BASE]),
    ("bad-double", ["-m", "soon", BASE]),
    ("bad-continue-at", ["-C", "x", BASE]),
    ("bad-fail-on", ["--fail-on", "6xx", BASE]),
    ("bad-rate", ["--rate", "1/week", BASE]),
    ("single-option-twice", ["-X", "GET", "-X", "POST", BASE]),
    ("flag-twice", ["-s", "--silent", BASE]),
    ("dash-positional", ["-s", "-", BASE]),
]


def check(swproxy, args, cwd):
    env = dict(os.environ, SWPROXY_CHECK_ARGUMENTS="1")
    r = run([swproxy, "fetch"] + args, cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


# curl options the fast path leaves to swift-argument-parser (the less common ones: the fast path is for
# the start-up time of everyday command lines); a case using one must be declined, and the differential
# test against curl covers what swift-argument-parser makes of it.
FULL_PARSER_ONLY = {"--digest", "--basic", "--ntlm", "--negotiate", "--anyauth", "-U", "--proxy-header",
                    "--proxy1.0", "-r", "-z", "--resolve", "--connect-to", "-D", "--tr-encoding", "--post301",
                    "-4", "--limit-rate", "--request-target", "--raw", "--max-filesize", "--location-trusted",
                    "--oauth2-bearer", "--stderr", "--trace-ascii", "--trace", "--trace-time", "--etag-save",
                    "--etag-compare", "--remove-on-error"}


def table():
    out = []
    for case_id, args, files in CASES:
        args = [a.replace("{base6}", BASE).replace("{base}", BASE).replace("{key}", case_id)
                .replace("{refused}", BASE).replace("{port}", "9") for a in args]
        out.append((case_id, args, files))
    return out + [(i, a, {}) for i, a in EXTRA]


@pytest.mark.parametrize("case_id,args,files", table(), ids=[c[0] for c in table()])
def test_fast_path_agrees_with_argument_parser(case_id, args, files, swproxy):
    with tempfile.TemporaryDirectory() as d:
        for name, content in files.items():
            os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
            with open(os.path.join(d, name), "w") as f:
                f.write(content if content is not None else "")
        out = check(swproxy, args, d)
    # Every case of the table is one the fast path takes, and takes exactly as swift-argument-parser does,
    # or one it leaves to swift-argument-parser.
    assert out == ("declined\n" if FULL_PARSER_ONLY & set(args) else "same\n"), out


@pytest.mark.parametrize("case_id,args", DECLINED, ids=[c[0] for c in DECLINED])
def test_fast_path_declines_what_it_should_not_judge(case_id, args, swproxy):
    assert check(swproxy, args, None) == "declined\n"


def test_declined_arguments_still_work_through_argument_parser(swproxy, origin):
    # -X given twice: the last one wins, as in curl and in swift-argument-parser.
    r = run([swproxy, "fetch", "-s", "-X", "GET", "-X", "PUT", origin.base + "/echo"])
    assert r.returncode == 0
    assert json.loads(r.stdout)["method"] == "PUT"
    # An unknown option is still a usage error naming it.
    r = run([swproxy, "fetch", "--no-such-option", origin.base + "/echo"])
    assert r.returncode == 2
    assert b"--no-such-option" in r.stderr


def test_config_file_entries_take_the_fast_path(swproxy):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "cfg.txt"), "w") as f:
            f.write(CONFIG)
        assert check(swproxy, ["-K", "cfg.txt", BASE], d) == "same\n"
