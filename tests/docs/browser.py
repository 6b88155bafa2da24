#!/usr/bin/env python3
"""browser.py - /api/docs/ in a real browser: Debian's headless Chromium
loads the page from the test stack, and this script checks what a user
would see and do there.

  - Swagger UI renders: several operations' summaries from /api/schema/
    are on the page, and no script or style was refused by the page's
    Content-Security-Policy (nothing is fetched from another origin);
  - "Try it out" of GET /api/health/, then "Execute", shows a 200;
  - "Authorize" takes a bearer token (from POST /api/auth/token/) and
    "Try it out" of GET /api/auth/me/ then shows a 200 with the user;
  - a screenshot of the page is saved as $HMS_TEST_STATE/docs-page.png.

Chromium is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4), so only the
standard library is needed. Environment: HMS_TEST_BASE_URL, HMS_TEST_CA,
HMS_TEST_STATE, HMS_ADMIN_PASSWORD (as tests/run.sh exports them).

Prints one line per check and a Criterion-style synthesis line that
tests/run.sh counts; exits non-zero if any check fails.
"""
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

NAME = "docs_browser"
BASE = os.environ["HMS_TEST_BASE_URL"].rstrip("/")
STATE = os.environ["HMS_TEST_STATE"]
passed = 0
failed = 0


def ok(msg):
    global passed
    passed += 1
    print(f"{NAME}: ok - {msg}", flush=True)


def fail(msg):
    global failed
    failed += 1
    print(f"{NAME}: FAIL - {msg}", flush=True)


def check(cond, msg, detail=""):
    (ok if cond else fail)(msg if cond or not detail else f"{msg}: {detail}")
    return cond


def finish():
    print(f"[====] Synthesis: Tested: {passed + failed} | Passing: {passed} | "
          f"Failing: {failed} | Crashing: 0", flush=True)
    sys.exit(1 if failed else 0)


def api(method, path, body=None):
    ctx = ssl.create_default_context(cafile=os.environ["HMS_TEST_CA"])
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as res:
        return json.load(res)


class Browser:
    """Headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, exe, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():  # the child's fd 3 reads commands, fd 4 writes answers
            # Through fresh copies: a pipe end may itself be fd 3 or 4, and
            # dup2 onto itself would leave it close-on-exec.
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        args = [exe, "--headless=new", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", "--no-first-run",
                "--no-default-browser-check", "--disable-gpu",
                "--disable-dev-shm-usage", "--disable-extensions",
                "--disable-background-networking", "--disable-sync",
                "--window-size=1280,1600",
                # The stack's certificate is self-signed for localhost.
                "--ignore-certificate-errors", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses root
        # close_fds=False: the fds made by dup2 must survive exec (the
        # pipes from os.pipe() are not inheritable, so nothing else leaks).
        self.proc = subprocess.Popen(args, preexec_fn=fds, close_fds=False,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(profile, "chromium.log"), "wb"))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.session = None
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            import select
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            r, _, _ = select.select([self.from_chrome], [], [], left)
            if r:
                chunk = os.read(self.from_chrome, 1 << 16)
                if not chunk:
                    raise EOFError("Chromium closed the DevTools pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, timeout=30, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def open_page(self):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send("Target.attachToTarget",
                             {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def js(self, expression):
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"script failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression, timeout=30):
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.2)
        return value

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# Helpers run in the page. Swagger UI is React: a value typed into an input
# must go through the native setter and an input event to reach its state.
PAGE_HELPERS = r"""
window.hmsOp = function (id) { return document.getElementById(id); };
window.hmsClick = function (root, selector) {
  var el = (root || document).querySelector(selector);
  if (!el) return false;
  el.click();
  return true;
};
window.hmsType = function (selector, value) {
  var el = document.querySelector(selector);
  if (!el) return false;
  var set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  set.call(el, value);
  el.dispatchEvent(new Event('input', { bubbles: true }));
  return true;
};
window.hmsStatus = function (id) {
  var op = document.getElementById(id);
  var cell = op && op.querySelector('.live-responses-table tr.response .response-col_status');
  return cell ? cell.textContent.trim() : '';
};
window.hmsBody = function (id) {
  var op = document.getElementById(id);
  var pre = op && op.querySelector('.live-responses-table tr.response .response-col_description pre');
  return pre ? pre.textContent : '';
};
true;
"""


def block_id(op):
    """The element id Swagger UI gives an operation's block."""
    return f"operations-{op['tags'][0]}-{op['operationId']}"


def try_it_out(browser, op_id):
    """Expand the operation, press "Try it out" and "Execute"; the status shown."""
    q = json.dumps(op_id)
    browser.js(f"hmsClick(hmsOp({q}), '.opblock-summary-control') || "
               f"hmsClick(hmsOp({q}), '.opblock-summary')")
    if not browser.wait_for(f"!!(hmsOp({q}) && hmsOp({q}).querySelector('.try-out__btn'))", 10):
        return "no Try it out button"
    browser.js(f"hmsClick(hmsOp({q}), '.try-out__btn')")
    if not browser.wait_for(f"!!hmsOp({q}).querySelector('.btn.execute')", 10):
        return "no Execute button"
    browser.js(f"hmsClick(hmsOp({q}), '.btn.execute')")
    return browser.wait_for(f"hmsStatus({q})", 20) or "no response shown"


def main():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        fail("chromium is not installed (deploy/install-deps.sh installs Debian's chromium)")
        finish()
    ctx = ssl.create_default_context(cafile=os.environ["HMS_TEST_CA"])
    with urllib.request.urlopen(BASE + "/api/docs/", context=ctx, timeout=30) as res:
        if "is not installed on this server" in res.read().decode():
            fail("/api/docs/ says Swagger UI is not installed: deploy/install-npm.sh could not "
                 "install the npm packages (see its message; make deps runs it)")
            finish()
    doc = api("GET", "/api/schema/")
    ops = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                ops[(method.upper(), path)] = op

    profile = tempfile.mkdtemp(prefix="hms-chromium-", dir=STATE)
    browser = Browser(exe, profile)
    try:
        browser.open_page()
        browser.send("Page.navigate", {"url": BASE + "/api/docs/"})
        n = browser.wait_for("document.querySelectorAll('.opblock').length", 30) or 0
        browser.js(PAGE_HELPERS)
        check(n == len(ops), "Swagger UI renders one block per operation of /api/schema/",
              f"{n} blocks for {len(ops)} operations")

        shown = set(browser.js(
            "Array.from(document.querySelectorAll('.opblock-summary-description'))"
            ".map(function (e) { return e.textContent.trim(); })") or [])
        for key in [("GET", "/api/health/"), ("POST", "/api/auth/token/"),
                    ("GET", "/api/patients/"), ("POST", "/api/appointments/"),
                    ("GET", "/api/invoices/{id}/")]:
            summary = ops[key]["summary"]
            check(summary in shown, f"the summary of {key[0]} {key[1]} is shown",
                  f"{summary!r} not among {len(shown)} summaries")

        check(browser.js("!!document.querySelector('.btn.authorize')"),
              "the page has an Authorize button (the document's bearer scheme)")

        status = try_it_out(browser, block_id(ops[("GET", "/api/health/")]))
        check(status == "200", "Try it out of GET /api/health/ shows 200", f"shows {status!r}")

        # Log in as the test admin, as a user would with POST /api/auth/token/,
        # and give the access token to "Authorize".
        token = api("POST", "/api/auth/token/",
                    {"username": "admin", "password": os.environ["HMS_ADMIN_PASSWORD"]})["access"]
        browser.js("hmsClick(document, '.btn.authorize')")
        typed = browser.wait_for("!!document.querySelector('.modal-ux input')", 10) and \
            browser.js(f"hmsType('.modal-ux input', {json.dumps(token)})")
        browser.js("hmsClick(document, '.modal-ux .auth-btn-wrapper .authorize')")
        authorized = browser.wait_for(
            "!!document.querySelector('.modal-ux .auth-btn-wrapper .btn-done') && "
            "!!Array.from(document.querySelectorAll('.modal-ux button'))"
            ".find(function (b) { return /Logout/.test(b.textContent); })", 10)
        browser.js("hmsClick(document, '.modal-ux .btn-done') || hmsClick(document, '.modal-ux .close-modal')")
        check(bool(typed and authorized), "Authorize takes a bearer token")
        me = block_id(ops[("GET", "/api/auth/me/")])
        status = try_it_out(browser, me)
        body = browser.js(f"hmsBody({json.dumps(me)})") or ""
        check(status == "200" and '"admin"' in body,
              "with it, Try it out of GET /api/auth/me/ shows 200 and the user",
              f"shows {status!r} {body[:120]!r}")

        refused = [e for e in browser.events
                   if e.get("method") == "Log.entryAdded"
                   and e["params"]["entry"].get("level") == "error"]
        check(not refused, "no errors in the page's console (CSP refusals, failed loads)",
              "; ".join(e["params"]["entry"].get("text", "")[:200] for e in refused[:5]))

        browser.js("window.scrollTo(0, 0)")
        shot = browser.send("Page.captureScreenshot", {"format": "png"})
        import base64
        path = os.path.join(STATE, "docs-page.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        check(os.path.getsize(path) > 10000, f"screenshot saved as {path}")
    except Exception as e:  # a dead browser or a timeout is a failed check
        fail(f"{type(e).__name__}: {e}")
    finally:
        browser.close()
        if not os.environ.get("HMS_KEEP_TEST_STATE"):
            shutil.rmtree(profile, ignore_errors=True)
    finish()


if __name__ == "__main__":
    main()
