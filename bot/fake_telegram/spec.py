"""The Bot API method and type list (``bot/data/bot_api_methods.json``) and what the fake does with it.

* :func:`decode_params` turns a request's raw parameters into typed values exactly the way the official
  server sees them: every top-level value is a string (a JSON body's non-string values are re-serialized),
  then each is read as its documented type.
* :func:`check_object` validates an object the fake is about to return against the documented type, so
  a mistake in the fake itself (a missing required field, a misspelt key) shows up in tests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .model import ApiError, UploadedFile

__all__ = ["MethodSpec", "Spec", "check_object", "decode_params", "load_spec"]

_INT_RE = re.compile(r"-?\d{1,20}")
_PRIMITIVES = {"Integer", "Float", "String", "Boolean", "True", "InputFile"}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: tuple[ParamSpec, ...]
    returns: tuple[str, ...]

    def param(self, name: str) -> ParamSpec | None:
        for p in self.params:
            if p.name == name:
                return p
        return None


class Spec:
    """Documented methods (by name) and types (raw dicts with ``fields`` and/or ``subtypes``)."""

    def __init__(
        self, version: str, methods: dict[str, MethodSpec], types: dict[str, dict[str, Any]]
    ) -> None:
        self.version = version
        self.methods = methods
        self.types = types
        self._lower = {name.lower(): name for name in methods}

    def canonical(self, method: str) -> str | None:
        """The documented spelling of ``method``; Telegram matches method names case-insensitively."""
        return self._lower.get(method.lower())


@cache
def load_spec() -> Spec:
    """Reads the packaged trimmed copy of the Bot API documentation."""
    raw = json.loads(resources.files("bot").joinpath("data", "bot_api_methods.json").read_text("utf-8"))
    methods = {
        name: MethodSpec(
            name=name,
            params=tuple(ParamSpec(p["name"], tuple(p["types"]), bool(p["required"])) for p in m["params"]),
            returns=tuple(m.get("returns", ())),
        )
        for name, m in raw["methods"].items()
    }
    return Spec(version=raw["version"], methods=methods, types=raw["types"])


def _as_text(value: Any) -> str:
    """How the official server sees a top-level JSON value: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def flatten_json_body(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise ApiError.bad("expected a JSON object in the request body")
    return {str(k): _as_text(v) for k, v in body.items() if v is not None}


def _decode_one(param: ParamSpec, raw: str) -> Any:
    types = set(param.types)
    name = param.name
    if types == {"String"}:
        return raw
    if types == {"Integer", "String"}:
        # chat ids: a number or an @username
        if _INT_RE.fullmatch(raw.strip()):
            return int(raw.strip())
        return raw
    if types == {"Integer"}:
        if not _INT_RE.fullmatch(raw.strip()):
            raise ApiError.bad(f'parameter "{name}" must be an Integer, got {raw[:40]!r}')
        return int(raw.strip())
    if types == {"Float"} or types == {"Float", "Integer"}:
        try:
            return float(raw)
        except ValueError:
            raise ApiError.bad(f'parameter "{name}" must be a Float number, got {raw[:40]!r}') from None
    if types == {"Boolean"} or types == {"True"}:
        lowered = raw.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0", ""):
            return False
        raise ApiError.bad(f'parameter "{name}" must be a Boolean, got {raw[:40]!r}')
    if "InputFile" in types:
        return raw  # a file_id, an HTTP URL or attach://<part>
    # a JSON-serialized object or array
    try:
        value = json.loads(raw)
    except ValueError:
        raise ApiError.bad(f"can't parse {name} JSON object") from None
    wants_array = all(t.startswith("Array of") for t in types)
    if wants_array and not isinstance(value, list):
        raise ApiError.bad(f"can't parse {name} JSON object: expected an Array")
    if not wants_array and not isinstance(value, dict):
        raise ApiError.bad(f"can't parse {name} JSON object: expected an Object")
    return value


def decode_params(
    method: MethodSpec, raw: dict[str, str], uploads: dict[str, UploadedFile]
) -> dict[str, Any]:
    """Types the documented parameters of ``method``; raises :class:`ApiError` like Telegram.

    Undocumented parameters are ignored by Telegram and therefore dropped here too (they stay visible
    in the recorded :class:`~bot.fake_telegram.model.Call` under ``"_unknown"``).
    """
    params: dict[str, Any] = {}
    for param in method.params:
        if param.name in raw:
            params[param.name] = _decode_one(param, raw[param.name])
        elif param.name in uploads and "InputFile" in param.types:
            params[param.name] = uploads[param.name]
    unknown = sorted(set(raw) - {p.name for p in method.params})
    if unknown:
        params["_unknown"] = {k: raw[k] for k in unknown}
    for param in method.params:
        if param.required and param.name not in params:
            raise ApiError.bad(f'parameter "{param.name}" is required')
    return params


def _check_type_expr(spec: Spec, expr: str, value: Any, path: str, errors: list[str]) -> None:
    if expr.startswith("Array of "):
        if not isinstance(value, list):
            errors.append(f"{path}: expected {expr}, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check_type_expr(spec, expr[len("Array of ") :], item, f"{path}[{i}]", errors)
        return
    if expr == "Integer":
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: expected Integer, got {value!r}")
    elif expr == "Float":
        if not isinstance(value, int | float) or isinstance(value, bool):
            errors.append(f"{path}: expected Float, got {value!r}")
    elif expr == "String":
        if not isinstance(value, str):
            errors.append(f"{path}: expected String, got {value!r}")
    elif expr == "Boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected Boolean, got {value!r}")
    elif expr == "True":
        if value is not True:
            errors.append(f"{path}: expected True, got {value!r}")
    elif expr == "InputFile":
        return
    else:
        errors.extend(_check_named(spec, expr, value, path))


def _check_named(spec: Spec, type_name: str, value: Any, path: str) -> list[str]:
    tdef = spec.types.get(type_name)
    if tdef is None:
        return [f"{path}: unknown type {type_name}"]
    if "subtypes" in tdef and "fields" not in tdef:
        best: list[str] | None = None
        for sub in tdef["subtypes"]:
            sub_errors = _check_named(spec, sub, value, path)
            if not sub_errors:
                return []
            if best is None or len(sub_errors) < len(best):
                best = sub_errors
        return best or [f"{path}: matches no subtype of {type_name}"]
    if not isinstance(value, dict):
        return [f"{path}: expected {type_name} object, got {type(value).__name__}"]
    errors: list[str] = []
    fields = {f["name"]: f for f in tdef.get("fields", [])}
    for key in value:
        if key not in fields:
            errors.append(f"{path}.{key}: not a field of {type_name}")
    for name, f in fields.items():
        if name not in value:
            if f["required"]:
                errors.append(f"{path}.{name}: required field of {type_name} missing")
            continue
        alternatives: list[list[str]] = []
        for expr in f["types"]:
            errs: list[str] = []
            _check_type_expr(spec, expr, value[name], f"{path}.{name}", errs)
            if not errs:
                alternatives = []
                break
            alternatives.append(errs)
        if alternatives:
            shortest: list[str] = min(alternatives, key=len)
            errors.extend(shortest)
    return errors


def check_object(type_exprs: tuple[str, ...] | list[str], value: Any, path: str = "result") -> list[str]:
    """Problems of ``value`` as one of the documented type expressions (empty list: valid)."""
    spec = load_spec()
    alternatives: list[list[str]] = []
    for expr in type_exprs:
        errs: list[str] = []
        _check_type_expr(spec, expr, value, path, errs)
        if not errs:
            return []
        alternatives.append(errs)
    return min(alternatives, key=len) if alternatives else []
