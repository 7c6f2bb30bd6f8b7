"""`swproxy serve`: webSocket (Upgrade) relay. Everything stays on loopback (split out of the former
test_beyond.py; shared helpers in conftest_serve.py, the `start` and `cert` fixtures in conftest.py)."""

import os
import re
import socket
import struct
import threading

import pytest

from conftest_serve import Response, log_has, raw_exchange_closed, read_response



class EchoWS:
    """A websockets echo server in a thread. /bye closes after one message (close handshake), /drop closes
    the TCP connection after one message without a close frame, any other path echoes every message. Tests
    add a unique query (`?c=N`) to tell their connections from earlier ones."""

    def __init__(self):
        from websockets.sync.server import serve
        self.cond = threading.Condition()
        self.requests = {}  # path with query → [(name, value)...] as received
        self.ended = set()  # paths whose handler returned (the server's side of the connection ended)
        self.server = serve(self._handler, "127.0.0.1", 0, max_size=None, ping_interval=None, compression=None,
                            process_request=self._record)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _record(self, connection, request):
        with self.cond:
            self.requests[request.path] = list(request.headers.raw_items())
            self.cond.notify_all()
        return None

    def _handler(self, ws):
        from websockets.exceptions import ConnectionClosed
        path = ws.request.path
        try:
            if path.startswith("/bye"):
                ws.recv()
                ws.close(1000, "bye")
            elif path.startswith("/drop"):
                ws.recv()
                ws.socket.shutdown(socket.SHUT_RDWR)
            else:
                for msg in ws:
                    ws.send(msg)
        except ConnectionClosed:
            pass
        finally:
            with self.cond:
                self.ended.add(path)
                self.cond.notify_all()

    def request_headers(self, path, timeout=5.0):
        with self.cond:
            assert self.cond.wait_for(lambda: path in self.requests, timeout), f"{path} never reached the server"
            return self.requests[path]

    def wait_ended(self, path, timeout=10.0):
        with self.cond:
            return self.cond.wait_for(lambda: path in self.ended, timeout)

    def stop(self):
        self.server.shutdown()


_ws_ids = iter(range(1, 1 << 30))


def ws_path(base):
    return f"{base}?c={next(_ws_ids)}"


@pytest.fixture(scope="module")
def ws_echo():
    try:
        import websockets  # noqa: F401
    except ImportError:
        pytest.fail("the websockets package is not installed (make deps installs it)")
    s = EchoWS()
    yield s
    s.stop()


def ws_handshake_bytes(port, path):
    """websockets' own client handshake request, with its request line rewritten to absolute-form."""
    from websockets.client import ClientProtocol
    from websockets.uri import parse_uri
    proto = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}{path}"), max_size=None)
    proto.send_request(proto.connect())
    raw = b"".join(proto.data_to_send())
    line, rest = raw.split(b"\r\n", 1)
    assert line == f"GET {path} HTTP/1.1".encode()
    return proto, f"GET http://127.0.0.1:{port}{path} HTTP/1.1\r\n".encode() + rest


class WSClient:
    """websockets' sans-I/O client protocol driven over a plain TCP socket to the proxy."""

    def __init__(self, proxy_port, ws_port, path="/ws", origin_form_host=None):
        """Absolute-form handshake to 127.0.0.1:ws_port, or with origin_form_host the unchanged origin-form
        request websockets writes for ws://origin_form_host/path (reverse mode)."""
        from websockets.protocol import State
        if origin_form_host:
            from websockets.client import ClientProtocol
            from websockets.uri import parse_uri
            self.proto = ClientProtocol(parse_uri(f"ws://{origin_form_host}{path}"), max_size=None)
            self.proto.send_request(self.proto.connect())
            handshake = b"".join(self.proto.data_to_send())
        else:
            self.proto, handshake = ws_handshake_bytes(ws_port, path)
        self.sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=15)
        self.sock.sendall(handshake)
        self.events = []
        self.eof = False
        while self.proto.state == State.CONNECTING and not self.eof:
            self._pump()
        self.response = self.events.pop(0) if self.events else None
        assert self.proto.state == State.OPEN, (self.proto.handshake_exc, self.response)

    def _pump(self):
        data = self.sock.recv(1 << 20)
        if data:
            self.proto.receive_data(data)
        else:
            self.eof = True
            self.proto.receive_eof()
        self.events += self.proto.events_received()
        self.flush()

    def flush(self):
        for chunk in self.proto.data_to_send():
            if chunk:
                self.sock.sendall(chunk)

    def send(self, message):
        if isinstance(message, str):
            self.proto.send_text(message.encode())
        else:
            self.proto.send_binary(message)
        self.flush()

    def next_frame(self):
        while not self.events:
            if self.eof:
                return None
            self._pump()
        return self.events.pop(0)

    def recv_message(self):
        from websockets.frames import Opcode
        parts, kind = [], None
        while True:
            f = self.next_frame()
            assert f is not None, "EOF before a whole message"
            if f.opcode in (Opcode.PING, Opcode.PONG):
                continue
            assert f.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT), f
            kind = kind or f.opcode
            parts.append(f.data)
            if f.fin:
                data = b"".join(parts)
                return data.decode() if kind == Opcode.TEXT else data

    def read_to_eof(self, timeout=10.0):
        """Frames until the proxy closes the TCP connection; returns them (raises if it never closes)."""
        self.sock.settimeout(timeout)
        frames = []
        while not self.eof:
            self._pump()
            frames += self.events
            self.events = []
        return frames

    def close(self):
        self.sock.close()


def test_websocket_relay_text_and_10mb_binary(start, ws_echo):
    p = start()
    path = ws_path("/ws")
    c = WSClient(p.port, ws_echo.port, path)
    try:
        assert c.response.status_code == 101
        c.send("hello through the proxy")
        assert c.recv_message() == "hello through the proxy"
        big = os.urandom(10 << 20)
        c.send(big)
        got = c.recv_message()
        assert len(got) == len(big) and got == big
        c.send("still open")
        assert c.recv_message() == "still open"
    finally:
        c.close()
    lower = {k.lower(): v for k, v in ws_echo.request_headers(path)}
    assert lower["upgrade"].lower() == "websocket" and "upgrade" in lower["connection"].lower()
    assert log_has(p, rf'"GET http://127\.0\.0\.1:{ws_echo.port}{re.escape(path)} HTTP/1\.1" 101 ')


@pytest.mark.parametrize("graceful", [True, False], ids=["close-frame", "tcp-only"])
def test_websocket_client_close_ends_server_side(start, ws_echo, graceful):
    from websockets.frames import Opcode
    p = start()
    path = ws_path("/ws")
    c = WSClient(p.port, ws_echo.port, path)
    c.send("ping?")
    assert c.recv_message() == "ping?"
    if graceful:
        c.proto.send_close(1000, "done")
        c.flush()
        f = c.next_frame()
        assert f is not None and f.opcode == Opcode.CLOSE, f
    c.close()  # TCP close
    assert ws_echo.wait_ended(path), "the server's side of the relayed connection did not end"


@pytest.mark.parametrize("base", ["/bye", "/drop"])
def test_websocket_server_close_reaches_client_as_eof(start, ws_echo, base):
    from websockets.frames import Opcode
    p = start()
    c = WSClient(p.port, ws_echo.port, ws_path(base))
    try:
        c.send("last words")
        frames = c.read_to_eof()  # raises socket.timeout if the proxy keeps the client connection open
        assert c.eof
        if base == "/bye":
            closes = [f for f in frames if f.opcode == Opcode.CLOSE]
            assert closes and closes[0].data[:2] == struct.pack("!H", 1000), frames
    finally:
        c.close()


def test_no_upgrade_strips_upgrade_and_relays_origin_status(start, ws_echo):
    p = start("--no-upgrade")
    path = ws_path("/ws")
    _, handshake = ws_handshake_bytes(ws_echo.port, path)
    s = socket.create_connection(("127.0.0.1", p.port), timeout=10)
    try:
        s.sendall(handshake)
        r = read_response(s)
    finally:
        s.close()
    # websockets answers a request without Upgrade with 426 Upgrade Required; the proxy passes it on.
    assert r.status == 426, r
    headers = ws_echo.request_headers(path)
    lower = {k.lower(): v for k, v in headers}
    assert "upgrade" not in lower, headers
    assert "upgrade" not in lower.get("connection", "").lower(), headers
    assert "sec-websocket-key" in lower  # end-to-end fields still go


def test_websocket_in_reverse_mode(start, ws_echo):
    """Origin-form WebSocket handshakes are relayed to the --reverse backend as well."""
    p = start("--reverse", f"http://127.0.0.1:{ws_echo.port}")
    path = ws_path("/ws")
    c = WSClient(p.port, ws_echo.port, path, origin_form_host="front.example")  # GET /ws?c=N, Host: front.example
    try:
        assert c.response.status_code == 101
        c.send(b"\x00binary\xff" * 1000)
        assert c.recv_message() == b"\x00binary\xff" * 1000
    finally:
        c.close()
    lower = {k.lower(): v for k, v in ws_echo.request_headers(path)}
    assert lower["host"] == f"127.0.0.1:{ws_echo.port}" and lower["x-forwarded-host"] == "front.example"


def test_upgrade_to_plain_origin_gets_200_then_close(start, origin):
    p = start()
    origin.take()
    _, handshake = ws_handshake_bytes(origin.port, "/path/up")
    out, closed = raw_exchange_closed(p.port, handshake, timeout=10)
    r = Response(out)
    assert r.status == 200 and r.body == b"path /path/up\n", r
    assert closed, "the proxy kept the connection open after a non-101 answer to an Upgrade request"
    assert len(out) == len(r.head) + 4 + len(r.body)  # nothing relayed after the response
    seen = origin.take()
    assert [x.target for x in seen] == ["/path/up"]
    assert ("Upgrade", "websocket") in seen[0].headers
