"""Sign in from a terminal with the device authorization grant (RFC 8628), then call an API with the token: what
``gh auth login`` does, for a command-line tool, a TV or a headless job with no browser of its own.

Against ``tessera demo`` (its API answers ``/api/data`` for scope ``api``)::

    tessera demo --data-dir demo-data                                        # in one terminal
    export TESSERA_DATABASE_URL=sqlite:///demo-data/tessera-demo.db          # in another
    tessera clients create --name "Example CLI" --grant-type device_code --public --json   # -> client_id
    python -m examples.device_login --client-id CLIENT_ID                    # pip install -e . first

It asks the server for a device code and a user code, prints where to enter the code (open the address on any
device, sign in as demo / demo, check the code and allow), polls the token endpoint at the interval the server
gave (5 seconds more each time it is told ``slow_down``) until the person has allowed or denied it or the code
has expired, and calls the API with the access token. ``--issuer`` (default ``http://127.0.0.1:8000``, or
``TESSERA_ISSUER``), ``--api`` (default ``http://127.0.0.1:8001/api/data``) and ``--scope`` (default ``api``) say
where. The endpoints come from the server's metadata (RFC 8414). Exit status 0 once the API answered, 1 if the
sign-in was denied or expired, with one line saying which.
"""

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

__all__ = ["DeviceLoginFailed", "call_api", "device_login", "main"]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: what RFC 8628 §3.5 adds to the interval at every slow_down
SLOW_DOWN_STEP = 5


class DeviceLoginFailed(Exception):
    """The sign-in ended without a token: denied, expired, or refused by the server (the message says which)."""


def device_login(
    http: httpx.Client,
    issuer: str,
    client_id: str,
    *,
    scope: str = "api",
    say: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Sign in with the device grant; the token response. ``say`` shows the person what to do (printed at once,
    even into a pipe); ``sleep`` waits between polls (``time.sleep``)."""
    say = say or _say
    sleep = sleep or time.sleep
    metadata = http.get(f"{issuer}/.well-known/oauth-authorization-server").raise_for_status().json()
    started = http.post(metadata["device_authorization_endpoint"], data={"client_id": client_id, "scope": scope})
    if started.status_code != 200:
        raise DeviceLoginFailed(_described(started))
    device = started.json()
    say(f"Open {device['verification_uri']} and enter the code {device['user_code']}")
    say(f"(or open {device['verification_uri_complete']})")
    interval = int(device.get("interval", 5))
    while True:
        sleep(interval)
        answer = http.post(
            metadata["token_endpoint"],
            data={"grant_type": DEVICE_GRANT, "device_code": device["device_code"], "client_id": client_id},
        )
        if answer.status_code == 200:
            token: dict[str, Any] = answer.json()
            return token
        error = _error(answer)
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += SLOW_DOWN_STEP
            continue
        if error == "access_denied":
            raise DeviceLoginFailed("The sign-in was denied.")
        if error == "expired_token":
            raise DeviceLoginFailed("The code expired before anyone entered it: run this again for a new one.")
        raise DeviceLoginFailed(_described(answer))


def _say(line: str) -> None:
    print(line, flush=True)


def call_api(http: httpx.Client, url: str, access_token: str) -> httpx.Response:
    return http.get(url, headers={"Authorization": f"Bearer {access_token}"})


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _described(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"The server answered {response.status_code}."
    return f"The server answered {response.status_code} {body.get('error')}: {body.get('error_description', '')}"


def main(argv: Sequence[str] | None = None, http: httpx.Client | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.device_login", description=__doc__.split("\n")[0])
    parser.add_argument("--client-id", required=True, help="a public client registered with --grant-type device_code")
    parser.add_argument("--issuer", default=os.environ.get("TESSERA_ISSUER", "http://127.0.0.1:8000"))
    parser.add_argument("--api", default="http://127.0.0.1:8001/api/data", help="called with the access token")
    parser.add_argument("--scope", default="api")
    args = parser.parse_args(argv)
    with http or httpx.Client(timeout=10) as client:
        try:
            token = device_login(client, args.issuer.rstrip("/"), args.client_id, scope=args.scope)
        except DeviceLoginFailed as failed:
            print(failed, file=sys.stderr)
            return 1
        except httpx.HTTPError as exc:
            print(f"Cannot reach {args.issuer}: {exc}", file=sys.stderr)
            return 1
        print(f"Signed in: scope {token.get('scope')!r}, the access token lives {token.get('expires_in')} s.")
        response = call_api(client, args.api, token["access_token"])
        print(f"{args.api} answered {response.status_code}: {response.text.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
