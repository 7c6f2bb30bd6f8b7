#!/usr/bin/env python3
"""Idle keep-alive client connections for bench/serve.sh.

Opens COUNT connections to a proxy (at most --concurrency being set up at once), sends one
absolute-form GET with keep-alive on each, reads the whole response, then holds every connection
open.  After --settle seconds it counts the connections the proxy has not closed, writes a JSON
summary to --ready-file (atomically) and holds on until --release-file exists (or --hold-max
seconds pass), then closes everything and exits.  Every wait is bounded.

    python3 bench/idle_conns.py --port 3128 --target http://127.0.0.1:8080/small --count 10000 \
        --ready-file /tmp/x.ready --release-file /tmp/x.release
"""
import argparse
import asyncio
import collections
import json
import os
import resource
import sys
import time


async def read_response(reader):
    """Read one response; return (status, must_close)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    version, status = parts[0], int(parts[1])
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            fields.setdefault(name.strip().lower(), []).append(value.strip().lower())
    conn = ",".join(fields.get("connection", []) + fields.get("proxy-connection", []))
    must_close = "close" in conn or (version == "HTTP/1.0" and "keep-alive" not in conn)
    te = ",".join(fields.get("transfer-encoding", []))
    if "chunked" in te:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                break
            await reader.readexactly(size + 2)
    elif "content-length" in fields:
        await reader.readexactly(int(fields["content-length"][0]))
    elif status not in (204, 304) and not 100 <= status < 200:
        await reader.read()  # delimited by close
        must_close = True
    return status, must_close


async def main(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    authority = args.target.split("/", 3)[2]
    request = (f"GET {args.target} HTTP/1.1\r\nHost: {authority}\r\n"
               f"Connection: keep-alive\r\nProxy-Connection: keep-alive\r\n"
               f"User-Agent: swproxy-bench-idle\r\n\r\n").encode()
    sem = asyncio.Semaphore(args.concurrency)
    errors = collections.Counter()
    statuses = collections.Counter()
    conns = []
    announced_close = 0

    async def one():
        nonlocal announced_close
        async with sem:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(args.host, args.port), args.timeout)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors["connect " + type(exc).__name__] += 1
                return
            try:
                writer.write(request)
                status, must_close = await asyncio.wait_for(read_response(reader), args.timeout)
            except Exception as exc:  # noqa: BLE001
                errors["response " + type(exc).__name__] += 1
                writer.close()
                return
            statuses[status] += 1
            announced_close += must_close
            conns.append((reader, writer))

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(args.count)))
    open_seconds = time.monotonic() - started
    await asyncio.sleep(args.settle)
    held = sum(1 for r, w in conns if not r.at_eof() and not w.is_closing() and r.exception() is None)
    summary = {
        "requested": args.count,
        "responses": len(conns),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "announced_close": announced_close,
        "held": held,
        "closed_by_proxy": len(conns) - held,
        "errors": dict(errors),
        "open_seconds": round(open_seconds, 3),
    }
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(summary, f)
    os.replace(tmp, args.ready_file)
    print(json.dumps(summary), flush=True)

    deadline = time.monotonic() + args.hold_max
    while time.monotonic() < deadline and not os.path.exists(args.release_file):
        await asyncio.sleep(0.05)
    for _, w in conns:
        w.close()
    await asyncio.sleep(0.2)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--target", required=True, help="absolute URL to GET through the proxy")
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=200, help="connections being set up at once")
    p.add_argument("--timeout", type=float, default=30.0, help="per connect and per response")
    p.add_argument("--settle", type=float, default=1.0, help="seconds before counting held connections")
    p.add_argument("--ready-file", required=True)
    p.add_argument("--release-file", required=True)
    p.add_argument("--hold-max", type=float, default=120.0)
    a = p.parse_args()
    if not a.host.startswith("127."):
        sys.exit("idle_conns.py: loopback only")
    asyncio.run(main(a))
