"""Generated documentation stays in step with the code: --help output, completion scripts and man pages
are regenerated and compared with the committed files (a stale one fails `make test`; re-record on purpose
with SWPROXY_RECORD=1 for --help, `make man` and `make completions` for the others). Also: the man pages
render without warnings, the shells accept the completion scripts, and `make install` puts everything in
place."""

import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT, run

RECORD = os.environ.get("SWPROXY_RECORD") == "1"
HELP = os.path.join(ROOT, "Tests", "Fixtures", "help")


@pytest.mark.parametrize("name,args", [("swproxy", ["--help"]), ("fetch", ["fetch", "--help"]),
                                       ("serve", ["serve", "--help"])])
def test_help_snapshots(swproxy, name, args):
    out = run([swproxy] + args, env={"COLUMNS": "100"}).stdout
    path = os.path.join(HELP, name + ".txt")
    if RECORD:
        with open(path, "wb") as f:
            f.write(out)
    with open(path, "rb") as f:
        assert out == f.read(), f"--help of {name} changed: re-record with SWPROXY_RECORD=1"


def test_help_has_titled_sections(swproxy):
    serve = run([swproxy, "serve", "--help"]).stdout.decode()
    for title in ("LISTENING", "ACCESS CONTROL", "TIMEOUTS", "LOGGING", "UPSTREAM"):
        assert f"{title}:" in serve.upper(), title
    fetch = run([swproxy, "fetch", "--help"]).stdout.decode()
    for title in ("REQUEST", "OUTPUT", "TRANSFER", "CONNECTION"):
        assert f"{title}:" in fetch.upper(), title


def test_version_names_libcurl_and_features(swproxy):
    out = run([swproxy, "--version"]).stdout.decode()
    assert out.startswith("swproxy ") and "libcurl/" in out
    assert "Features:" in out and "HTTP2" in out and "IPv6" in out


def test_completion_scripts_are_current_and_parse(swproxy, tmp_path):
    for shell, name, check in (("bash", "swproxy.bash", ["bash", "-n"]), ("zsh", "_swproxy", ["zsh", "-n"]),
                               ("fish", "swproxy.fish", ["fish", "-n"])):
        out = run([swproxy, "--generate-completion-script", shell]).stdout
        with open(os.path.join(ROOT, "completions", name), "rb") as f:
            assert out == f.read(), f"completions/{name} is stale: run make completions"
        r = subprocess.run(check + [os.path.join(ROOT, "completions", name)], capture_output=True)
        assert r.returncode == 0, (shell, r.stderr)


def test_man_pages_are_current_and_render_cleanly(tmp_path):
    out = tmp_path / "man"
    r = subprocess.run(["make", "--no-print-directory", "man", f"MAN_OUT={out}"], cwd=ROOT, capture_output=True,
                       timeout=1200)
    assert r.returncode == 0, r.stderr[-2000:]
    for page in ("swproxy.1", "swproxy-fetch.1", "swproxy-serve.1"):
        with open(os.path.join(ROOT, "man", page)) as f:
            committed = f.read()
        assert (out / page).read_text() == committed, f"man/{page} is stale: run make man"
        g = subprocess.run(["groff", "-ww", "-z", "-mandoc", os.path.join(ROOT, "man", page)], capture_output=True)
        assert g.returncode == 0 and g.stderr == b"", (page, g.stderr)
    fetch = (out / "swproxy-fetch.1").read_text()
    for section in ("EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SIGNALS", "SECURITY"):
        assert section in fetch
    serve = (out / "swproxy-serve.1").read_text()
    for section in ("EXIT STATUS", "SIGNALS", "FILES", "EXAMPLES", "SECURITY", "ENVIRONMENT"):
        assert section in serve


def test_make_install_and_uninstall(tmp_path):
    prefix = tmp_path / "prefix"
    r = subprocess.run(["make", "--no-print-directory", "install", f"PREFIX={prefix}"], cwd=ROOT, capture_output=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr[-2000:]
    expected = ["bin/swproxy", "share/man/man1/swproxy.1", "share/man/man1/swproxy-fetch.1",
                "share/man/man1/swproxy-serve.1", "share/bash-completion/completions/swproxy",
                "share/zsh/site-functions/_swproxy", "share/fish/vendor_completions.d/swproxy.fish",
                "share/doc/swproxy/swproxy.service"]
    for rel in expected:
        assert (prefix / rel).is_file(), rel
    v = run([str(prefix / "bin" / "swproxy"), "--version"])
    assert v.returncode == 0 and v.stdout.startswith(b"swproxy ")
    r = subprocess.run(["make", "--no-print-directory", "uninstall", f"PREFIX={prefix}"], cwd=ROOT, capture_output=True)
    assert r.returncode == 0
    for rel in expected:
        assert not (prefix / rel).exists(), rel
