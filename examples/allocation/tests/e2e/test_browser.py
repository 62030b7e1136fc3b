"""The same live server driven by a headless browser, under rollback: what the API committed in
this test is what the browser is shown. Needs Playwright and a Chromium (Debian's, from apt, is
found on PATH); skipped, saying which is missing, where there is none."""

import shutil

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium on PATH (apt install chromium)")
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: Chromium's sandbox refuses to run as root, as CI does.
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_the_browser_sees_the_allocation_the_test_made(uow_live_server, call, browser):
    call("POST", f"{uow_live_server}/batches", {"ref": "batch-1", "sku": "SKU-LAMP", "qty": 5})
    call("POST", f"{uow_live_server}/allocate", {"orderid": "order-9", "sku": "SKU-LAMP", "qty": 1})

    page = browser.new_page()
    try:
        page.goto(f"{uow_live_server}/allocations/order-9")
        assert '"batchref":"batch-1"' in page.content().replace(" ", "")
    finally:
        page.close()
