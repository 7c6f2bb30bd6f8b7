"""A tiny threaded SOCKS5 server (RFC 1928) for integration tests: no authentication or username/password
(RFC 1929), the CONNECT command only, IPv4, domain-name and IPv6 address types. It records what every client
asked for, so a test can tell whether the name was resolved by the client (socks5://: an address arrives) or
left to the proxy (socks5h://: the name arrives). Also a TLS front (`TLSFront`) that terminates TLS and relays
the plain bytes to a TCP port, to stand an https:// proxy in front of a plain one."""

import select
import socket
import ssl
import struct
import threading

ATYP_NAMES = {1: "ipv4", 3: "domain", 4: "ipv6"}


def recv_exact(c, n):
    out = b""
    while len(out) < n:
        chunk = c.recv(n - len(out))
        if not chunk:
            raise ConnectionError("peer closed during the SOCKS handshake")
        out += chunk
    return out


def relay(a, b):
    """Copies bytes both ways until both directions ended; half-closes are passed on (plain sockets only)."""
    open_dirs = {a: b, b: a}
    try:
        while open_dirs:
            readable, _, _ = select.select(list(open_dirs), [], [], 30)
            if not readable:
                return
            for src in readable:
                dst = open_dirs[src]
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if data:
                    dst.sendall(data)
                else:
                    del open_dirs[src]
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
    except OSError:
        pass
    finally:
        a.close()
        b.close()


class ThreadedServer:
    """A loopback listener on a free port (`listen()`) that hands each connection to `_handle` on its own
    thread."""

    def listen(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def stop(self):
        self.sock.close()


class Socks5Server(ThreadedServer):
    """`users`: {name: password} to require RFC 1929 authentication; None for no authentication.
    `destinations`: (address type, host, port) per CONNECT request, in arrival order.
    `logins`: (name, password) per authentication attempt."""

    def __init__(self, users=None):
        self.users = users
        self.destinations = []
        self.logins = []
        self.errors = []
        self._lock = threading.Lock()
        self.listen()
        self.url = f"127.0.0.1:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def _handle(self, c):
        c.settimeout(10)
        try:
            ver, n = recv_exact(c, 2)
            if ver != 5:
                raise ConnectionError(f"not SOCKS5: version {ver}")
            methods = recv_exact(c, n)
            wanted = 2 if self.users is not None else 0
            if wanted not in methods:
                c.sendall(b"\x05\xff")
                raise ConnectionError(f"no acceptable method in {list(methods)}")
            c.sendall(bytes([5, wanted]))
            if wanted == 2:
                sub_ver, ulen = recv_exact(c, 2)
                user = recv_exact(c, ulen).decode()
                (plen,) = recv_exact(c, 1)
                password = recv_exact(c, plen).decode()
                with self._lock:
                    self.logins.append((user, password))
                if sub_ver != 1 or self.users.get(user) != password:
                    c.sendall(b"\x01\x01")
                    raise ConnectionError(f"bad credentials {user!r}")
                c.sendall(b"\x01\x00")
            ver, cmd, _, atyp = recv_exact(c, 4)
            if atyp == 1:
                host = socket.inet_ntop(socket.AF_INET, recv_exact(c, 4))
            elif atyp == 3:
                (ln,) = recv_exact(c, 1)
                host = recv_exact(c, ln).decode()
            elif atyp == 4:
                host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
            else:
                c.sendall(b"\x05\x08\x00\x01\x00\x00\x00\x00\x00\x00")
                raise ConnectionError(f"address type {atyp}")
            (port,) = struct.unpack("!H", recv_exact(c, 2))
            with self._lock:
                self.destinations.append((ATYP_NAMES[atyp], host, port))
            if cmd != 1:
                c.sendall(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
                raise ConnectionError(f"command {cmd}")
            if atyp == 3 and host != "localhost":
                # Names other than localhost are never resolved here (tests stay on loopback).
                c.sendall(b"\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00")
                raise ConnectionError(f"refusing to resolve {host!r}")
            try:
                up = socket.create_connection((host, port), timeout=5)
            except OSError:
                c.sendall(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")
                raise
            bound = up.getsockname()
            if up.family == socket.AF_INET6:
                rep = b"\x05\x00\x00\x04" + socket.inet_pton(socket.AF_INET6, bound[0])
            else:
                rep = b"\x05\x00\x00\x01" + socket.inet_pton(socket.AF_INET, bound[0])
            c.sendall(rep + struct.pack("!H", bound[1]))
        except (OSError, ValueError) as e:
            with self._lock:
                self.errors.append(repr(e))
            c.close()
            return
        c.settimeout(None)
        up.settimeout(None)
        relay(c, up)



class TLSFront(ThreadedServer):
    """Terminates TLS on a free loopback port and relays the decrypted bytes to 127.0.0.1:target_port."""

    def __init__(self, target_port, cert, key):
        self.target_port = target_port
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.handshakes = 0
        self.errors = []
        self.ends = []  # per connection, which side ended it first: "tls" (the client) or "plain" (the target)
        self.listen()

    def _handle(self, c):
        try:
            c.settimeout(10)
            t = self.ctx.wrap_socket(c, server_side=True)
            self.handshakes += 1
            up = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            c.close()
            return
        t.settimeout(None)
        up.settimeout(None)
        # One thread, select-driven: an SSL socket is not used from two threads at once. Either side ending
        # ends both (no half-close over TLS here).
        try:
            while True:
                if t.pending():
                    readable = [t]
                else:
                    readable, _, _ = select.select([t, up], [], [], 30)
                    if not readable:
                        break
                done = False
                for src in readable:
                    dst = up if src is t else t
                    try:
                        data = src.recv(65536)
                    except ssl.SSLWantReadError:
                        continue
                    except OSError as e:
                        self.errors.append(repr(e))
                        data = b""
                    if not data:
                        self.ends.append("tls" if src is t else "plain")
                        done = True
                        break
                    dst.sendall(data)
                if done:
                    break
        except OSError as e:
            self.errors.append(repr(e))
        finally:
            t.close()
            up.close()

