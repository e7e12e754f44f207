"""The local issuer's HTML: the sign-in/sign-up page and the error page.

Every value is escaped; the page has no script, so it works under any CSP.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 26rem; margin: 3rem auto; padding: 0 1rem; }
form { border: 1px solid #8884; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
label { display: block; margin: .5rem 0 .25rem; }
input[type=email], input[type=password] { width: 100%; box-sizing: border-box; padding: .4rem; }
button { margin-top: .75rem; padding: .4rem 1rem; }
.error { color: #b00020; font-weight: 600; }
.note { color: #666; font-size: .9rem; }
"""


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _form(
    action: str, heading: str, button: str, oauth: Mapping[str, str], *, email: str, hint: str
) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in oauth.items()
    )
    autocomplete = "current-password" if action == "signin" else "new-password"
    note = f'<p class="note">{escape(hint)}</p>' if hint else ""
    return (
        f'<form method="post" action="/oauth2/authorize" aria-label="{escape(heading)}">'
        f"<h2>{escape(heading)}</h2>{hidden}"
        f'<input type="hidden" name="action" value="{action}">'
        f'<label for="{action}-email">Email</label>'
        f'<input id="{action}-email" name="email" type="email" required '
        f'autocomplete="email" value="{escape(email)}">'
        f'<label for="{action}-password">Password</label>'
        f'<input id="{action}-password" name="password" type="password" required '
        f'autocomplete="{autocomplete}">{note}'
        f'<button type="submit">{escape(button)}</button></form>'
    )


def login_page(
    oauth: Mapping[str, str], *, error: str | None = None, action: str = "", email: str = ""
) -> str:
    """Sign in and sign up, side by side as on Cognito's managed login; ``oauth`` are the
    authorize parameters, carried through as hidden fields."""
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    signin_email = email if action == "signin" else ""
    signup_email = email if action == "signup" else ""
    body = (
        "<h1>Todo: sign in</h1>"
        '<p class="note">The dev stack\'s local identity provider (a stand-in for Cognito).</p>'
        f"{alert}"
        + _form("signin", "Sign in", "Sign in", oauth, email=signin_email, hint="")
        + _form(
            "signup",
            "Create an account",
            "Create account",
            oauth,
            email=signup_email,
            hint="At least 8 characters.",
        )
    )
    return _document("Sign in", body)


def error_page(message: str) -> str:
    body = f'<h1>Sign-in error</h1><p class="error" role="alert">{escape(message)}</p>'
    return _document("Sign-in error", body)
