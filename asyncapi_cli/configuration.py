"""The stack's configuration: what `up` was given, recorded in the state file, and how a run resolves it.

Precedence, setting by setting: the command's flags, then asyncapi.toml, then what the last `up`
recorded, then the recipe's defaults. So a plain `up`, `plan` or `status` after a flagged `up` means
the same stack, and every change is explicit: `--with X` adds a feature, `--without X` removes it,
`--auth none` turns the API keys off, and editing asyncapi.toml changes what it sets. A recorded value
that came from asyncapi.toml and that the file no longer sets is dropped (the edit removed it), as is one
of a run with no file at all; one that came from a flag stays until a flag or the file changes it.

`[alarms] notify` is recorded in its recorded form only (a URL's path can hold a credential:
notify_endpoints.py), so the record cannot subscribe an endpoint again once it is retired: a run with no
asyncapi.toml at all keeps the recorded list (the subscriptions stand, nothing is unsubscribed); a file
that exists and no longer names it drops it, as for every setting.

Features are settings of their own here ("feature:webhooks" = true/false), so that the file's
`webhooks = false` and `--without webhooks` remove a feature the way `--auth none` removes the keys.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .config import FEATURES, SCHEMA, LoadedConfig
from .errors import InputError
from .names import StackSettings
from .notify_endpoints import recorded_forms

FLAG, FILE = "flag", "file"
NOTIFY = "alarm_notify"  # its URLs are recorded and shown in their recorded form (notify_endpoints.py)
# Settings whose record stands when no asyncapi.toml is read at all (see the module's docstring).
KEPT_WITHOUT_A_FILE = frozenset({NOTIFY})
FEATURE = "feature:"
# The StackSettings fields a user can set (asyncapi.toml's keys and `up`'s flags), besides features.
CONFIGURABLE = frozenset(
    {key.setting for keys in SCHEMA.values() for key in keys.values() if key.setting not in ("", "features")}
    | {"extra_tags"}
)
# Of those, the ones `up`'s flags set: an old state file's values for them are kept as if given by flags.
FLAG_SETTINGS = frozenset({"auth", "cors_origins", "throttle_rate_limit", "throttle_burst_limit"})


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


@dataclass
class Configuration:
    """Setting (a StackSettings field, or "feature:<name>") -> JSON value, and where each came from."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    # from_file: no asyncapi.toml was read (so none of the record's settings was removed from it).
    no_file: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """What the state records: a `notify` URL in its recorded form only (it can hold a credential)."""
        return {"values": _recordable(self.values), "sources": dict(sorted(self.sources.items()))}

    @classmethod
    def from_json(cls, data: Any) -> Configuration:
        if not isinstance(data, dict):
            return cls()
        values = {str(k): v for k, v in dict(data.get("values") or {}).items() if _known(str(k))}
        sources = {str(k): str(v) for k, v in dict(data.get("sources") or {}).items() if k in values}
        return cls(values, sources)

    @property
    def features(self) -> frozenset[str]:
        return frozenset(k[len(FEATURE) :] for k, v in self.values.items() if k.startswith(FEATURE) and v)

    def settings(self, *, local: bool) -> StackSettings:
        """StackSettings for this configuration; the embedded AWS's shorter waits on top (config.py)."""
        overrides: dict[str, Any] = {}
        for key, value in self.values.items():
            if key.startswith(FEATURE):
                continue
            if key in ("cors_origins", "alarm_notify"):
                value = tuple(value or ())
            elif key == "extra_tags":
                value = tuple(tuple(pair) for pair in value or ())
            overrides[key] = value
        overrides["features"] = self.features
        return LoadedConfig(overrides=overrides).settings(local=local)

    def describe(self) -> dict[str, Any]:
        """What `status` shows: the features, the API's options, every other setting given."""
        settings = self.settings(local=False)
        others = {
            k: v
            for k, v in _recordable(self.values).items()
            if not k.startswith(FEATURE) and k not in FLAG_SETTINGS
        }
        return {
            "features": sorted(self.features),
            "auth": settings.auth,
            "cors_origins": list(settings.cors_origins),
            "throttle_rate": settings.throttle_rate_limit,
            "throttle_burst": settings.throttle_burst_limit,
            "settings": others,
            "sources": dict(sorted(self.sources.items())),
        }


def _recordable(values: dict[str, Any]) -> dict[str, Any]:
    shown = dict(sorted(values.items()))
    if NOTIFY in shown:
        shown[NOTIFY] = recorded_forms(shown[NOTIFY])
    return shown


def _known(key: str) -> bool:
    return key in CONFIGURABLE or (key.startswith(FEATURE) and key[len(FEATURE) :] in FEATURES)


def from_file(loaded: LoadedConfig) -> Configuration:
    """What asyncapi.toml sets (features it names true or false included)."""
    values: dict[str, Any] = {}
    for key, value in loaded.overrides.items():
        if key == "features":
            values.update({FEATURE + name: True for name in value})
        elif key in CONFIGURABLE:
            values[key] = _json_value(value)
    values.update({FEATURE + name: False for name in loaded.features_off})
    return Configuration(values, dict.fromkeys(values, FILE), no_file=loaded.path is None)


def from_flags(
    overrides: dict[str, Any], with_features: frozenset[str], without_features: frozenset[str]
) -> Configuration:
    """What the command's flags set: --auth, --cors-origin, --throttle-*, --with, --without."""
    both = sorted(with_features & without_features)
    if both:
        raise InputError(f"--with and --without both name {both[0]!r}; choose one")
    values = {k: _json_value(v) for k, v in overrides.items() if k in CONFIGURABLE}
    values.update({FEATURE + name: True for name in with_features})
    values.update({FEATURE + name: False for name in without_features})
    return Configuration(values, dict.fromkeys(values, FLAG))


def recorded(data: Any, settings_record: dict[str, Any]) -> Configuration:
    """The configuration a state file records; for a file written before it recorded one, what its
    settings record shows (flags' settings and features kept as flags; the rest as the file's)."""
    if isinstance(data, dict) and data:
        return Configuration.from_json(data)
    if not settings_record:
        return Configuration()
    defaults = dataclasses.asdict(StackSettings())
    values: dict[str, Any] = {}
    for key in CONFIGURABLE:
        if key in settings_record and settings_record[key] != _json_value(defaults.get(key)):
            values[key] = settings_record[key]
    values.update(
        {FEATURE + name: True for name in settings_record.get("features") or () if _known(FEATURE + name)}
    )
    sources = {k: FLAG if k in FLAG_SETTINGS or k.startswith(FEATURE) else FILE for k in values}
    return Configuration(values, sources)


def resolve(recorded_: Configuration, file: Configuration, flags: Configuration) -> Configuration:
    """Flags over the file over the record (a file's value the file no longer sets is dropped, but for
    KEPT_WITHOUT_A_FILE's when no file was read)."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in recorded_.values.items():
        kept = file.no_file and key in KEPT_WITHOUT_A_FILE
        if recorded_.sources.get(key) == FILE and key not in file.values and not kept:
            continue
        values[key], sources[key] = value, recorded_.sources.get(key, FLAG)
    for layer in (file, flags):
        for key, value in layer.values.items():
            values[key], sources[key] = value, layer.sources[key]
    return Configuration(values, sources)


def summary_line(description: dict[str, Any]) -> str:
    """One line of `status`: the recorded configuration."""
    features = ", ".join(description["features"]) or "none"
    cors = ", ".join(description["cors_origins"]) or "none"
    line = (
        f"configuration: features {features}; auth {description['auth']}; CORS {cors}; "
        f"throttle {description['throttle_rate']:g}/s burst {description['throttle_burst']}"
    )
    others = description.get("settings") or {}
    if others:
        line += "; " + ", ".join(f"{k} {v}" for k, v in others.items())
    return line
