"""The cache refs the Registries screen remembers: names and options only (ref, username,
insecure, CA file), kept under the `registries` key of the app's settings file in
`paths.config_dir()`. Passwords live in the keyring (or session memory), never here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SETTINGS_KEY = "registries"


@dataclass(frozen=True)
class SavedRef:
    ref: str
    username: str = ""
    insecure: bool = False
    ca_cert: str = ""

    @classmethod
    def from_json(cls, data: Any) -> "SavedRef | None":
        if not isinstance(data, dict) or not isinstance(data.get("ref"), str) or not data["ref"]:
            return None
        return cls(ref=data["ref"], username=str(data.get("username") or ""), insecure=bool(data.get("insecure")),
                   ca_cert=str(data.get("ca_cert") or ""))


def load_refs(settings: Any) -> list[SavedRef]:
    raw = settings.get(SETTINGS_KEY, []) if settings is not None else []
    out = []
    for item in raw if isinstance(raw, list) else []:
        saved = SavedRef.from_json(item)
        if saved is not None and all(s.ref != saved.ref for s in out):
            out.append(saved)
    return out


def put_ref(settings: Any, saved: SavedRef, replacing: str | None = None) -> list[SavedRef]:
    """Add or update (by ref; `replacing` renames an entry in place)."""
    items = load_refs(settings)
    keys = {saved.ref, replacing} - {None}
    index = next((i for i, s in enumerate(items) if s.ref in keys), None)
    items = [s for s in items if s.ref not in keys]
    items.insert(len(items) if index is None else index, saved)
    settings.set(SETTINGS_KEY, [asdict(s) for s in items])
    return items


def drop_ref(settings: Any, ref: str) -> list[SavedRef]:
    items = [s for s in load_refs(settings) if s.ref != ref]
    settings.set(SETTINGS_KEY, [asdict(s) for s in items])
    return items
