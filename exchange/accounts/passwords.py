"""Password hashing with argon2id (argon2-cffi). Parameters follow RFC 9106's second
recommended option (64 MiB, 3 passes, 4 lanes); a hash made with other parameters is
replaced at the next successful login."""

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST = 3
MEMORY_COST = 65536  # KiB
PARALLELISM = 4

hasher = PasswordHasher(
    time_cost=TIME_COST, memory_cost=MEMORY_COST, parallelism=PARALLELISM, type=Type.ID
)
# A valid hash to verify against when the account does not exist, so that the answer takes
# as long for an unknown email as for a wrong password.
_DUMMY = hasher.hash("exchange: no such account")


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)
