"""Screenshots of the serving page at desktop and phone width, side by side.

    python scripts/make_serve_screenshot.py --model=runs/a [--out=docs/serve_page.png]

Starts `python -m keras_cgan.serve` on a free loopback port and drives Debian's
Chromium (`apt-get install chromium`) through Playwright.
"""

import argparse
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_cgan.server.loadtest import start_server  # noqa: E402


def _wait_for_picture(page, before):
    page.wait_for_function(
        "(b) => { const i = document.getElementById('picture');"
        " return Number(i.dataset.request || 0) > b && i.complete && i.naturalWidth > 0; }",
        arg=before,
        timeout=60_000,
    )


def _shot(browser, url, width, height, actions):
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
    page.goto(url)
    _wait_for_picture(page, 0)
    for action in actions:
        before = page.evaluate("Number(document.getElementById('picture').dataset.request)")
        action(page)
        _wait_for_picture(page, before)
    page.wait_for_timeout(300)
    png = page.screenshot(full_page=True)
    page.close()
    return png


def main():
    from PIL import Image
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="run folder, export folder or .keras file")
    parser.add_argument("--out", default="docs/serve_page.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    with start_server(args.model) as (_, url), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        desktop = _shot(
            browser,
            url,
            1100,
            900,
            [lambda pg: pg.click("#modes button[data-mode='grid']")],
        )
        phone = _shot(
            browser,
            url,
            390,
            844,
            [lambda pg: pg.fill("#class-text", "2026")],
        )
        browser.close()
    shots = [Image.open(io.BytesIO(png)).convert("RGB") for png in (desktop, phone)]
    gap = 24
    height = max(s.height for s in shots)
    canvas = Image.new(
        "RGB", (sum(s.width for s in shots) + 3 * gap, height + 2 * gap), (214, 211, 204)
    )
    x = gap
    for shot in shots:
        canvas.paste(shot, (x, gap))
        x += shot.width + gap
    canvas.save(args.out, optimize=True)
    print(f"wrote {args.out} ({canvas.width}x{canvas.height})")


if __name__ == "__main__":
    main()
