"""Operating `swproxy serve`: metrics and health, SIGHUP (log reopen and config reload), config files and
their precedence, --print-config."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request

from conftest import free_port, run, wait_port
from conftest_serve import Proxy, raw_exchange, via_entry


def scrape(port, path="/metrics"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(text, name, labels=""):
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def test_metrics_count_known_traffic(swproxy, origin):
    mport = free_port()
    p = Proxy(swproxy, "--metrics-listen", f"127.0.0.1:{mport}", "--connect-port", str(origin.port), "--quiet",
              "--read-timeout", "0.5", "--deny", "127.0.0.2/32")
    try:
        assert wait_port(mport)
        for _ in range(3):
            assert run(["curl", "-s", "-x", p.url, f"{origin.base}/bytes/100"]).returncode == 0
        run(["curl", "-s", "-x", p.url, "-d", "x" * 10, f"{origin.base}/status/404"])
        run(["curl", "-s", "-x", p.url, f"{origin.base}/status/403"])  # the origin's 403 is no policy refusal
        run(["curl", "-s", "-x", p.url, f"http://127.0.0.1:{free_port()}/"])  # refused → 502
        run(["curl", "-s", "-x", p.url, f"{origin.base}/slow/2"])  # → 504
        raw_exchange(p.port, b"GET /origin-form HTTP/1.1\r\nHost: x\r\n\r\n")  # 400, method known
        raw_exchange(p.port, b"GET  http://x/ HTTP/1.1\r\nHost: x\r\n\r\n")  # 400, unparsable
        raw_exchange(p.port, b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n")  # 403 port
        denied = socket.create_connection(("127.0.0.1", p.port), timeout=5, source_address=("127.0.0.2", 0))
        assert denied.recv(4096).startswith(b"HTTP/1.1 403 ")  # a client --deny names: refused before reading
        denied.close()
        # A tunnel that stays open while we scrape.
        t = socket.create_connection(("127.0.0.1", p.port))
        t.sendall(f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert t.recv(4096).startswith(b"HTTP/1.1 200")
        status, text = scrape(mport)
        assert status == 200
        assert metric(text, "swproxy_requests_total", '{method="GET",class="2xx"}') == 3
        assert metric(text, "swproxy_requests_total", '{method="POST",class="4xx"}') == 1
        assert metric(text, "swproxy_requests_total", '{method="GET",class="5xx"}') == 2
        assert metric(text, "swproxy_requests_total", '{method="other",class="4xx"}') == 2
        assert metric(text, "swproxy_requests_total", '{method="GET",class="4xx"}') == 2
        assert metric(text, "swproxy_requests_total", '{method="CONNECT",class="4xx"}') == 1
        assert metric(text, "swproxy_requests_total", '{method="CONNECT",class="2xx"}') == 1
        assert metric(text, "swproxy_tunnels_opened_total") == 1
        assert metric(text, "swproxy_tunnels_active") == 1
        assert metric(text, "swproxy_upstream_errors_total", '{kind="connect"}') == 1
        assert metric(text, "swproxy_upstream_errors_total", '{kind="timeout"}') == 1
        assert metric(text, "swproxy_policy_refusals_total") == 2
        assert metric(text, "swproxy_connections_refused_total") == 1
        assert metric(text, "swproxy_client_bytes_received_total") >= 10
        assert metric(text, "swproxy_client_bytes_sent_total") >= 300
        assert metric(text, "swproxy_connections_accepted_total") == 13  # 12 + the start-up probe
        assert metric(text, "swproxy_connections_active") == 1
        assert metric(text, "swproxy_request_duration_seconds_count") == 12
        assert metric(text, "swproxy_request_duration_seconds_bucket", '{le="+Inf"}') == 12
        loops = [float(v) for v in re.findall(r'^swproxy_loop_requests_total\{loop="\d+"\} (\S+)$', text, re.M)]
        assert len(loops) == 2 and sum(loops) == 12
        t.close()
        assert scrape(mport, "/healthz") == (200, "ok\n")
        assert scrape(mport, "/nope")[0] == 404
    finally:
        p.stop()


def test_healthz_is_503_while_draining(swproxy, origin):
    mport = free_port()
    p = Proxy(swproxy, "--metrics-listen", f"127.0.0.1:{mport}", "--drain-timeout", "5", "--quiet")
    result = {}
    try:
        assert wait_port(mport)
        th = threading.Thread(target=lambda: result.update(r=run(["curl", "-s", "-x", p.url, f"{origin.base}/slow/1.5"])))
        th.start()
        time.sleep(0.3)
        p.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        status, body = scrape(mport, "/healthz")
        assert status == 503 and body == "draining\n"
        th.join()
        assert result["r"].stdout == b"slow done\n"
        assert p.proc.wait(10) == 0
    finally:
        p.stop()


def test_sighup_reopens_the_log_and_keeps_in_flight_requests(swproxy, origin, tmp_path):
    log = tmp_path / "access.log"
    p = Proxy(swproxy, "--access-log", str(log))
    try:
        run(["curl", "-s", "-x", p.url, f"{origin.base}/path/before"])
        result = {}
        th = threading.Thread(target=lambda: result.update(r=run(["curl", "-s", "-x", p.url, f"{origin.base}/slow/1"])))
        th.start()
        time.sleep(0.3)
        os.rename(log, tmp_path / "access.log.1")
        p.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        run(["curl", "-s", "-x", p.url, f"{origin.base}/path/after"])
        th.join()
        assert result["r"].stdout == b"slow done\n"
        old = (tmp_path / "access.log.1").read_text()
        new = log.read_text()
        assert "/path/before" in old and "/path/after" not in old
        assert "/path/after" in new
    finally:
        p.stop()


def test_sighup_reopens_the_log_even_when_the_new_config_is_refused(swproxy, origin, tmp_path):
    log = tmp_path / "access.log"
    conf = tmp_path / "swproxy.conf"
    conf.write_text(f"access-log = {log}\n")
    p = Proxy(swproxy, "--config", str(conf))
    try:
        run(["curl", "-s", "-x", p.url, f"{origin.base}/path/before"])
        os.rename(log, tmp_path / "access.log.1")
        conf.write_text(f"access-log = {log}\nidle-timeout = 0\n")  # parses, but fails validation
        p.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        run(["curl", "-s", "-x", p.url, f"{origin.base}/path/after"])
        time.sleep(0.2)
        assert "/path/after" in log.read_text()
        assert "/path/after" not in (tmp_path / "access.log.1").read_text()
    finally:
        p.stop()
    assert "reload refused" in p.read_log()


def test_sighup_reloads_config_and_rejects_a_broken_one(swproxy, origin, tmp_path):
    conf = tmp_path / "swproxy.conf"
    conf.write_text("quiet\ndeny-host = blocked.test\n")
    p = Proxy(swproxy, "--config", str(conf))
    try:
        def code(url):
            return run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", p.url, url]).stdout

        assert code("http://blocked.test/") == b"403"
        assert code(f"http://localhost:{origin.port}/path/x") == b"200"
        # A new policy: localhost denied too.
        conf.write_text("quiet\ndeny-host = blocked.test\ndeny-host = localhost\n")
        p.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert code(f"http://localhost:{origin.port}/path/x") == b"403"
        # A broken file is reported with FILE:LINE and the last good policy stays.
        conf.write_text("quiet\ndeny-host = blocked.test\nthreads = many\n")
        p.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert code(f"http://localhost:{origin.port}/path/x") == b"403"
        assert code("http://blocked.test/") == b"403"
    finally:
        p.stop()
    log = p.read_log()
    assert "configuration reloaded" in log
    assert re.search(r"reload refused, keeping the old configuration: .*swproxy\.conf:3: ", log), log


def test_config_file_and_command_line_precedence(swproxy, origin, tmp_path):
    conf = tmp_path / "c.conf"
    port_file = free_port()
    conf.write_text(f'# comment\nlisten = "127.0.0.1:{port_file}"\nvia-name = from-file\nquiet\n')
    # The file alone: its listener and via name.
    p = subprocess.Popen([swproxy, "serve", "--config", str(conf)], stderr=subprocess.PIPE)
    try:
        assert wait_port(port_file)
        origin.take()
        run(["curl", "-s", "-x", f"http://127.0.0.1:{port_file}", f"{origin.base}/path/f"])
        assert ("Via", via_entry(name="from-file")) in origin.take()[0].headers
    finally:
        p.terminate()
        p.wait(10)
    # Command line wins, for single and repeatable options.
    p = Proxy(swproxy, "--config", str(conf), "--via-name", "from-cli")
    try:
        origin.take()
        run(["curl", "-s", "-x", p.url, f"{origin.base}/path/c"])
        assert ("Via", via_entry(name="from-cli")) in origin.take()[0].headers
        s = socket.socket()
        assert s.connect_ex(("127.0.0.1", port_file)) != 0, "the file's listener was used despite --listen"
        s.close()
    finally:
        p.stop()
    # --port is a listen: it replaces the file's listen lines too.
    port_cli = free_port()
    p = subprocess.Popen([swproxy, "serve", "--config", str(conf), "--port", str(port_cli)], stderr=subprocess.PIPE)
    try:
        assert wait_port(port_cli)
        s = socket.socket()
        assert s.connect_ex(("127.0.0.1", port_file)) != 0, "the file's listener was used despite --port"
        s.close()
    finally:
        p.terminate()
        p.wait(10)


def test_config_errors_name_file_and_line(swproxy, tmp_path):
    for text, needle in (("quiet\nbogus = 1\n", ":2: unknown option 'bogus'"),
                         ("idle-timeout = soon\n", ":1: "),
                         ('header = "unterminated\n', "unterminated"),
                         ("quiet = loud\n", ":1: option 'quiet' takes no value")):
        f = tmp_path / "bad.conf"
        f.write_text(text)
        r = run([swproxy, "serve", "--config", str(f)], timeout=10)
        assert r.returncode == 2, text
        assert needle.encode() in r.stderr, (text, r.stderr)


def test_print_config_is_a_valid_config(swproxy, tmp_path):
    r = run([swproxy, "serve", "--print-config"])
    assert r.returncode == 0 and b"listen" in r.stdout
    f = tmp_path / "example.conf"
    f.write_bytes(r.stdout)
    port = free_port()
    p = subprocess.Popen([swproxy, "serve", "--config", str(f), "--listen", f"127.0.0.1:{port}", "--quiet"])
    try:
        assert wait_port(port)
    finally:
        p.terminate()
        assert p.wait(10) == 0


def test_fetch_config_file_and_command_line_precedence(swproxy, origin, tmp_path):
    conf = tmp_path / "fetch.conf"
    conf.write_text('write-out = "file %{http_code}\\n"\nheader = "X-From-File: 1"\nsilent\n')
    origin.take()
    r = run([swproxy, "fetch", "-o", "/dev/null", "-w", "cli %{http_code}\n", "-K", str(conf), "-H", "X-From-Cli: 2",
             f"{origin.base}/path/k"])
    assert r.stdout == b"cli 200\n"  # the command line's single-valued option wins, wherever -K stands
    headers = origin.take()[0].headers
    assert ("X-From-File", "1") in headers and ("X-From-Cli", "2") in headers  # repeatable ones add up
    r = run([swproxy, "fetch", "-o", "/dev/null", "-K", str(conf), f"{origin.base}/path/k"])
    assert r.stdout == b"file 200\n"


def test_flags_from_a_config_file_switch_off_with_no_forms(swproxy, origin, tmp_path):
    """curl's --no-NAME: a flag the config file sets is switched off on the command line."""
    conf = tmp_path / "fetch.conf"
    conf.write_text("silent\nlocation\n")
    refused = f"http://127.0.0.1:{free_port()}/x"
    r = run([swproxy, "fetch", "-K", str(conf), refused])
    assert r.returncode == 7 and r.stderr == b""  # silent, from the file
    r = run([swproxy, "fetch", "-K", str(conf), "--no-silent", refused])
    assert r.returncode == 7 and b"swproxy: (7)" in r.stderr
    r = run([swproxy, "fetch", "-K", str(conf), "--no-location", "-w", "%{http_code}", "-o", "/dev/null",
             f"{origin.base}/redirect/1"])
    assert r.stdout == b"302"
    r = run([swproxy, "fetch", "--no-such-flag", refused])
    assert r.returncode == 2 and b"--no-such-flag" in r.stderr
    # serve: the file's quiet, undone on the command line, so the access log is written again.
    sconf = tmp_path / "serve.conf"
    sconf.write_text("quiet\n")
    p = Proxy(swproxy, "--config", str(sconf), "--no-quiet")
    try:
        run(["curl", "-s", "-x", p.url, f"{origin.base}/path/logged"])
    finally:
        p.stop()
    assert '"GET http://127.0.0.1:' in p.read_log() and "/path/logged" in p.read_log()
    p = Proxy(swproxy, "--config", str(sconf))
    try:
        run(["curl", "-s", "-x", p.url, f"{origin.base}/path/quiet"])
    finally:
        p.stop()
    assert "/path/quiet" not in p.read_log()


def test_fetch_config_errors_name_file_and_line(swproxy, tmp_path):
    for text, needle in (("silent\nbogus = 1\n", ":2: unknown option 'bogus'"),
                         ("silent\nmax-time = soon\n", ":2: "),
                         ("parallel-max = many\n", ":1: ")):
        f = tmp_path / "bad.conf"
        f.write_text(text)
        r = run([swproxy, "fetch", "-K", str(f), "http://127.0.0.1:9/"], timeout=10)
        assert r.returncode == 2, text
        assert (str(f) + needle).encode() in r.stderr, (text, r.stderr)


def test_print_config_names_only_real_options(swproxy, tmp_path):
    text = run([swproxy, "serve", "--print-config"]).stdout.decode()
    names = re.findall(r"^# ([a-z][a-z0-9-]+)(?: = |\s*#|$)", text, re.M)
    assert len(names) >= 20, names
    f = tmp_path / "one.conf"
    for name in names:
        f.write_text(f"{name} = 1\n")
        r = run([swproxy, "serve", "--config", str(f), "--print-config"], timeout=10)
        assert b"unknown option" not in r.stderr, (name, r.stderr)


def test_every_option_in_help_is_known_to_config_files(swproxy, tmp_path):
    """The config-file syntax lists (valued and flag names) are kept by hand beside the declarations: every
    long option --help shows must be accepted in a file."""
    f = tmp_path / "one.conf"
    for command, flag in (("serve", "--config"), ("fetch", "-K")):
        help_text = run([swproxy, command, "--help"]).stdout.decode()
        longs = set(re.findall(r"^\s+(?:-\S, )?--([a-z][a-z0-9.-]*[a-z0-9])", help_text, re.M)) - {"help", "version", "config"}
        assert len(longs) > 10
        for name in sorted(longs):
            f.write_text(f"{name} = 1\n")
            tail = ["--print-config"] if command == "serve" else ["--dry-run", "http://127.0.0.1:9/"]
            # In tmp_path: `stderr = 1` and the like name files, which land in the working directory.
            r = run([swproxy, command, flag, str(f)] + tail, timeout=10, cwd=tmp_path)
            assert b"unknown option" not in r.stderr, (command, name, r.stderr)


def test_second_sigint_exits_at_once(swproxy, origin):
    """The first SIGINT drains (a request in flight may take up to --drain-timeout); a second one ends the
    process at once with 130."""
    p = Proxy(swproxy, "--drain-timeout", "30", "--quiet")
    th = threading.Thread(target=lambda: run(["curl", "-s", "-x", p.url, f"{origin.base}/slow/20"], timeout=60))
    th.start()
    try:
        time.sleep(0.3)
        p.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert p.proc.poll() is None, "the first SIGINT should drain, not exit"
        p.proc.send_signal(signal.SIGINT)
        assert p.proc.wait(5) == 130  # well before the 20 s request or the 30 s drain
    finally:
        p.stop()
        th.join()
