"""Headless Chromium driven over the DevTools protocol, for what its command line cannot do: answering a
proxy's 407 with credentials (Fetch.authRequired), as a user typing them into the prompt would."""

import asyncio
import json
import subprocess
import time
import urllib.request

import websockets

from conftest import free_port


def page_text(chromium, proxy, url, profile, username=None, password=None, timeout=60):
    """Loads `url` in headless Chromium through `proxy` (loopback not bypassed, certificate errors ignored)
    and returns the page's text; proxy authentication challenges get `username`/`password`."""
    port = free_port()
    proc = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
                             f"--proxy-server={proxy}", "--proxy-bypass-list=<-loopback>",
                             "--ignore-certificate-errors", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + timeout
        target = None
        while target is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                    target = pages[0]["webSocketDebuggerUrl"] if pages else None
            except OSError:
                pass
            if target is None:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("chromium's DevTools endpoint did not come up")
                time.sleep(0.2)
        return asyncio.run(asyncio.wait_for(_load(target, url, username, password), timeout))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _load(target, url, username, password):
    options = {"max_size": None}
    if _takes_proxy():
        options["proxy"] = None
    async with websockets.connect(target, **options) as ws:
        ids = iter(range(1, 1_000_000))

        async def send(method, **params):
            i = next(ids)
            await ws.send(json.dumps({"id": i, "method": method, "params": params}))
            return i

        await send("Fetch.enable", handleAuthRequests=True, patterns=[{"urlPattern": "*"}])
        await send("Page.enable")
        await send("Page.navigate", url=url)
        evaluate = None
        while True:
            try:
                m = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
            except asyncio.TimeoutError:
                m = {"method": "tick"}  # no event for a second: look at the page anyway
            method = m.get("method")
            if method == "Fetch.requestPaused":
                await send("Fetch.continueRequest", requestId=m["params"]["requestId"])
            elif method == "Fetch.authRequired":
                answer = {"response": "ProvideCredentials", "username": username, "password": password} \
                    if username is not None else {"response": "CancelAuth"}
                await send("Fetch.continueWithAuth", requestId=m["params"]["requestId"], authChallengeResponse=answer)
            elif method in ("Page.loadEventFired", "tick") and evaluate is None:
                evaluate = await send("Runtime.evaluate", expression="document.body ? document.body.innerText : ''",
                                      returnByValue=True)
            elif evaluate is not None and m.get("id") == evaluate:
                text = m.get("result", {}).get("result", {}).get("value", "")
                if text:
                    return text
                evaluate = None  # not loaded yet: ask again on the next event or tick


def _takes_proxy():
    """websockets 15 reads proxies from the environment unless told not to; older ones have no such option."""
    import inspect
    try:
        return "proxy" in inspect.signature(websockets.connect).parameters
    except (TypeError, ValueError):
        return False
