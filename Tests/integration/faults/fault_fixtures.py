"""Fault-path tests: run by `make test` (and `make asan-test`) on the AddressSanitizer build of swproxy
(`make asan`), so a memory error on a cancel, abort or reset path is a failing report, not a quiet heap
corruption. They also pass on a normal build."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
from conftest_serve import Proxy  # noqa: E402
from chaos_origin import ChaosOrigin, EchoServer, WebSocketEcho  # noqa: E402


def sanitizer_report(text):
    """The sanitizer's report in a process's stderr, or "" (ASan, UBSan, or a Swift runtime crash)."""
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "Fatal error:",
                   "💣 Program crashed"):
        i = text.find(marker)
        if i >= 0:
            return text[max(0, i - 200):i + 6000]
    return ""


class FaultProxy(Proxy):
    backtrace = "enable=no"

    def check(self):
        """Alive, and no sanitizer report so far."""
        log = self.read_log()
        report = sanitizer_report(log)
        assert not report, "sanitizer report from serve:\n" + report
        assert self.proc.poll() is None, f"serve died (exit {self.proc.returncode}):\n{log[-4000:]}"


@pytest.fixture
def fault_proxy(swproxy):
    """Starts `swproxy serve` with extra arguments; at the end checks it is alive with no sanitizer report,
    then stops it."""
    started = []

    def start(*args):
        p = FaultProxy(swproxy, *args)
        started.append(p)
        return p

    yield start
    for p in started:
        try:
            p.check()
        finally:
            p.stop()


@pytest.fixture(scope="module")
def chaos_origin():
    o = ChaosOrigin()
    yield o
    o.stop()


@pytest.fixture(scope="module")
def echo_server():
    o = EchoServer()
    yield o
    o.stop()


@pytest.fixture(scope="module")
def ws_server():
    o = WebSocketEcho()
    yield o
    o.stop()
