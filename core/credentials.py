"""Registry credentials in the OS keyring (never plain text on disk, never in process arguments)."""

from __future__ import annotations

from dataclasses import dataclass

SERVICE_PREFIX = "railpack-tui:"


@dataclass(frozen=True)
class Credential:
    host: str
    username: str
    password: str = ""

    def __repr__(self) -> str:  # never print the secret
        return f"Credential(host={self.host!r}, username={self.username!r}, password='***')"


@dataclass(frozen=True)
class KeyringStatus:
    usable: bool
    backend: str
    detail: str


def keyring_status() -> KeyringStatus:
    import keyring
    from keyring.backends import fail

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken backend configuration
        return KeyringStatus(False, "error", f"the keyring could not be loaded: {exc}")
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if isinstance(backend, fail.Keyring):
        return KeyringStatus(False, name, "no OS keyring is available (no Secret Service on this session)")
    return KeyringStatus(True, name, f"OS keyring: {name}")


def service_name(host: str) -> str:
    return SERVICE_PREFIX + host


def save(cred: Credential) -> None:
    import keyring

    keyring.set_password(service_name(cred.host), cred.username, cred.password)


def load(host: str, username: str) -> Credential | None:
    import keyring

    password = keyring.get_password(service_name(host), username)
    if password is None:
        return None
    return Credential(host, username, password)


def delete(host: str, username: str) -> None:
    import keyring

    keyring.delete_password(service_name(host), username)
