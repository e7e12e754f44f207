"""End to end in a real browser: Debian's chromium, driven by Playwright,
against the ``make dev`` stack (``python -m todo_devstack``) on free ports.

Proves the sign-in (the code flow with PKCE through the local issuer's pages, docs/auth.md)
and that each user sees only their own todos; and API -> outbox -> SNS topic -> the
worker's subscribed SQS queue (moto) -> worker -> API: the completion shows up in the
Activity panel. The stack starts the issuer and the services of the registry
(config/environments.toml), and every one of them must stop cleanly. Skips without
``/usr/bin/chromium`` (``make browser`` installs it) unless ``REQUIRE_BROWSER=1`` (CI),
which makes that a failure. The screenshot is saved under ``build/e2e/``.
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
        _see_the_api_refuse_a_request_without_a_token(page, stack)
        page.goto(stack.url)
        _sign_in(page, stack.demo_email, stack.demo_password)
        todos = page.get_by_role("list", name="Todos")
        _add(page, todos, "Buy milk")
        _rename(page, todos, "Buy milk", "Buy oat milk")
        _complete_and_see_the_worker_record_it(page, "Buy oat milk")
        page.screenshot(path=str(screenshot), full_page=True)
        _delete(page, todos, "Buy oat milk")
        _add_blank_and_see_it_refused(page)
        _add(page, todos, "Only for the demo user")
        _reload_and_stay_signed_in(page, stack.demo_email, todos, "Only for the demo user")
        _sign_out(page)

        _sign_up(page, "grace@example.com", "grace's long password")
        _see_no_todos_and_no_activity(page, todos)
        _add(page, todos, "Grace's own todo")
        _sign_out(page)

        _sign_in(page, stack.demo_email, stack.demo_password)
        expect(todos.get_by_text("Only for the demo user", exact=True)).to_be_visible()
        expect(todos.get_by_text("Grace's own todo", exact=True)).to_have_count(0)
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


def _see_the_api_refuse_a_request_without_a_token(page: Page, stack: Stack) -> None:
    response = page.request.get(f"{stack.url}api/todos")
    assert response.status == 401, response.text()
    assert response.headers["www-authenticate"].startswith("Bearer")


def _issuer_form(page: Page, name: str, email: str, password: str) -> None:
    """Fills and sends one of the local issuer's forms ("Sign in", "Create an account")."""
    form = page.get_by_role("form", name=name)
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button").click()


def _sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_role("button", name="Sign in", exact=True).click()
    # A wrong password first: the issuer's page says so and lets the visitor try again.
    _issuer_form(page, "Sign in", email, "not the password")
    expect(page.get_by_role("alert")).to_have_text("Incorrect email or password.")
    _issuer_form(page, "Sign in", email, password)
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def _sign_up(page: Page, email: str, password: str) -> None:
    page.get_by_role("button", name="Create account").click()
    _issuer_form(page, "Create an account", email, password)
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def _reload_and_stay_signed_in(page: Page, email: str, todos: Locator, title: str) -> None:
    """Tokens live in memory only: a reload goes back through the issuer, whose session
    cookie answers without a prompt."""
    page.reload()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()
    expect(todos.get_by_text(title, exact=True)).to_be_visible()


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("list", name="Todos")).to_have_count(0)


def _see_no_todos_and_no_activity(page: Page, todos: Locator) -> None:
    expect(page.get_by_text("Nothing to do yet. Add a todo above.")).to_be_visible()
    expect(todos.get_by_role("listitem")).to_have_count(0)
    activity = page.get_by_role("region", name="Activity")
    expect(activity.get_by_text("No activity yet.")).to_be_visible()


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
    for service in [*stack.services, "issuer"]:
        assert f"[devstack] {service} stopped (0)" in output
