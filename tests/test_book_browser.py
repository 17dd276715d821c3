"""The built book in headless Chromium with the network off (`make browser`).

Needs a built book (`make book`, or BOOK_HTML=path/to/html) and Debian's chromium. The
checker itself (tools/bookbrowser.py) is tested first, on a copy of the built book with
faults planted in one page: each must be reported, with its page and element, and nothing
else may be.
"""

import html
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import bookbrowser  # noqa: E402
import book_sphinx  # noqa: E402

pytestmark = pytest.mark.browser
BOOK = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))

PLANTED = """
<p class="mathjax_ignore" id="planted">
  <a href="no-such-page.html">planted link</a> <a href="#no-such-anchor">planted anchor</a>
  <img src="../_images/no-such-image.png" alt="planted image">
  planted raw \\(x^2\\) left untypeset
</p>
<img src="https://example.invalid/planted.png" alt="planted remote image">
<script>console.error("planted console error")</script>
<script>throw new Error("planted uncaught error")</script>
"""
PLANTED += """<figure id="planted-figure"><img src="../_images/no-such-image.png" alt="x">
<figcaption><p><span class="caption-number">Fig. 99 </span>planted caption</p></figcaption>
</figure>"""
# A code line far wider than any text column: it must scroll, and that is reported.
PLANTED += '<div class="highlight"><pre>planted_wide_line = "' + "x" * 120 + '"</pre></div>'


@pytest.fixture(scope="module")
def book():
    if not (BOOK / "index.html").is_file():
        pytest.fail(f"no built book at {BOOK}: run `make book` first")
    return BOOK


def math_page(root):
    """The first chapter page that has math."""
    return next(p for p in bookbrowser.pages(root)
                if 'class="math' in (root / p).read_text(encoding="utf-8"))


def test_checker_reports_each_planted_fault_with_its_page_and_element(book, tmp_path):
    copy = tmp_path / "html"
    shutil.copytree(book, copy)
    page = math_page(copy)
    text = (copy / page).read_text(encoding="utf-8")
    before = set(bookbrowser.check_book(copy, only=[page]))
    (copy / page).write_text(text.replace("</main>", PLANTED + "</main>", 1), encoding="utf-8")
    no_mathjax = page.replace(".html", "-no-mathjax.html")
    (copy / no_mathjax).write_text(re.sub(r"<script[^>]*tex-mml-chtml\.js[^>]*></script>",
                                          "", text), encoding="utf-8")

    found = set(bookbrowser.check_book(copy, only=[page, no_mathjax])) - before
    planted = {(p.kind, p.where) for p in found if p.page == page}

    def reported(kind, *words):
        return any(k == kind and all(w in where for w in words) for k, where in planted)

    assert reported("broken link", "planted link", "no-such-page.html does not exist")
    assert reported("broken link", "planted anchor", "#no-such-anchor: no such anchor")
    assert reported("image not loaded", "planted image", "no-such-image.png")
    assert reported("image without a numbered caption", "planted image")
    assert reported("figure not referenced in the text", "#planted-figure")
    assert reported("HTTP 404", "no-such-image.png")
    assert reported("network request blocked", "https://example.invalid/planted.png")
    assert reported("raw TeX", "p.mathjax_ignore in #planted", "x^2")
    assert reported("console error", "planted console error")
    assert reported("code wider than the column", "planted_wide_line")
    assert reported("uncaught error", "planted uncaught error")
    untypeset = [p for p in found if p.page == no_mathjax]
    assert untypeset and all(p.kind == "math not typeset" for p in untypeset)
    assert len(untypeset) == text.count('class="math'), "every math element, each by name"
    # Nothing else: the page's own (pre-existing) problems are in `before`, and the
    # planted faults produce only the problems listed above (the missing image also
    # logs a console error for its 404).
    expected = {"broken link", "image not loaded", "HTTP 404", "network request blocked",
                "raw TeX", "console error", "uncaught error", "code wider than the column",
                "image without a numbered caption", "figure not referenced in the text"}
    assert {k for k, _ in planted} == expected
    assert not [p for p in found if p.page not in (page, no_mathjax)]


def test_every_page_offline(book):
    problems = bookbrowser.check_book(book)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(map(str, problems))


def test_citations_read_like_their_reference_labels(book):
    """Each in-text citation's words ("Polyak, 1964", or its author or year part alone)
    are those of the label of the entry it links to."""
    refs = (book / "chapters" / "references.html").read_text(encoding="utf-8")
    labels = dict(re.findall(r'class="citation" id="([^"]+)"[^>]*>\s*<span class="label">'
                             r'<span class="fn-bracket">\[</span>([^<]+)<', refs))
    assert labels, "the references page lists no entries"
    cited = []
    for page in bookbrowser.pages(book):
        source = (book / page).read_text(encoding="utf-8")
        for anchor, words in re.findall(r'<a class="reference internal" href="(?:references'
                                        r'\.html)?#(id\d+)"[^>]*>(.*?)</a>', source):
            if anchor in labels:
                cited.append((page, html.unescape(re.sub(r"<[^>]+>", "", words)), anchor))
    assert cited, "no citation links found"
    wrong = [(page, words, labels[a]) for page, words, a in cited
             if words not in (labels[a], *labels[a].rsplit(", ", 1))]
    assert not wrong, wrong


def test_reference_labels_are_author_year():
    from pybtex.database import parse_file
    entries = parse_file(ROOT / "references.bib").entries
    label = book_sphinx.AuthorYearLabelStyle.label
    assert label(entries["polyak1964"]) == "Polyak, 1964"
    assert label(entries["kingma2015"]) == "Kingma and Ba, 2015"
    assert label(entries["sutskever2013"]) == "Sutskever et al., 2013"


def test_pdf_check_reports_missing_chapters_raw_tex_and_images(tmp_path):
    """check_pdf fails a PDF whose text lacks a chapter's title or shows TeX outside code,
    or that has fewer images than the page has figures."""
    (tmp_path / "book.html").write_text(
        '<h1>Printed chapter<a class="headerlink" href="#">#</a></h1>'
        '<h1 style="display:none">Lost chapter<a class="headerlink" href="#">#</a></h1>'
        "<p>Untypeset \\(\\frac{1}{2}\\) math</p><pre>code may say \\sqrt{x}</pre>"
        '<p>\\sqrt{2} outside code</p><img src="_images/figure.png" style="display:none">',
        encoding="utf-8")
    pdf = tmp_path / "book.pdf"
    with bookbrowser.serve(tmp_path) as base, bookbrowser.offline_page(base) as (page, _, _):
        page.goto(base + "book.html")
        page.pdf(path=str(pdf))
    found = {(p.kind, p.where) for p in bookbrowser.check_pdf(tmp_path, pdf)}
    assert found == {("chapter missing", "Lost chapter"), ("raw TeX", "\\frac outside code"),
                     ("raw TeX", "\\( outside code"), ("raw TeX", "\\sqrt outside code"),
                     ("images missing", "0 images in the PDF, 1 in the book")}
