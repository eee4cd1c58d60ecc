"""The rendered book (quick profile): every page built from the executed chain, glued numbers,
launch buttons, and a real browser that loads every page offline."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml
from conftest import glued

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = [TOC["root"]] + [chapter["file"] for part in TOC["parts"] for chapter in part["chapters"]]
NOTEBOOK_PAGES = [page for page in PAGES if page.startswith("notebooks/")]

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def site(quick_build: Path) -> Path:
    return quick_build / "_build" / "html"


def _html(site: Path, page: str) -> str:
    return (site / f"{page}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_built_and_shows_no_traceback(site, page):
    html = _html(site, page)
    assert "Traceback" not in html and "output error" not in html
    assert "injected-parameters" not in html


@pytest.mark.parametrize(
    "page",
    [
        "notebooks/03_training",
        "notebooks/04_evaluation",
        "notebooks/05_classical_baselines",
        "notebooks/07_better_denoisers",
        "notebooks/08_more_budget",
        "notebooks/09_robustness",
    ],
)
def test_results_tables_render_as_tables_and_no_stray_values_show(site, page):
    html = _html(site, page)
    assert "<table" in html
    assert not re.search(r"<p>\|", html), "a Markdown table was rendered as a paragraph of pipes"
    assert "PosixPath(" not in html


def test_intro_pastes_the_results_from_chapter_4(site, quick_build):
    evaluation = glued(quick_build / "executed" / "notebooks" / "04_evaluation.ipynb")
    html = _html(site, "book/intro")
    assert f"{evaluation['psnr_first']:.2f}" in html
    assert f"{evaluation['ssim_all']:.4f}" in html
    assert "20.38" in html and "0.8655" in html  # the paper's numbers, glued from dae_utils.config


def test_intro_pastes_the_best_denoiser_from_chapter_7(site, quick_build):
    best = glued(quick_build / "executed" / "notebooks" / "08_more_budget.ipynb")
    assert f"{best['best_psnr']:.2f}" in _html(site, "book/intro")


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_notebook_pages_launch_the_right_file_in_colab_and_offer_a_download(site, page):
    html = _html(site, page)
    owner_repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{owner_repo}/blob/main/{page}.ipynb"
    assert colab in html
    assert f"https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=tree/{page}.ipynb" in html
    assert f"_sources/{page}.ipynb" in html  # the download button


def test_parameters_show_the_value_used_once(site):
    text = re.sub(r"<[^>]+>", "", _html(site, "notebooks/03_training"))
    assert text.count("EPOCHS") >= 1 and "EPOCHS = 15" not in text
    assert "overridden by the build profile" in text


# ----------------------------------------------------------------------------- the browser


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser test: .ci/run installs Debian's chromium")
        pytest.skip("needs Chromium: `apt-get install chromium` (Debian), then run the tests again")
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync", "--disable-quic"]  # fmt: skip
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=args)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def server(site):
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # A page must need nothing from outside the site; a request elsewhere would fail offline.
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.goto(url, wait_until="networkidle")
    return context, page, problems


@pytest.mark.browser
@pytest.mark.parametrize("page_name", PAGES)
def test_page_loads_in_chromium_with_its_images_and_no_console_error(browser, server, quick_build, page_name):
    context, page, problems = _open(browser, f"{server}/{page_name}.html")
    try:
        broken = page.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        assert broken == [], f"images that did not load: {broken}"
        assert problems == [], f"console errors: {problems}"
        assert page.evaluate("document.querySelectorAll('mjx-container').length") > 0 or "$" not in page.content()
        if page_name in NOTEBOOK_PAGES:
            links = page.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
            owner_repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
            assert f"https://colab.research.google.com/github/{owner_repo}/blob/main/{page_name}.ipynb" in links
        shots = quick_build / "_build" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"{page_name.replace('/', '_')}.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.browser
def test_site_search_finds_psnr(browser, server):
    context, page, problems = _open(browser, f"{server}/search.html?q=PSNR")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=15_000)
        hits = page.evaluate("Array.from(document.querySelectorAll('#search-results ul.search li a')).map(a => a.href)")
        assert any("04_evaluation" in hit for hit in hits) and any("01_data_and_noise" in hit for hit in hits)
        assert problems == []
    finally:
        context.close()


@pytest.fixture(scope="module")
def student_site(quick_build: Path) -> Path:
    import subprocess
    import sys

    command = [sys.executable, str(ROOT / "tools" / "run_chain.py"), "--profile", "quick", "--student"]
    subprocess.run(command, cwd=ROOT, check=True)
    return quick_build / "student" / "_build" / "html"


def test_the_student_edition_has_the_exercises_but_no_solution(site, student_site):
    for page in NOTEBOOK_PAGES:
        full = re.sub(r"<[^>]+>", " ", _html(site, page))
        student = re.sub(r"<[^>]+>", " ", _html(student_site, page))
        assert "Solution" in full, f"{page}: the full edition should show its solutions"
        # a word, not a substring: "full-resolution" is fine
        assert not re.search(r"\bsolutions?\b", _html(student_site, page), flags=re.IGNORECASE), page
        assert student.count("Exercise") >= 2

    # the code of a gated (executed) solution is gone too
    def text(html: str) -> str:
        return re.sub(r"<[^>]+>", "", html)

    assert "curve = {std: psnr_of_noise" in text(_html(site, "notebooks/01_data_and_noise"))
    assert "curve = {std: psnr_of_noise" not in text(_html(student_site, "notebooks/01_data_and_noise"))
