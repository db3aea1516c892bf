"""The page in a real browser (Debian's Chromium through Playwright), against a real server.

Needs `apt-get install chromium` and `pip install playwright` (bash .ci/run
installs both); Playwright's own browser download is never used.
"""

import os

import pytest

try:
    import fastapi  # noqa: F401
except ImportError:
    pytest.fail("these tests need the serve extra: pip install -e '.[serve,test]'", pytrace=False)
try:
    import playwright.sync_api as playwright_api
except ImportError:
    pytest.fail("this test needs playwright: pip install -e '.[test]'", pytrace=False)

from conftest import REPO_ROOT  # noqa: E402
from keras_cgan.server.loadtest import start_server  # noqa: E402

CHROMIUM = os.environ.get("KERAS_CGAN_CHROMIUM", "/usr/bin/chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(served_export):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (bash .ci/run does)")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])),
    )
    with start_server(served_export, env=env) as (proc, url):
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Page:
    """The page under test: actions, and waits for the picture each one draws."""

    def __init__(self, page):
        self.page = page

    def request_id(self):
        return self.page.evaluate(
            "() => Number((document.getElementById('picture') || {dataset: {}}).dataset.request || 0)"
        )

    def after(self, action):
        """Runs `action`, waits for the newer picture, returns its PNG bytes."""
        before = self.request_id()
        action()
        self.page.wait_for_function(
            """(before) => {
                const img = document.getElementById('picture');
                return Number(img.dataset.request || 0) > before && img.complete && img.naturalWidth > 0;
            }""",
            arg=before,
            timeout=30_000,
        )
        self.page.wait_for_timeout(300)  # a later answer for the same action would land here
        return self.picture()

    def picture(self):
        data = self.page.evaluate(
            """async () => {
                const r = await fetch(document.getElementById('picture').src);
                return Array.from(new Uint8Array(await r.arrayBuffer()));
            }"""
        )
        data = bytes(data)
        assert data[:8] == PNG_MAGIC
        return data

    def status(self):
        return self.page.inner_text("#status")


def test_page_draws_morphs_and_downloads_with_no_outside_requests(server, browser, tmp_path):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    requests, console_errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    ui = Page(page)

    first = ui.after(lambda: page.goto(server + "/"))
    assert "arch mlp" in page.inner_text("#model-info")
    assert "1 epochs" in page.inner_text("#model-info") and "latent size 8" in page.inner_text(
        "#model-info"
    )

    # A digit button selects one class: a different picture; deselecting restores it.
    three = ui.after(lambda: page.click("#class-buttons button[data-id='3']"))
    assert three != first and "1×1" in ui.status()
    assert ui.after(lambda: page.click("#class-buttons button[data-id='3']")) == first

    # Typing "2026" draws 2, 0, 2, 6 and lights those buttons.
    year = ui.after(lambda: page.fill("#class-text", "2026"))
    assert "1×4" in ui.status()  # one row, read left to right
    lit = page.eval_on_selector_all("#class-buttons button.on", "bs => bs.map(b => b.textContent)")
    assert sorted(lit) == ["0", "2", "6"]

    # A fixed seed gives the same picture; another seed another one; back again, the same.
    def set_seed(value):
        page.fill("#seed", str(value))
        page.press("#seed", "Enter")
        page.dispatch_event("#seed", "change")

    seed_77 = ui.after(lambda: set_seed(77))
    seed_78 = ui.after(lambda: set_seed(78))
    assert seed_77 != seed_78 != year
    assert ui.after(lambda: set_seed(77)) == seed_77

    fresh = ui.after(lambda: page.click("#new-noise"))
    assert fresh != seed_77 and page.input_value("#seed") != "77"

    # Morph: the slider moves class a into class b with the noise fixed.
    start = ui.after(lambda: page.click("#modes button[data-mode='morph']"))
    page.focus("#morph-t")
    end = ui.after(lambda: page.keyboard.press("End"))
    assert end != start and page.inner_text("#morph-t-value") == "1.00"
    assert ui.after(lambda: page.keyboard.press("Home")) == start
    middle = ui.after(lambda: page.keyboard.press("ArrowRight"))
    assert middle not in (start, end)

    # Download gives the PNG on screen.
    with page.expect_download() as info:
        page.click("#download")
    saved = tmp_path / "download.png"
    info.value.save_as(str(saved))
    assert saved.read_bytes() == middle
    assert info.value.suggested_filename.endswith(".png")

    # The walk and grid modes draw rows x columns.
    ui.after(lambda: page.click("#modes button[data-mode='walk']"))
    assert "×10" in ui.status()
    ui.after(lambda: page.click("#modes button[data-mode='grid']"))
    assert "×8" in ui.status()

    # Phone width: nothing sticks out sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    outside = [
        u
        for u in requests
        if not (u.startswith(server + "/") or u.startswith("blob:" + server + "/"))
    ]
    assert not outside, outside
    assert any(u.startswith(server + "/v1/interpolate") for u in requests)
    assert not console_errors, console_errors
    context.close()


def test_page_shows_api_errors_in_one_line(server, browser):
    page = browser.new_page()
    ui = Page(page)
    ui.after(lambda: page.goto(server + "/"))
    page.fill("#count", "1000")
    page.dispatch_event("#count", "change")
    page.wait_for_function(
        "document.getElementById('status').classList.contains('error')", timeout=30_000
    )
    assert "per_class" in ui.status() and "--max_images" in ui.status()
    page.close()
