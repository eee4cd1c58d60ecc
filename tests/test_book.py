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


def _open(browser, url: str, *, responses: list | None = None):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    if responses is not None:  # (url, bytes) of every response, for the demos' payload
        page.on(
            "response",
            lambda response: responses.append((response.url, int(response.headers.get("content-length", 0)))),
        )
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # A page must need nothing from outside the site; a request elsewhere would fail offline.
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.goto(url, wait_until="networkidle")
    return context, page, problems


@pytest.mark.browser
@pytest.mark.parametrize("page_name", PAGES)
def test_page_loads_in_chromium_with_its_images_and_no_console_error(browser, server, quick_build, page_name):
    from playwright.sync_api import Error as PlaywrightError

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
        path = str(shots / f"{page_name.replace('/', '_')}.png")
        try:
            page.screenshot(path=path, full_page=True)
        except PlaywrightError:  # a long page on a busy machine can fail to render whole: keep its first screen
            page.screenshot(path=path)
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


# ----------------------------------------------------------------------------- the in-page demos

#: Pages with a "denoise it yourself" demo (book/_static/demos/denoise.js).
DEMO_PAGES = ["notebooks/04_evaluation", "notebooks/09_robustness"]
DEMO = ".dae-demo[data-demo='denoise']"
#: Issue 13: at most 15 MB of extra payload per page, every model of the picker loaded.
PAYLOAD_LIMIT = 15_000_000


def _ready_demo(browser, server, page_name, selector=DEMO):
    """Open a page, check that its demo downloads nothing before it is scrolled to, scroll to it and
    wait until it is ready; print the demo's payload. Returns the context, the page, its console
    errors and its responses (url, bytes), which go on filling as the demo loads more."""
    responses: list = []
    context, page, problems = _open(browser, f"{server}/{page_name}.html", responses=responses)
    page.wait_for_timeout(500)
    assert page.get_attribute(selector, "data-state") == "loading"
    early = [url for url, _ in responses if "/demos/" in url and not url.endswith((".js", ".css"))]
    assert early == [], f"downloaded before the demo came into view: {early}"
    page.locator(selector).scroll_into_view_if_needed()
    page.wait_for_selector(f"{selector}[data-state='ready'], {selector}[data-state='error']", timeout=120_000)
    assert page.get_attribute(selector, "data-state") == "ready", page.inner_text(selector)
    print(f"{page_name}: the demo downloaded {_payload(responses) / 1e6:.1f} MB (runtime, model, data)")
    return context, page, problems, responses


def _payload(responses: list) -> int:
    """Bytes the demos downloaded, as sent (the runtime and the models travel gzipped)."""
    return sum(size for url, size in responses if "/demos/" in url)


@pytest.mark.browser
@pytest.mark.parametrize("page_name", DEMO_PAGES)
def test_demo_denoises_a_fixed_input_as_keras_does_with_the_same_psnr(browser, server, quick_build, page_name):
    import numpy as np

    from dae_utils.artifacts import load_model, pretrained_path
    from dae_utils.config import PAPER
    from dae_utils.data import load_mnist
    from dae_utils.evaluation import denoise
    from dae_utils.export import DEMO_MODELS
    from dae_utils.metrics import psnr_per_image, ssim_per_image
    from dae_utils.noise import add_gaussian_noise

    _, (x_test, _) = load_mnist()
    clean = x_test[:1]
    noisy = add_gaussian_noise(clean, PAPER.noise_std, seed=PAPER.test_noise_seed)
    context, page, problems, responses = _ready_demo(browser, server, page_name)
    try:
        timings = page.evaluate(f'document.querySelector("{DEMO}").daeDemo.timings')
        print(f"{page_name}: first denoised image {timings['firstImageMs']:.0f} ms after the demo came into view")
        timed_run = (
            f'async ([clean, noisy, model]) => {{ const demo = document.querySelector("{DEMO}").daeDemo;'
            " const started = performance.now(); const result = await demo.run({clean, noisy, model});"
            " return {...result, ms: performance.now() - started}; }"
        )
        for name in DEMO_MODELS:
            arguments = [clean.ravel().tolist(), noisy.ravel().tolist(), name]
            page.evaluate(timed_run, arguments)  # the first run of a model also loads it
            result = page.evaluate(timed_run, arguments)
            print(f"{name}: one step (denoise, PSNR, SSIM, draw) {result['ms']:.0f} ms")
            expected = denoise(load_model(pretrained_path(name)), noisy)
            gap = float(np.abs(np.asarray(result["denoised"]) - expected.ravel()).max())
            shown = float(re.search(r"PSNR ([0-9.]+) dB", result["shown"]).group(1))
            print(f"{name}: largest pixel difference from Keras {gap:.1e}; PSNR shown {shown:.2f} dB")
            assert gap <= 1e-3
            assert abs(shown - psnr_per_image(clean, expected)[0]) <= 0.01
            assert abs(result["ssim"] - ssim_per_image(clean, expected)[0]) <= 1e-5
        payload = _payload(responses)
        print(f"{page_name}: {payload / 1e6:.1f} MB downloaded with every model loaded ({', '.join(DEMO_MODELS)})")
        assert payload <= PAYLOAD_LIMIT
        assert problems == [], f"console errors: {problems}"
        shots = quick_build / "_build" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.locator(DEMO).screenshot(path=str(shots / f"demo_{page_name.replace('/', '_')}.png"))
    finally:
        context.close()


@pytest.mark.browser
def test_demo_clears_to_a_blank_digit_and_drawing_changes_the_output(browser, server, quick_build):
    import numpy as np

    context, page, problems, _ = _ready_demo(browser, server, DEMO_PAGES[0])
    demo = f'document.querySelector("{DEMO}").daeDemo'
    try:
        page.get_by_role("button", name="Clear and draw").click()
        page.evaluate(f"{demo}.settled()")
        blank = page.evaluate(f"{demo}.state.last")
        assert page.evaluate(f"Array.from({demo}.state.clean).every(v => v === 0)")
        assert np.all(np.isfinite(blank["denoised"])) and page.get_attribute(DEMO, "data-state") == "ready"
        box = page.locator(f"{DEMO} canvas").nth(2).bounding_box()  # the clean image: noisy, denoised, clean
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.8, steps=12)
        page.mouse.up()
        page.evaluate(f"{demo}.settled()")
        drawn = page.evaluate(f"{demo}.state.last")
        assert page.evaluate(f"Array.from({demo}.state.clean).filter(v => v > 0).length") > 20
        assert np.abs(np.asarray(drawn["denoised"]) - np.asarray(blank["denoised"])).max() > 0.3
        assert problems == [], f"console errors: {problems}"
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the panels wrap, nothing overflows
        page.locator(DEMO).scroll_into_view_if_needed()
        assert page.evaluate(f'(d => d.scrollWidth <= d.clientWidth + 1)(document.querySelector("{DEMO}"))')
        boxes = page.evaluate(
            f'Array.from(document.querySelectorAll("{DEMO} canvas")).map(c => c.getBoundingClientRect().right)'
        )
        assert max(boxes) <= 390
        page.locator(DEMO).screenshot(path=str(quick_build / "_build" / "screenshots" / "demo_drawn_phone.png"))
    finally:
        context.close()


@pytest.mark.browser
def test_demo_reports_a_missing_model_in_one_line_and_recovers_with_another(browser, server):
    context, page, problems, _ = _ready_demo(browser, server, DEMO_PAGES[0])
    demo = f'document.querySelector("{DEMO}").daeDemo'
    try:
        page.route("**/demos/models/unet.onnx.gz", lambda route: route.abort())  # as if the file were missing
        page.locator(f"{DEMO} select").first.select_option("unet")
        page.evaluate(f"{demo}.settled()")
        assert page.get_attribute(DEMO, "data-state") == "error"
        status = page.inner_text(f"{DEMO} .dae-demo-status")
        assert "could not" in status and "\n" not in status.strip()
        assert page.evaluate("document.images.length") > 0  # the static figures stay
        page.locator(f"{DEMO} select").first.select_option("paper_autoencoder")
        page.evaluate(f"{demo}.settled()")
        assert page.get_attribute(DEMO, "data-state") == "ready"
        unexpected = [p for p in problems if "unet.onnx" not in p and not p.startswith("Failed to load resource")]
        assert unexpected == [], f"console errors: {problems}"
    finally:
        context.close()


@pytest.mark.browser
def test_demo_controls_drive_the_page_corruption_and_model(browser, server):
    context, page, problems, _ = _ready_demo(browser, server, DEMO_PAGES[1])  # chapter 9: with corruptions
    demo = f'document.querySelector("{DEMO}").daeDemo'
    try:
        selects = page.locator(f"{DEMO} select")
        results = {}
        for corruption in ("gaussian", "salt-and-pepper", "masking"):
            selects.nth(1).select_option(corruption)
            page.evaluate(f"{demo}.settled()")
            results[corruption] = page.evaluate(f"{demo}.state.last")
        assert len({round(result["psnr"], 6) for result in results.values()}) == 3
        selects.nth(0).select_option("best_denoiser")
        page.evaluate(f"{demo}.settled()")
        assert page.evaluate(f"{demo}.state.last")["psnr"] != results["masking"]["psnr"]
        page.get_by_role("button", name="New noise").click()
        page.evaluate(f"{demo}.settled()")
        assert page.get_attribute(DEMO, "data-state") == "ready" and problems == []
    finally:
        context.close()


@pytest.mark.browser
def test_generator_demo_samples_what_the_package_samples_from_the_same_noise(browser, server, quick_build):
    import numpy as np

    from dae_utils.artifacts import load_model, pretrained_path
    from dae_utils.export import DEMO_GENERATOR, DEMO_GUIDE
    from dae_utils.generative import NULL_LABEL, Autoguided, Denoiser
    from dae_utils.sample_quality import AUTOGUIDANCE, AUTOGUIDANCE_INTERVAL, DEFAULT_GUIDANCE, HEUN_STEPS
    from dae_utils.sampling import SIGMA_MAX, heun_sample

    selector = ".dae-demo[data-demo='generate']"
    context, page, problems, responses = _ready_demo(browser, server, "notebooks/11_generating_digits", selector)
    try:
        timings = page.evaluate(f'document.querySelector("{selector}").daeDemo.timings')
        first = f"{timings['firstSampleMs']:.0f} ms"
        print(f"generator demo: first sample ({HEUN_STEPS} steps, any digit, autoguided) {first} in view")
        denoiser = Denoiser(load_model(pretrained_path(DEMO_GENERATOR)))
        guide = Denoiser(load_model(pretrained_path(DEMO_GUIDE)))
        # A digit with classifier-free guidance; any digit without guidance, and autoguided.
        for label, guidance in [(7, DEFAULT_GUIDANCE), (NULL_LABEL, 0.0), (NULL_LABEL, AUTOGUIDANCE)]:
            seed = 5
            start = SIGMA_MAX * np.random.default_rng(seed).standard_normal((1, 28, 28, 1))  # heun_sample's start
            evaluations, guide_evaluations = denoiser.evaluations + guide.evaluations, guide.evaluations
            if label == NULL_LABEL:
                network = denoiser
                if guidance:
                    network = Autoguided(denoiser, guide, scale=guidance, interval=AUTOGUIDANCE_INTERVAL)
                expected = heun_sample(network, count=1, steps=HEUN_STEPS, seed=seed)
            else:
                expected = heun_sample(denoiser, [label], steps=HEUN_STEPS, guidance=guidance, seed=seed)
            guide_evaluations = guide.evaluations - guide_evaluations
            evaluations = denoiser.evaluations + guide.evaluations - evaluations  # the package's counts
            result = page.evaluate(
                f'([start, label, guidance, steps]) => document.querySelector("{selector}")'
                ".daeDemo.run({start, label, guidance, steps})",
                [start.ravel().tolist(), label, guidance, HEUN_STEPS],
            )
            gap = float(np.abs(np.asarray(result["image"]) - expected.ravel()).max())
            print(f"label {label}, guidance {guidance}: largest pixel difference from the package {gap:.1e}")
            assert gap <= 1e-3 and result["evaluations"] == evaluations
            assert result["guideEvaluations"] == guide_evaluations  # only inside the interval
            if label == NULL_LABEL and guidance:
                assert 0 < guide_evaluations < 2 * HEUN_STEPS - 1
        # The slider is the autoguidance scale for any digit and the guidance scale for a digit, each
        # starting at the book's and keeping its own value when the reader switches.
        slider, label = page.locator(f"{selector} input[type=range]").first, page.locator(f"{selector} label").nth(1)
        assert float(slider.input_value()) == AUTOGUIDANCE and label.inner_text().split() == [
            "autoguidance",
            f"{AUTOGUIDANCE:.1f}",
        ]
        slider.fill("2")
        page.locator(f"{selector} select").select_option("7")
        assert float(slider.input_value()) == DEFAULT_GUIDANCE and label.inner_text().split()[0] == "guidance"
        page.locator(f"{selector} select").select_option("any")
        assert float(slider.input_value()) == 2.0 and label.inner_text().split()[0] == "autoguidance"
        assert problems == [], f"console errors: {problems}"
        assert _payload(responses) <= PAYLOAD_LIMIT
        shots = quick_build / "_build" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        page.locator(selector).screenshot(path=str(shots / "demo_generate.png"))
    finally:
        context.close()
