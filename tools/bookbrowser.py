"""Open the built book in headless Chromium with the network off, check it, print it.

Readers see the book in a browser, so the book is checked there: every page is served from
127.0.0.1, every request to anywhere else is aborted and counted as a failure, and a page
fails on math MathJax did not typeset, an image that did not load, a link to a page or
anchor that does not exist, an image that is not a numbered, captioned figure referred to
in the text, code wider than the text column of a 1366-pixel-wide window, or a console
error. The same browser prints the one-page
(singlehtml) build to PDF once MathJax has typeset it.

    python tools/bookbrowser.py check _build/html
    python tools/bookbrowser.py pdf _build/singlehtml book.pdf

Playwright drives Debian's /usr/bin/chromium (never a browser of its own): it waits on
MathJax's promise and images inside the page, routes every request, and prints to PDF
through one API.
"""

import argparse
import functools
import html.parser
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium as root, headless, without any of its own traffic (updates, sync, first run).
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SKIPPED_DIRS = {"_static", "_sources", "_images"}  # assets, not pages
# The most common laptop screen: code must fit the text column there (tools/static/book.css).
VIEWPORT = {"width": 1366, "height": 768}

# Runs in the page once it has loaded: waits for MathJax's first typeset, the fonts and
# every image, then returns what failed, every link and every id that a link can point to.
INSPECT_JS = r"""
async () => {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) await mj.startup.promise;
  await document.fonts.ready;  // MathJax's web fonts, requested as it typesets
  const images = [...document.images];
  images.forEach(im => { im.loading = "eager"; });
  await Promise.all(images.map(im => im.complete ? null : new Promise(done => {
    im.addEventListener("load", done); im.addEventListener("error", done);
    setTimeout(done, 15000);
  })));
  const where = el => {
    const section = el.closest("[id]");
    const text = (el.getAttribute("alt") || el.textContent || "").replace(/\s+/g, " ");
    return el.tagName.toLowerCase() + (el.className ? "." + String(el.className)
      .trim().split(/\s+/).join(".") : "") + (section ? " in #" + section.id : "")
      + (text.trim() ? " «" + text.trim().slice(0, 80) + "»" : "");
  };
  const problems = [];
  images.filter(im => !im.naturalWidth).forEach(im => problems.push(
    ["image not loaded", where(im) + " src=" + im.getAttribute("src")]));
  document.querySelectorAll(".math").forEach(el => {
    if (!el.querySelector("mjx-container")) problems.push(["math not typeset", where(el)]);
  });
  document.querySelectorAll("mjx-merror").forEach(el => problems.push(
    ["math error", where(el.closest("mjx-container").parentElement) + ": "
     + (el.getAttribute("data-mjx-error") || el.textContent)]));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  // Text that no math element holds (those are checked above) and that is not code.
  const code = "script,style,pre,code,textarea,.highlight,.math";
  for (let node; (node = walker.nextNode());) {
    if (/\\\(|\\\[|\$\$|\\begin\{/.test(node.data) && !node.parentElement.closest(code))
      problems.push(["raw TeX", where(node.parentElement)]);
  }
  // Every image of the text is a numbered, captioned figure that the prose refers to.
  const anchors = [...document.querySelectorAll("a[href*='#']")];
  images.filter(im => im.closest("main")).forEach(im => {
    const figure = im.closest("figure");
    if (!figure || !figure.querySelector("figcaption .caption-number")) {
      problems.push(["image without a numbered caption", where(im)]);
      return;
    }
    const ids = [figure, ...figure.querySelectorAll("[id]")].map(e => e.id).filter(Boolean);
    if (!anchors.some(a => !figure.contains(a)
                      && ids.includes(decodeURIComponent(a.hash.slice(1)))))
      problems.push(["figure not referenced in the text", where(figure).slice(0, 120)]);
  });
  document.querySelectorAll("pre").forEach(el => {
    if (el.scrollWidth > el.clientWidth + 1) problems.push(
      ["code wider than the column", where(el).slice(0, 120)
       + ` (${el.scrollWidth} px in ${el.clientWidth})`]);
  });
  const links = [...document.querySelectorAll("a[href]")].map(a => [a.href, where(a)]);
  const ids = [...document.querySelectorAll("[id]")].map(el => el.id)
    .concat([...document.querySelectorAll("a[name]")].map(a => a.name));
  return {problems, links, ids};
}
"""


@dataclass(frozen=True)
class Problem:
    page: str
    kind: str
    where: str

    def __str__(self):
        return f"{self.page}: {self.kind}: {self.where}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        """Served requests are checked by the browser; the server's log is noise."""


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A request the browser dropped (it navigated on) is not an error of the book."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(root):
    """Serve the folder ``root`` on 127.0.0.1 (a free port) for as long as the block runs."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def offline_page(base):
    """A Chromium page (fresh profile) that may load only URLs under ``base``.

    Yields ``(page, problems, current)``: every other request is aborted and, like every
    failed response, console error and uncaught exception, appended to ``problems`` under
    the page named in ``current[0]``.
    """
    problems, current = [], ["?"]

    def add(kind, where):
        problems.append(Problem(current[0], kind, where))

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            add("network request blocked", r.request.url)
            r.abort()

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport=VIEWPORT)
        try:
            context.route("**/*", route)
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", lambda m: m.type == "error" and add(
                "console error", f"{m.text} ({m.location.get('url', '')})"))
            page.on("pageerror", lambda e: add("uncaught error", str(e)))
            page.on("response", lambda r: r.status >= 400 and add(
                f"HTTP {r.status}", r.url))
            yield page, problems, current
        finally:
            context.close()


def pages(root):
    """Every HTML page of the built book under ``root``, as paths relative to it."""
    root = Path(root)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                  if not SKIPPED_DIRS & set(p.relative_to(root).parts[:-1]))


# On paper a code line cannot scroll: wrap it rather than cut it at the margin.
PRINT_CSS = "@media print { pre { white-space: pre-wrap; overflow-wrap: anywhere; } }"
TEX = r"\\(?:frac|begin|left|mathrm|sqrt|\(|\[)"  # TeX that MathJax would have replaced
REDIRECT = re.compile(r'<meta http-equiv="Refresh" content="0; url=([^"]+)"', re.I)


def _inspect(page, url):
    page.goto(url, wait_until="load")
    return page.evaluate(INSPECT_JS)


class _Ids(html.parser.HTMLParser):
    """The ids and anchor names of a page that the browser did not open."""

    def __init__(self, text):
        super().__init__()
        self.ids = set()
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.update(v for k, v in attrs.items() if k == "id" or (tag == "a" and k == "name"))


def _broken_links(root, base, links, ids):
    """Problems for links under ``base`` whose file, or anchor in it, does not exist."""
    problems = []
    for page, href, where in links:
        if not href.startswith(base):
            continue  # another site, mailto:, javascript:: not part of the book
        url = urllib.parse.urlsplit(href)
        rel = urllib.parse.unquote(url.path)[len(urllib.parse.urlsplit(base).path):]
        if rel == "" or rel.endswith("/"):
            rel += "index.html"
        target = Path(root) / rel
        if not target.is_file():
            problems.append(Problem(page, "broken link", f"{where} -> {rel} does not exist"))
            continue
        anchor = urllib.parse.unquote(url.fragment)
        if anchor and target.suffix == ".html":
            if rel not in ids:
                ids[rel] = _Ids(target.read_text(encoding="utf-8")).ids
            if anchor not in ids[rel]:
                problems.append(Problem(page, "broken link",
                                        f"{where} -> {rel}#{anchor}: no such anchor"))
    return problems


def check_book(root, only=None):
    """Open every page of the built book at ``root`` (or those in ``only``) offline in
    Chromium and return the list of problems, each naming its page and element."""
    root = Path(root)
    names = pages(root) if only is None else list(only)
    links, ids = [], {}
    with serve(root) as base, offline_page(base) as (page, problems, current):
        for name in names:
            current[0] = name
            redirect = REDIRECT.search((root / name).read_text(encoding="utf-8"))
            if redirect:  # index.html: checked as a link, not opened (it navigates away)
                links.append((name, urllib.parse.urljoin(base + name, redirect[1]), "redirect"))
                continue
            found = _inspect(page, base + urllib.parse.quote(name))
            problems.extend(Problem(name, kind, where) for kind, where in found["problems"])
            links.extend((name, href, where) for href, where in found["links"])
            ids[name] = set(found["ids"])
        problems.extend(_broken_links(root, base, links, ids))
    return problems


def single_page(root):
    """Write the singlehtml build's one page to ``root``/book.html and return that name.

    Sphinx writes the page to the root document's path (chapters/preface.html, which
    index.html redirects to) with every link relative to the build's root; at the root, the
    stylesheets, scripts and images resolve, and its links to itself become in-page ones.
    The theme's search box loads searchindex.js, which this builder does not write (a PDF
    has no search): that script is left out.
    """
    root = Path(root)
    name = urllib.parse.unquote(REDIRECT.search((root / "index.html").read_text())[1])
    text = (root / name).read_text(encoding="utf-8").replace(f'href="{name}#', 'href="#')
    text = text.replace('<script src="searchindex.js"></script>', "")
    (root / "book.html").write_text(text, encoding="utf-8")
    return "book.html"


def print_pdf(root, pdf):
    """Print the singlehtml build at ``root`` to ``pdf`` once its page passes the same checks
    as every HTML page; return the problems found (the PDF is written only if none)."""
    name = single_page(root)
    with serve(root) as base, offline_page(base) as (page, problems, current):
        current[0] = name
        found = _inspect(page, base + urllib.parse.quote(name))
        problems.extend(Problem(name, kind, where) for kind, where in found["problems"])
        if not problems:
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            page.pdf(path=str(pdf), format="A4", print_background=True,
                     margin={k: "18mm" for k in ("top", "bottom", "left", "right")})
    return problems


def check_pdf(root, pdf):
    """Problems of the PDF printed from ``root``/book.html: a chapter heading missing from
    its text, raw TeX left in it, or fewer embedded images than the build has figures."""
    source = (Path(root) / "book.html").read_text(encoding="utf-8")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    flat = re.sub(r"\s+", " ", text)
    problems = []
    for heading in re.findall(r"<h1[^>]*>(.*?)<a class=\"headerlink\"", source):
        title = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", heading))).strip()
        if title and title not in flat:
            problems.append(Problem(str(pdf), "chapter missing", title))
    code = html.unescape(re.sub(r"<[^>]+>", "", "".join(re.findall(
        r"<pre>.*?</pre>", source, re.S))))
    for raw in sorted(set(re.findall(TEX, text))):
        if text.count(raw) > code.count(raw):  # TeX in code cells is code, printed as such
            problems.append(Problem(str(pdf), "raw TeX", f"{raw} outside code"))
    listed = subprocess.run(["pdfimages", "-list", str(pdf)], check=True,
                            capture_output=True, text=True).stdout.splitlines()[2:]
    figures = len(re.findall(r"<img [^>]*src=\"[./]*_images/", source))
    if len(listed) < figures:
        problems.append(Problem(str(pdf), "images missing",
                                f"{len(listed)} images in the PDF, {figures} in the book"))
    return problems


def _report(problems):
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="check every page of an HTML build").add_argument("root")
    pdf = sub.add_parser("pdf", help="print a singlehtml build to PDF and check it")
    pdf.add_argument("root")
    pdf.add_argument("pdf")
    args = parser.parse_args(argv)
    if args.command == "check":
        return _report(check_book(args.root))
    problems = print_pdf(args.root, args.pdf)
    return _report(problems or check_pdf(args.root, args.pdf))


if __name__ == "__main__":
    sys.exit(main())
