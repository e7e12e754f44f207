"""End to end in a real browser: Debian's chromium, driven by Playwright,
against the ``make dev`` stack (``python -m todo_devstack``) on free ports.

Proves API -> outbox -> SNS topic -> the worker's subscribed SQS queue (moto) -> worker
-> API: the completion shows up in the Activity panel. The stack starts the services of
the registry (config/environments.toml), and every one of them
must stop cleanly. Skips without ``/usr/bin/chromium`` (``make browser``
installs it) unless ``REQUIRE_BROWSER=1`` (CI), which makes that a failure.
The screenshot is saved under ``build/e2e/``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from config.paths import ROOT
from tests.support.devstack import Stack, running_devstack

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "build" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.e2e


def unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER", "") in {"1", "true", "yes"}:
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (make browser installs it)")
    if not (ROOT / "services/web/dist/index.html").exists():
        unavailable("services/web/dist is missing (make web-build)")
    with running_devstack(tmp_path) as running:
        yield running


def test_the_todo_flow_in_a_real_browser(stack: Stack, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "todo-flow.png"
    with _browser_page(tmp_path / "chromium-profile") as page:
        page.goto(stack.url)
        todos = page.get_by_role("list", name="Todos")
        _add(page, todos, "Buy milk")
        _rename(page, todos, "Buy milk", "Buy oat milk")
        _complete_and_see_the_worker_record_it(page, "Buy oat milk")
        page.screenshot(path=str(screenshot), full_page=True)
        _delete(page, todos, "Buy oat milk")
        _add_blank_and_see_it_refused(page)
    print(f"e2e: screenshot saved to {screenshot}")
    assert screenshot.stat().st_size > 0
    _stop_and_see_every_process_exit_cleanly(stack)


@contextmanager
def _browser_page(profile: Path) -> Iterator[Page]:
    """A page of a fresh headless chromium; a failure on it saves a screenshot first."""
    failure_screenshot = ARTIFACTS / "todo-flow-failure.png"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            yield page
        except BaseException:
            page.screenshot(path=str(failure_screenshot), full_page=True)
            print(f"e2e: failure screenshot {failure_screenshot}")
            raise
        finally:
            context.close()


def _add(page: Page, todos: Locator, title: str) -> None:
    page.get_by_label("New todo").fill(title)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(todos.get_by_text(title, exact=True)).to_be_visible()


def _rename(page: Page, todos: Locator, title: str, new_title: str) -> None:
    page.get_by_role("button", name=f'Edit "{title}"').click()
    editor = page.get_by_role("textbox", name=f'Edit "{title}"')
    editor.fill(new_title)
    editor.press("Enter")
    expect(todos.get_by_text(new_title, exact=True)).to_be_visible()


def _complete_and_see_the_worker_record_it(page: Page, title: str) -> None:
    page.get_by_role("checkbox", name=f'Complete "{title}"').check()
    expect(page.get_by_role("checkbox", name=f'Complete "{title}"')).to_be_checked()
    # Written by the worker from the SQS message the relay published.
    activity = page.get_by_role("region", name="Activity")
    completed = (
        activity.get_by_role("listitem").filter(has_text="todo.completed").filter(has_text=title)
    )
    expect(completed).to_be_visible(timeout=30_000)


def _delete(page: Page, todos: Locator, title: str) -> None:
    page.get_by_role("button", name=f'Delete "{title}"').click()
    expect(todos.get_by_text(title, exact=True)).to_have_count(0)


def _add_blank_and_see_it_refused(page: Page) -> None:
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("text: must not be blank")


def _stop_and_see_every_process_exit_cleanly(stack: Stack) -> None:
    stack.process.send_signal(signal.SIGTERM)
    code = stack.process.wait(timeout=60)
    output = stack.output()
    assert code == 0, output[-4000:]
    assert "[devstack] stopped" in output
    for service in stack.services:
        assert f"[devstack] {service} stopped (0)" in output
