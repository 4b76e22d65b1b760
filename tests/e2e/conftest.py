"""Browser fixtures: Debian's Chromium driven by Playwright, and ``tessera demo`` as a real process.

Playwright is used only as a driver: its own browser downloads are never installed. The tests skip when
``/usr/bin/chromium`` is absent (``.ci/run`` installs it). Screenshots of every page go to
``test-artifacts/e2e/<test>/``.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.demo.process import DemoProcess

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} is not installed"))


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # not for the whole session: Playwright's sync API keeps an event loop running in this thread, and tests
    # elsewhere that call asyncio.run() must not meet it
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 760})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


class Screenshots:
    """Numbered screenshots of one test's pages."""

    def __init__(self, directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        self.directory = directory
        self.count = 0

    def take(self, page: Page, name: str) -> Path:
        self.count += 1
        path = self.directory / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(ARTIFACTS / request.node.name)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoProcess]:
    """A fresh ``tessera demo`` on free ports, with its database in ``tmp_path/data``."""
    process = DemoProcess(tmp_path / "data", tmp_path)
    try:
        process.wait_ready()
        yield process
    finally:
        code = process.stop()
    assert code == 0, process.stderr()
    assert "Traceback" not in process.stderr()
