"""The whole journey in headless Chromium: browse, search, add to cart, checkout with a test card, confirm, look up.
Also the screenshots of the main pages that README.md shows (docs/images/)."""

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("SHOP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
#: The screenshots README.md shows, by file name (PNG, 1280x800: a laptop's window, the viewport below).
SCREENSHOTS = ("shop-catalog.png", "shop-product.png", "shop-cart.png", "shop-admin-products.png")


def _require_chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set SHOP_TEST_CHROMIUM)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)


@contextmanager
def _page(**options: Any) -> Iterator[Any]:
    """A page in headless Debian Chromium (fails under CI=true when it is missing, skips elsewhere), with waits
    generous enough for a loaded 2-CPU CI machine (Playwright's 5 s default is tight, e.g. "Place order" →
    redirect)."""
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield browser.new_page(**options)
        finally:
            browser.close()


@pytest.fixture
def live_shop(sqlite_settings, live_server):
    """The storefront on a real uvicorn server in a thread (seeded catalog, SQLite, in-process cache)."""
    with live_server(sqlite_settings, internal=False, seeded=True) as url:
        yield url


@pytest.fixture
def live_admin(sqlite_settings, live_server):
    """The internal app (admin pages) on a real uvicorn server in a thread."""
    with live_server(sqlite_settings, internal=True, seeded=True) as url:
        yield url


def test_browse_search_cart_checkout_lookup(live_shop):
    from playwright.sync_api import expect

    with _page(viewport={"width": 390, "height": 844}) as page:  # a phone: the layout must hold up
        page.set_default_timeout(30_000)
        page.set_default_navigation_timeout(30_000)
        page.goto(live_shop + "/")
        expect(page.get_by_role("heading", name="All products")).to_be_visible()
        # The stylesheet, linked by its content-versioned URL, loaded and applies (shop.css: --bg).
        expect(page.locator("body")).to_have_css("background-color", "rgb(247, 248, 250)")
        page.get_by_role("link", name=re.compile("^Mugs")).click()
        expect(page.get_by_role("heading", name="Mugs")).to_be_visible()

        page.get_by_label("Search products").fill("enamel")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("heading", name=re.compile("Results for"))).to_be_visible()
        page.get_by_role("link", name="Enamel camp mug").click()
        expect(page.get_by_text("$18.00")).to_be_visible()
        page.get_by_label("Quantity").fill("2")
        page.get_by_role("button", name="Add to cart").click()

        expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
        expect(page.get_by_text("$36.00").first).to_be_visible()
        page.get_by_role("link", name="Checkout").click()

        page.get_by_label("Email").fill("grace@example.com")
        page.get_by_label("Full name").fill("Grace Hopper")
        page.get_by_label("Address", exact=True).fill("1 Navy Way")
        page.get_by_label("City").fill("Arlington")
        page.get_by_label("Postal code").fill("22201")
        page.get_by_label("Country").select_option("US")
        page.get_by_label("Card number").fill("4000 0000 0000 0002")
        page.get_by_label("Expiry month (MM)").fill("12")
        page.get_by_label("Expiry year (YYYY)").fill("2099")
        page.get_by_label("CVC").fill("123")
        page.get_by_role("button", name="Place order").click()
        expect(page.get_by_role("alert")).to_contain_text("declined")

        page.get_by_label("Card number").fill("4242 4242 4242 4242")
        page.get_by_label("CVC").fill("123")
        page.get_by_role("button", name="Place order").click()
        expect(page.get_by_role("heading", name=re.compile("Thank you"))).to_be_visible()
        number = page.locator(".order-number").inner_text()
        assert re.fullmatch(r"SO-[0-9A-Z]{8}", number)
        expect(page.get_by_text("$41.00")).to_be_visible()  # 36.00 + 5.00 shipping to the US

        page.get_by_role("link", name="Find an order").click()
        page.get_by_label("Order number").fill(number)
        page.get_by_label("Email used for the order").fill("grace@example.com")
        page.get_by_role("button", name="Find order").click()
        expect(page.get_by_role("heading", name=f"Order {number}")).to_be_visible()
        expect(page.get_by_text("Paid", exact=True)).to_be_visible()
        expect(page.get_by_text("payment captured")).to_be_visible()
    order = httpx.get(f"{live_shop}/api/v1/orders/{number}", params={"email": "grace@example.com"}, timeout=30).json()
    assert order["status"] == "paid" and order["items"][0]["quantity"] == 2


def test_admin_pages_are_styled_and_the_brand_leads_to_the_admin(live_admin):
    from playwright.sync_api import expect

    with _page() as page:
        stylesheets = []
        page.on("response", lambda r: stylesheets.append(r.status) if "/static/" in r.url else None)
        page.goto(live_admin + "/admin/login")
        expect(page.locator("body")).to_have_css("background-color", "rgb(247, 248, 250)")
        # The skip link stays out of sight until focused, as it does once the stylesheet applies.
        expect(page.locator(".skip")).to_have_css("position", "absolute")
        assert stylesheets == [200]
        assert page.get_by_role("link", name=re.compile("^Reference Shop")).get_attribute("href") == "/admin"


def test_screenshots_of_the_storefront(live_shop):
    IMAGES.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import expect

    with _page(viewport={"width": 1280, "height": 800}) as page:
        page.goto(live_shop + "/")
        expect(page.get_by_role("heading", name="All products")).to_be_visible()
        page.screenshot(path=IMAGES / "shop-catalog.png")
        page.goto(live_shop + "/products/MUG-CLASSIC")
        expect(page.get_by_role("button", name="Add to cart")).to_be_visible()
        page.screenshot(path=IMAGES / "shop-product.png")
        page.get_by_role("button", name="Add to cart").click()
        expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
        page.screenshot(path=IMAGES / "shop-cart.png")
    for name in ("shop-catalog.png", "shop-product.png", "shop-cart.png"):
        assert (IMAGES / name).read_bytes().startswith(b"\x89PNG"), name


def test_screenshot_of_the_admin(live_admin, sqlite_settings):
    IMAGES.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import expect

    with _page(viewport={"width": 1280, "height": 800}) as page:
        page.goto(live_admin + "/admin/login")
        page.get_by_label("Admin token").fill(sqlite_settings.admin_token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Products")).to_be_visible()
        page.screenshot(path=IMAGES / "shop-admin-products.png")
    assert (IMAGES / "shop-admin-products.png").read_bytes().startswith(b"\x89PNG")


def test_the_readme_shows_exactly_the_screenshots_the_browser_tests_write():
    """Runs without a browser: the images README.md links exist, are PNGs, and are the ones written above."""
    shown = re.findall(r"!\[[^\]]*\]\((docs/images/[^)]+)\)", (ROOT / "README.md").read_text())
    assert sorted(Path(path).name for path in shown) == sorted(SCREENSHOTS)
    for path in shown:
        assert (ROOT / path).read_bytes().startswith(b"\x89PNG"), path
