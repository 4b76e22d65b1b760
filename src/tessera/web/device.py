"""The device grant's verification pages (RFC 8628 §3.3): a person enters the code a device shows, signs in,
and allows or denies it, as on the consent page.

    GET  /device[?user_code=...]   the form: a field labelled Code (filled in from verification_uri_complete,
                                   which still waits for Continue: RFC 8628 §5.4), a button Continue
    POST /device                   look the code up (rate limited); on to /device/consent
    GET  /device/consent           sign in first if needed, then the consent page, every time (a consent
                                   remembered for the client does not skip it: the code may be someone else's)
    POST /device/consent           Allow or Deny, once; on to /device/done: "Device connected" or "Device denied"

Entering a code is where guessing would happen, so each lookup is counted before it is made, per address and over
the whole code space, and given back only when the code matched
(:meth:`tessera.ratelimit.RateLimits.user_code_attempt`). From there on the device authorization is named by a
reference signed with the server's secret key (its digest and when it was signed), never by the user code: the
consent page is no place to guess codes, and signing in (which starts a fresh session) does not lose it.
"""

from flask import current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadData, URLSafeTimedSerializer

from tessera.server.device import normal_user_code, user_code_digest
from tessera.store import DeviceRecord
from tessera.web.auth import wait_words
from tessera.web.context import current_server
from tessera.web.security import check_csrf, csrf_token, current_user

__all__ = ["consent", "done", "enter"]

_SALT = "tessera.device-consent"
_MAX_FIELD = 64
#: where the outcome waits for /device/done, in the session
_OUTCOME = "device_outcome"
_OUTCOMES = {
    "connected": ("Device connected", "You can go back to your device: it is signed in."),
    "denied": ("Device denied", "The device was not given access. You can close this page."),
}
_NOT_A_CODE = "That is not a code from a device: it has eight letters, like BCDF-GHJK."
_NO_SUCH_CODE = "That code is not valid or has expired. Check the code on your device, or start again there."
_GONE = "This sign-in has expired or was already answered. Start again on your device for a new code."


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=_SALT)


def _form(error: str | None = None, code: str = "", status: int = 200) -> tuple[str, int]:
    page = render_template(
        "device/enter.html", csrf_token=csrf_token(), error=error, code=code, form_action=url_for("device")
    )
    return page, status


def _error_page(message: str, status: int = 400) -> tuple[str, int]:
    return render_template(
        "errors/error.html", title="This code cannot be used", message=message, status=status
    ), status


def enter() -> ResponseReturnValue:
    if request.method == "GET":
        return _form(code=request.args.get("user_code", "")[:_MAX_FIELD])
    check_csrf()
    typed = request.form.get("user_code", "")[:_MAX_FIELD]
    normal = normal_user_code(typed)
    if normal is None:  # not counted: no lookup is made, and a typo should not use up anyone's attempts
        return _form(_NOT_A_CODE, typed, 400)
    context = current_server().context
    attempt = context.rate_limits.user_code_attempt(request.remote_addr)
    if not attempt.allowed:
        message = f"Too many codes tried. Please wait {wait_words(attempt.retry_after)} and try again."
        page, _ = _form(message, typed, 429)
        return page, 429, {"Retry-After": str(attempt.retry_after)}
    device = context.store.devices.by_user_code(user_code_digest(normal))
    if device is None or not device.pending or device.expires_at <= context.now():
        return _form(_NO_SUCH_CODE, typed, 400)
    context.rate_limits.user_code_matched(attempt)
    reference = _serializer().dumps(device.digest)
    return redirect(url_for("device_consent", request=reference), code=303)


def _referenced() -> DeviceRecord | None:
    """The device authorization the page's signed reference names, if the reference is this server's and no
    older than a device code lives."""
    settings = current_server().context.settings
    try:
        device_digest = _serializer().loads(request.args.get("request", ""), max_age=settings.device_code_ttl)
    except BadData:
        return None
    if not isinstance(device_digest, str):  # pragma: no cover - only this module signs references
        return None
    return current_server().context.store.devices.get(device_digest)


def consent() -> ResponseReturnValue:
    device = _referenced()
    if device is None:
        return _error_page(_GONE)
    user = current_user()
    if user is None:
        return redirect(url_for("login", next=request.full_path), code=302)
    server = current_server()
    context = server.context
    client = server.query_client(device.client_id)
    if client is None or not device.pending or device.expires_at <= context.now():
        return _error_page(_GONE)
    requested = device.scope.split()
    if request.method == "POST":
        check_csrf()
        chosen = [s for s in requested if s in request.form.getlist("grant_scope")]
        allowed = request.form.get("decision") == "allow" and bool(chosen)
        scope = " ".join(chosen) if allowed else None
        if not context.store.devices.decide(device.digest, user.id, scope=scope, now=context.now()):
            return _error_page(_GONE)
        if allowed:
            context.store.consents.save(user.id, client.client_id, chosen)
        session[_OUTCOME] = "connected" if allowed else "denied"
        return redirect(url_for("device_done"), code=303)
    descriptions = context.store.scopes.described(requested)
    return render_template(
        "consent/consent.html",
        csrf_token=csrf_token(),
        client_name=client.name,
        username=user.username,
        scopes=[(s, descriptions.get(s, "")) for s in requested],
        form_action=request.full_path,
        logout_url=url_for("logout"),
        device=True,
    )


def done() -> ResponseReturnValue:
    outcome = session.pop(_OUTCOME, None)
    if outcome not in _OUTCOMES:
        return redirect(url_for("device"), code=302)
    title, message = _OUTCOMES[outcome]
    return render_template("device/done.html", title=title, message=message)
