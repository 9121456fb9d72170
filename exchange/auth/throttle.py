"""Login throttling: slow down the guesser, never lock out the owner for good.

- Every login POST counts against the client address (LOGIN_LIMIT_PER_ADDRESS, the route's
  Flask-Limiter decorator).
- Failed logins count against the pair (account, address) (LOGIN_LIMIT_PER_ACCOUNT_ADDRESS):
  one address guessing one account is stopped early, and nobody else is.
- Failed logins also count against the account from all addresses, over a day. Past
  LOGIN_ACCOUNT_LOCK_AFTER of them, each further failure locks the account for
  LOGIN_ACCOUNT_LOCK_SECONDS, doubled for every failure since (up to
  LOGIN_ACCOUNT_LOCK_MAX_SECONDS). Attempts refused while locked do not count, so a
  distributed guesser gets ever fewer guesses.
- The lock does not apply to a browser that logged into that account before: a successful
  login leaves a signed "remembered device" cookie that exempts it.

Counters live in the limiter's storage (Redis in production), shared by every process.
"""

import hashlib

from flask import current_app, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse_many

from ..extensions import limiter

DEVICE_COOKIE = "exchange_device"
DEVICE_ACCOUNTS = 5  # accounts remembered per browser (a shared computer)
FAILURE_WINDOW = 24 * 3600


def _key(email_key):
    # Keys in the storage and the device cookie name accounts only by a digest.
    return hashlib.sha256(email_key.encode()).hexdigest()[:32]


def _pair_limits():
    return parse_many(current_app.config["LOGIN_LIMIT_PER_ACCOUNT_ADDRESS"])


def address_blocked(email_key, address):
    """True when this address has failed too often on this account."""
    key = _key(email_key)
    return not all(
        limiter.limiter.test(item, "login-pair", key, address) for item in _pair_limits()
    )


def lock_seconds(failures):
    """How long `failures` failed logins (over a day, from anywhere) lock the account."""
    config = current_app.config
    beyond = failures - config["LOGIN_ACCOUNT_LOCK_AFTER"]
    if beyond < 0:
        return 0
    return min(
        config["LOGIN_ACCOUNT_LOCK_SECONDS"] * 2 ** min(beyond, 32),
        config["LOGIN_ACCOUNT_LOCK_MAX_SECONDS"],
    )


def account_locked(email_key):
    key = _key(email_key)
    failures = limiter.storage.get(f"login-failures/{key}")
    if lock_seconds(failures) == 0:
        return False
    # One lock per failure count, so that each lock gets its own expiry.
    return limiter.storage.get(f"login-lock/{key}/{failures}") > 0


def count_failure(email_key, address):
    key = _key(email_key)
    for item in _pair_limits():
        limiter.limiter.hit(item, "login-pair", key, address)
    failures = limiter.storage.incr(f"login-failures/{key}", FAILURE_WINDOW)
    seconds = lock_seconds(failures)
    if seconds:
        limiter.storage.incr(f"login-lock/{key}/{failures}", seconds)


def count_success(email_key, address):
    """The owner at this address is back: forget its failures (not the account's)."""
    key = _key(email_key)
    for item in _pair_limits():
        limiter.limiter.clear(item, "login-pair", key, address)


# --- remembered devices ---------------------------------------------------------------------


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="exchange.remembered-device")


def _device_max_age():
    return current_app.config["REMEMBERED_DEVICE_DAYS"] * 24 * 3600


def _remembered_keys():
    value = request.cookies.get(DEVICE_COOKIE)
    if not value:
        return []
    try:
        keys = _serializer().loads(value, max_age=_device_max_age())
    except BadSignature:  # also raised for an expired cookie
        return []
    return keys if isinstance(keys, list) else []


def device_remembered(email_key):
    """True when this browser logged into the account before (a signed cookie says so)."""
    return _key(email_key) in _remembered_keys()


def remember_device(response, email_key):
    key = _key(email_key)
    keys = [k for k in _remembered_keys() if k != key][-(DEVICE_ACCOUNTS - 1) :] + [key]
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps(keys),
        max_age=_device_max_age(),
        path=url_for("auth.login"),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response
