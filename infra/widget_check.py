#!/usr/bin/env python3
"""Atlassian's status widget (npm `@statuspage/status-widget`, pinned in
infra/widget-check) on a page of another origin, in headless Debian chromium driven by
Playwright, pointed at a status page's custom domain on the local server. The widget
fetches `<origin>/api/v2/summary.json` from the host root, so it works only if the page
is served at the root of its domain, with CORS open to the other origin.

1. the widget (both of its appearances) shows the page's status, as summary.json says;
2. the page's embed view, framed by the other origin, shows the open incident;
3. the same widget pointed at `/status/<slug>` on the deployment's own host fetches
   `/api/v2/summary.json` at that host's root, which is no page (it shows nothing):
   why domains matter;
4. a protected page's summary answers the widget's fetch `401`, so it shows nothing.

Screenshots of the other origin's page (light and dark) go into docs/. Started by
widget-check.sh with the local server running. Prints "N passed, N failed" and exits
non-zero on a failure.
"""

import argparse
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

from playwright.sync_api import sync_playwright

results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"{'ok' if ok else 'FAILED'}: {name}{'' if ok else f' ({detail})'}", file=sys.stderr, flush=True)


def call(method, url, key=None, body=None, host=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if host:
        req.add_header("Host", host)
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read()
        return json.loads(text) if text else None


# The other company's site: the widget as Atlassian's README shows it, its badge
# appearance, and our embed view in an iframe.
SITE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Example Shop · help centre</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f1ea;color:#2b2b2b}}
@media (prefers-color-scheme:dark){{body{{background:#1c1b19;color:#e8e4dc}}}}
header{{padding:18px 32px;background:#2b2b2b;color:#fff;font-weight:700;font-size:1.2rem}}
main{{max-width:760px;margin:24px auto;padding:0 24px}}
.box{{border:1px solid #c9c2b4;border-radius:10px;padding:16px 20px;margin:16px 0;background:rgba(255,255,255,.4)}}
@media (prefers-color-scheme:dark){{.box{{border-color:#46423b;background:rgba(255,255,255,.04)}}}}
h2{{font-size:1rem;margin:0 0 8px}} code{{font-size:.85rem}}
iframe{{width:100%;height:190px;border:0;border-radius:10px}}
</style>
<script src="/widget/index.js"></script>
</head>
<body>
<header>Example Shop · help centre</header>
<main>
<p>This page is served from <code>{site}</code>. Everything below comes from the status page at <code>{root}</code>.</p>
<div class="box"><h2>Atlassian's status widget (<code>appearance="basic"</code>)</h2>
<statuspage-widget id="basic" src="{root}" title="Acme status"></statuspage-widget></div>
<div class="box"><h2>Atlassian's status widget (<code>appearance="badge"</code>)</h2>
<statuspage-widget id="badge" src="{root}" appearance="badge"></statuspage-widget></div>
<div class="box"><h2>LiveStatus embed (<code>{root}/embed</code>)</h2>
<iframe id="embed" title="Acme status" src="{root}/embed{theme}"></iframe></div>
<div class="box"><h2>The widget pointed at <code>/status/&lt;slug&gt;</code>, not at a domain</h2>
<statuspage-widget id="pathed" src="{pathed}"></statuspage-widget></div>
<div class="box"><h2>The widget pointed at a protected page's domain</h2>
<statuspage-widget id="locked" src="{locked}"></statuspage-widget></div>
</main>
</body>
</html>
"""


def serve_site(port, widget_dir, pages):
    """The other origin: `/` and `/dark` are the site, `/widget/*` the pinned package."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=widget_dir, **kw)

        def do_GET(self):  # noqa: N802 (the standard library's name)
            if self.path in pages:
                body = pages[self.path].encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.path.startswith("/widget/"):
                self.path = self.path[len("/widget"):]
                return super().do_GET()
            self.send_error(404)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True, help="the local server, http://127.0.0.1:<port>")
    ap.add_argument("--admin", required=True)
    ap.add_argument("--site-port", type=int, required=True)
    ap.add_argument("--widget-dir", required=True, help="the package's dist/")
    ap.add_argument("--chromium", default="chromium")
    ap.add_argument("--docs", default="docs")
    args = ap.parse_args()
    api = args.api
    port = api.rsplit(":", 1)[1]

    org = json.loads(subprocess.check_output([args.admin, "org", "create", "--name", "Widget", "--plan", "business"]))
    key = json.loads(subprocess.check_output([args.admin, "key", "create", "--org", org["id"], "--name", "widget"]))["key"]
    stamp = int(time.time())
    slug = f"acme-{stamp}"
    domain = f"acme-{stamp}.localhost"
    page = call("POST", f"{api}/api/v1/pages", key, {"name": "Acme", "slug": slug, "brandColor": "#5b3cc4"})["data"]
    page = call("PATCH", f"{api}/api/v1/pages/{page['id']}", key, {"domain": domain})["data"]
    check("a .localhost domain is verified at once in the local run", page["domainStatus"] == "verified", page)
    services = [call("POST", f"{api}/api/v1/pages/{page['id']}/services", key, {"name": n})["data"]["id"]
                for n in ("Checkout", "Search", "Accounts")]
    incident = call("POST", f"{api}/api/v1/pages/{page['id']}/incidents", key, {
        "title": "Checkout is slow for some cards", "impact": "major", "status": "identified",
        "body": "Payments through one card network take up to a minute. We are switching traffic to a second provider.",
        "affectedServiceIds": [services[0]],
    })["data"]
    root = f"http://{domain}:{port}"
    summary = call("GET", f"{api}/api/v2/summary.json", host=f"{domain}:{port}")
    expected = summary["status"]
    check("summary.json at the domain's root names the open incident",
          [i["name"] for i in summary["incidents"]] == [incident["title"]], summary["incidents"])

    locked_slug = f"staff-{stamp}"
    locked_domain = f"staff-{stamp}.localhost"
    locked = call("POST", f"{api}/api/v1/pages", key, {"name": "Staff", "slug": locked_slug})["data"]
    call("PATCH", f"{api}/api/v1/pages/{locked['id']}", key,
         {"domain": locked_domain, "password": "staff only, please"})

    site = f"http://127.0.0.1:{args.site_port}"
    fields = dict(site=site, root=root, pathed=f"{api}/status/{slug}", locked=f"http://{locked_domain}:{port}")
    serve_site(args.site_port, args.widget_dir, {
        "/": SITE.format(theme="", **fields),
        "/dark": SITE.format(theme="?theme=dark", **fields),
    })

    os.makedirs(args.docs, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
        for scheme, path in (("light", "/"), ("dark", "/dark")):
            context = browser.new_context(viewport={"width": 900, "height": 1000}, color_scheme=scheme)
            tab = context.new_page()
            requests = []
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto(site + path)
            basic = tab.locator("#basic .status-text")
            basic.wait_for(timeout=15000)
            text = basic.inner_text().strip()
            indicator = tab.locator("#basic .status-indicator").get_attribute("class")
            if scheme == "light":
                check("the widget shows the page's status as summary.json says",
                      text == expected["description"], f"{text!r} vs {expected['description']!r}")
                check("the widget's indicator is the page's", expected["indicator"] in indicator.split(), indicator)
                badge = tab.locator("#badge .status-indicator")
                badge.wait_for(timeout=15000)
                # The badge writes the description in lower case (CSS).
                shown = badge.inner_text().strip()
                check("the badge appearance shows the same status",
                      expected["indicator"] in (badge.get_attribute("class") or "").split()
                      and shown.lower() == expected["description"].lower(),
                      f"{shown!r} {badge.get_attribute('class')!r}")
                check("the widget fetched summary.json from the domain's root",
                      f"{root}/api/v2/summary.json" in requests, requests)
                frame = tab.frame_locator("#embed")
                title = frame.locator(".embed-list a").first
                title.wait_for(timeout=15000)
                check("the embed, framed by another origin, shows the open incident",
                      title.inner_text() == incident["title"], title.inner_text())
                check("the embed links to the incident at the domain",
                      title.get_attribute("href") == f"{root}/incidents/{incident['id']}", title.get_attribute("href"))
                # Give the two widgets that fail their fetch time to (not) render.
                tab.wait_for_timeout(1500)
                check("pointed at /status/<slug>, the widget fetches the host's root and shows nothing",
                      f"{api}/api/v2/summary.json" in requests and tab.locator("#pathed .status-text").count() == 0,
                      requests)
                check("a protected page's domain gives the widget nothing",
                      tab.locator("#locked .status-text").count() == 0, tab.locator("#locked").inner_html())
            shot = os.path.join(args.docs, f"widget-{scheme}.png")
            tab.screenshot(path=shot, full_page=True)
            print(f"screenshot: {shot}", file=sys.stderr)
            context.close()

        # A person at the protected page's domain: the sign-in form, a wrong password, the
        # right one, and the page; light, dark and phone screenshots of the form.
        locked_root = fields["locked"]
        for scheme, viewport, name in (("light", (900, 640), "light"), ("dark", (900, 640), "dark"),
                                       ("light", (390, 700), "phone")):
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, color_scheme=scheme)
            tab = context.new_page()
            answer = tab.goto(locked_root + "/history")
            if name == "light":
                check("a protected page's domain answers 401 with the sign-in form",
                      answer.status == 401 and tab.locator("input[type=password]").count() == 1, answer.status)
                check("the form shows the page's name and nothing else of it",
                      "Staff" in tab.locator(".brand").inner_text() and tab.locator(".services").count() == 0)
            if name != "phone":
                tab.fill("input[type=password]", "not the password")
                tab.click("button[type=submit]")
                if name == "light":
                    check("a wrong password shows the form again with what went wrong",
                          "not right" in tab.locator(".error").inner_text())
            os.makedirs(args.docs, exist_ok=True)
            tab.screenshot(path=os.path.join(args.docs, f"sign-in-{name}.png"), full_page=True)
            if name == "light":
                tab.fill("input[type=password]", "staff only, please")
                tab.click("button[type=submit]")
                tab.wait_for_load_state()
                check("the right password goes back to what was asked for",
                      tab.url == locked_root + "/history" and tab.locator("h1").first.inner_text().startswith("History"),
                      tab.url)
                cookie = [c for c in context.cookies() if c["name"] == "livestatus_page"]
                check("the cookie is HttpOnly, SameSite=Lax, for 30 days",
                      len(cookie) == 1 and cookie[0]["httpOnly"] and cookie[0]["sameSite"] == "Lax"
                      and 29 * 86400 < cookie[0]["expires"] - time.time() <= 30 * 86400, cookie)
                answer = tab.goto(locked_root + "/api/v2/summary.json")
                check("signed in, the machine routes answer too", answer.status == 200, answer.status)
            context.close()
        browser.close()

    print(f"{results['passed']} passed, {results['failed']} failed", file=sys.stderr)
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
