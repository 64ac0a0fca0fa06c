"""The package's public surface: ``fxsocket_async.__all__``.

Written generically: names the lead adds later are checked the same way, and
every public exception and wire model found in the private modules must be
exported.
"""

from __future__ import annotations

import inspect
import re

import msgspec
import pytest

import fxsocket_async
from fxsocket_async import _exceptions, _protocol

PUBLIC = list(fxsocket_async.__all__)


def _isort_key(name: str) -> tuple[int, list[tuple[int, int, str]]]:
    # The order ruff's RUF022 enforces (the project lints with RUF): SCREAMING_CASE
    # constants, then CamelCase classes, then everything else; natural order within.
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    parts = re.findall(r"\d+|\D+", name)
    return kind, [(0, int(s), "") if s.isdigit() else (1, 0, s) for s in parts]


def test_all_is_sorted() -> None:
    assert sorted(PUBLIC, key=_isort_key) == PUBLIC


def test_the_sort_key_matches_plain_sorting_within_a_kind() -> None:
    # A sanity check on the key itself, on names whose order is not in doubt.
    names = ["__version__", "Quote", "APIError", "DEFAULT_WS_URL", "Account", "M15", "M5"]
    assert sorted(names, key=_isort_key) == [
        "DEFAULT_WS_URL",
        "M5",
        "M15",
        "APIError",
        "Account",
        "Quote",
        "__version__",
    ]


def test_all_has_no_duplicates() -> None:
    duplicates = sorted({name for name in PUBLIC if PUBLIC.count(name) > 1})
    assert duplicates == []


@pytest.mark.parametrize("name", PUBLIC)
def test_every_exported_name_resolves(name: str) -> None:
    assert hasattr(fxsocket_async, name), name
    assert getattr(fxsocket_async, name) is not None


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from fxsocket_async import *", namespace)
    namespace.pop("__builtins__", None)
    assert set(namespace) == set(PUBLIC)


def test_version_is_exported() -> None:
    assert isinstance(fxsocket_async.__version__, str)
    assert "__version__" in PUBLIC


EXCEPTION_CLASSES = sorted(
    name
    for name in _exceptions.__all__
    if inspect.isclass(getattr(_exceptions, name))
    and issubclass(getattr(_exceptions, name), BaseException)
)


def test_the_exception_discovery_finds_the_tree() -> None:
    assert "FxSocketError" in EXCEPTION_CLASSES
    assert "TimeoutError" in EXCEPTION_CLASSES
    assert len(EXCEPTION_CLASSES) >= 20


@pytest.mark.parametrize("name", EXCEPTION_CLASSES)
def test_every_exception_class_is_exported(name: str) -> None:
    assert name in PUBLIC
    assert getattr(fxsocket_async, name) is getattr(_exceptions, name)


def _is_public_model(name: str, obj: object) -> bool:
    return (
        not name.startswith("_")
        and inspect.isclass(obj)
        and issubclass(obj, msgspec.Struct)
        and obj.__module__ == _protocol.__name__
    )


MODEL_CLASSES = sorted(name for name, obj in vars(_protocol).items() if _is_public_model(name, obj))

# The client's own stream messages: wire plumbing the session sends for the
# user, deliberately not part of the public surface.
INTERNAL_MESSAGES = {"Ping", "Subscribe", "Unsubscribe"}


def test_the_model_discovery_finds_the_wire_models() -> None:
    for name in ("Account", "Quote", "QuoteEvent", "UnknownEvent", "HistoryPage", "Trade"):
        assert name in MODEL_CLASSES
    assert not any(name.startswith("_") for name in MODEL_CLASSES)
    assert set(MODEL_CLASSES) >= INTERNAL_MESSAGES


@pytest.mark.parametrize("name", sorted(set(MODEL_CLASSES) - INTERNAL_MESSAGES))
def test_every_model_class_is_exported(name: str) -> None:
    assert name in PUBLIC
    assert getattr(fxsocket_async, name) is getattr(_protocol, name)


@pytest.mark.parametrize("name", PUBLIC)
def test_exported_names_are_the_private_modules_objects(name: str) -> None:
    obj = getattr(fxsocket_async, name)
    for module in (_exceptions, _protocol):
        if name in getattr(module, "__all__", ()):
            assert obj is getattr(module, name)


@pytest.mark.parametrize("name", sorted(INTERNAL_MESSAGES))
def test_the_client_stream_messages_stay_internal(name: str) -> None:
    assert name not in PUBLIC
