#!/usr/bin/env python3
"""Open a warmstart report in headless Chromium and say what a reader would get.

    python3 tests/browser/check_report.py PAGE.html --screenshot OUT.png

Drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: commands on
fd 3, replies on fd 4, NUL-terminated JSON), so it needs nothing but the standard library
and a `chromium` binary (Debian's package; or set CHROMIUM). It prints one JSON object:

- console: every console message of level warning or error, every uncaught exception and
  every browser log entry of level error (a CSP violation is one);
- requests: every URL the page requested other than the page itself and data: URLs — a
  self-contained report has none;
- dom: what the page holds (stage sections with their figure, preview, sweep, instance
  and failure counts; images that decoded; the stage graph's nodes and edges; whether the
  instance filter works);
- screenshot: the PNG's size and how many distinct colours a sample of its pixels has
  (a blank page has one or two).

Exits 2 with a message when Chromium cannot be found or started; the caller asserts on
the JSON.
"""

import argparse
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

DOM_PROBE = r"""
(() => {
  const q = (root, sel) => Array.from(root.querySelectorAll(sel));
  const stages = q(document, 'section.stage').map(s => ({
    name: s.dataset.stage,
    state: s.dataset.state,
    figures: q(s, 'figure.output img').length,
    previews: q(s, '.preview').length,
    sweeps: q(s, 'figure.sweep svg').length,
    instances: q(s, 'table.instances tbody tr').length,
    failed_rows: q(s, 'table.instances tbody tr.failed').length,
    errors: q(s, '.err').map(e => e.textContent),
  }));
  const imgs = q(document, 'figure.output img');
  // The instance filter: type a string no row holds, count visible rows, clear it.
  let filter = null;
  const box = document.querySelector('input.filter');
  if (box) {
    const table = document.getElementById(box.dataset.table);
    const visible = () => q(table, 'tbody tr').filter(r => r.style.display !== 'none').length;
    const before = visible();
    box.value = '\u0000no-such-row\u0000';
    box.dispatchEvent(new Event('input'));
    const hidden = visible();
    box.value = '';
    box.dispatchEvent(new Event('input'));
    filter = {before: before, while_filtering: hidden, after: visible()};
  }
  return {
    title: document.title,
    summary: (document.getElementById('summary') || {}).textContent || null,
    stages: stages,
    figures: imgs.length,
    figures_decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    dag_nodes: q(document, 'svg.dag .node').length,
    dag_edges: q(document, 'svg.dag .edge').length,
    dag_links: q(document, 'svg.dag a').map(a => a.getAttribute('href'))
      .filter(h => h && document.getElementById(h.slice(1))).length,
    filter: filter,
    height: document.documentElement.scrollHeight,
  };
})()
"""


def find_chromium():
    for cand in [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]:
        if cand and shutil.which(cand):
            return shutil.which(cand)
    return None


class Browser:
    """One headless Chromium, spoken to over the pipe."""

    def __init__(self, exe, profile):
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()

        def wire():
            # Move both ends out of the way first: either may already be fd 3 or 4.
            a, b = os.dup(cmd_r), os.dup(res_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--mute-audio",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(res_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.res_r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe (did it crash?)")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method, timeout=60):
        deadline = time.time() + timeout
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._read_message(deadline)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def png_colours(data):
    """(width, height, distinct colours in a sample of pixels) of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    w = h = ctype = None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"unexpected PNG format {depth}/{ctype}"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        if y % 5 == 0:
            for x in range(0, w, 5):
                colours.add(bytes(line[x * bpp:x * bpp + 3]))
        prev = line
    return w, h, len(colours)


def check(page, screenshot):
    exe = find_chromium()
    if not exe:
        sys.exit("error: no Chromium found (tried $CHROMIUM, chromium, chromium-browser, "
                 "google-chrome)\n  help: apt-get install chromium, or set CHROMIUM")
    url = "file://" + os.path.abspath(page)
    with tempfile.TemporaryDirectory() as profile:
        b = Browser(exe, profile)
        try:
            target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            s = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ["Page", "Runtime", "Log", "Network"]:
                b.send(f"{domain}.enable", session=s)
            b.send("Emulation.setDeviceMetricsOverride",
                   {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                   session=s)
            b.send("Page.navigate", {"url": url}, session=s)
            b.wait_for("Page.loadEventFired")
            dom = b.send("Runtime.evaluate",
                         {"expression": DOM_PROBE, "returnByValue": True}, session=s)
            if "exceptionDetails" in dom:
                raise RuntimeError(f"the DOM probe failed: {dom['exceptionDetails']}")
            dom = dom["result"]["value"]
            shot = b.send("Page.captureScreenshot", {"format": "png"}, session=s)
            png = base64.b64decode(shot["data"])
            # Late events (a failing image, a blocked request) arrive after load.
            b.send("Runtime.evaluate", {"expression": "1"}, session=s)
        finally:
            b.close()
    with open(screenshot, "wb") as f:
        f.write(png)
    console, requests = [], []
    for ev in b.events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            console.append(p.get("exceptionDetails", {}).get("text", "exception"))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            console.append(p["entry"].get("text", ""))
        elif m == "Network.requestWillBeSent":
            u = p.get("request", {}).get("url", "")
            if u != url and not u.startswith("data:"):
                requests.append(u)
    w, h, colours = png_colours(png)
    return {"console": console, "requests": requests, "dom": dom,
            "screenshot": {"path": screenshot, "bytes": len(png), "width": w, "height": h,
                           "colours": colours}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page")
    ap.add_argument("--screenshot", required=True)
    args = ap.parse_args()
    print(json.dumps(check(args.page, args.screenshot), indent=1))


if __name__ == "__main__":
    main()
