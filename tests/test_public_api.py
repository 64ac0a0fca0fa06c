"""The package's public surface: ``fxsocket_async.__all__`` and ``fxsocket_async.types``.

``fxsocket_async`` exports what users call, configure and catch; the models they
receive live in ``fxsocket_async.types``. Written generically: names the lead
adds later are checked the same way, and every public exception and model found
in the private modules must be exported, in its public module.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import re
import typing
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

import fxsocket_async
import fxsocket_async.types
from fxsocket_async import _exceptions
from fxsocket_async._core import events, models

PUBLIC = list(fxsocket_async.__all__)
TYPES = list(fxsocket_async.types.__all__)


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


# ---------------------------------------------------------------- __all__ lists


@pytest.mark.parametrize("names", [PUBLIC, TYPES], ids=["fxsocket_async", "types"])
def test_all_is_sorted(names: list[str]) -> None:
    assert sorted(names, key=_isort_key) == names


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


@pytest.mark.parametrize("names", [PUBLIC, TYPES], ids=["fxsocket_async", "types"])
def test_all_has_no_duplicates(names: list[str]) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert duplicates == []


@pytest.mark.parametrize("name", PUBLIC)
def test_every_exported_name_resolves(name: str) -> None:
    assert hasattr(fxsocket_async, name), name
    assert getattr(fxsocket_async, name) is not None


@pytest.mark.parametrize("name", TYPES)
def test_every_type_name_resolves(name: str) -> None:
    assert getattr(fxsocket_async.types, name, None) is not None, name


@pytest.mark.parametrize(
    ("module", "names"),
    [("fxsocket_async", PUBLIC), ("fxsocket_async.types", TYPES)],
    ids=["fxsocket_async", "types"],
)
def test_star_import_gives_exactly_all(module: str, names: list[str]) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {module} import *", namespace)
    namespace.pop("__builtins__", None)
    assert set(namespace) == set(names)


def test_version_is_exported() -> None:
    assert isinstance(fxsocket_async.__version__, str)
    assert "__version__" in PUBLIC


def test_the_models_live_in_types_not_at_the_top() -> None:
    assert "types" in PUBLIC
    assert inspect.ismodule(fxsocket_async.types)
    assert set(PUBLIC).isdisjoint(TYPES)


# ------------------------------------------------------------------- exceptions

EXCEPTION_CLASSES = sorted(
    name
    for name in _exceptions.__all__
    if inspect.isclass(getattr(_exceptions, name))
    and issubclass(getattr(_exceptions, name), BaseException)
)


def test_the_exception_discovery_finds_the_tree() -> None:
    assert "FxSocketError" in EXCEPTION_CLASSES
    assert "TimeoutError" in EXCEPTION_CLASSES
    assert {"UsageError", "ValidationError", "SessionClosedError", "BadRequestError"} <= set(
        EXCEPTION_CLASSES
    )
    assert len(EXCEPTION_CLASSES) >= 20


@pytest.mark.parametrize("name", EXCEPTION_CLASSES)
def test_every_exception_class_is_exported(name: str) -> None:
    assert name in PUBLIC
    assert getattr(fxsocket_async, name) is getattr(_exceptions, name)


# ----------------------------------------------------------------------- models


def _public_structs(module: Any) -> set[str]:
    return {
        name
        for name in module.__all__
        if inspect.isclass(obj := getattr(module, name)) and issubclass(obj, msgspec.Struct)
    }


#: Wire plumbing users never receive: the client's own stream messages, the
#: server's acknowledgements, pongs and error frames (the session turns them into
#: results and exceptions), request bodies, raw replies and the unions over them.
PLUMBING = {
    "Pong",
    "Subscribed",
    "Unsubscribed",
    "QuoteEvent",
    "ErrorEvent",
    "Subscribe",
    "Unsubscribe",
    "Ping",
    "CreateOrderRequest",
    "ModifyOrderRequest",
    "LinkAccountRequest",
    "CandlesReply",
    "ErrorBody",
    "ServerEvent",
    "StreamEvent",
    "ClientMessage",
}
MODEL_STRUCTS = sorted((_public_structs(models) | _public_structs(events)) - PLUMBING)
#: What users receive, named: REST replies, stream events, counters.
RECEIVED = {
    "Account",
    "AccountSummary",
    "Position",
    "OrderReply",
    "ModifyOrderReply",
    "CloseOrderReply",
    "Quote",
    "Candle",
    "Trade",
    "HistoryPage",
    "OrderOpened",
    "OrderModified",
    "OrderFilled",
    "OrderClosed",
    "OrderCancelled",
    "AccountUpdate",
    "AccountStatusChanged",
    "UnknownEvent",
    "StreamGap",
    "StreamStats",
    "SubscriptionStats",
}


def test_the_model_discovery_finds_the_wire_models() -> None:
    for name in ("Account", "Quote", "UnknownEvent", "HistoryPage", "Trade", "OrderOpened"):
        assert name in MODEL_STRUCTS
    assert not any(name.startswith("_") for name in MODEL_STRUCTS)
    # The plumbing is there to be left out: the private modules do define it.
    defined = set(models.__all__) | set(events.__all__)
    assert {"Ping", "Subscribe", "Pong", "QuoteEvent", "CreateOrderRequest"} <= defined


@pytest.mark.parametrize("name", sorted(set(MODEL_STRUCTS) | RECEIVED))
def test_every_received_model_is_in_types(name: str) -> None:
    assert name in TYPES
    model = getattr(fxsocket_async.types, name)
    assert inspect.isclass(model)
    assert issubclass(model, msgspec.Struct)
    for module in (models, events):
        if name in module.__all__:
            assert model is getattr(module, name)


@pytest.mark.parametrize("name", TYPES)
def test_types_holds_models_and_their_aliases_only(name: str) -> None:
    obj = getattr(fxsocket_async.types, name)
    if inspect.isclass(obj):
        assert issubclass(obj, msgspec.Struct), name
    else:  # a Literal of values (AccountStatus) or a union of models (AccountEvent)
        assert typing.get_origin(obj) in (typing.Literal, typing.Union, type(int | str)), name
        assert name not in PLUMBING


@pytest.mark.parametrize("name", sorted(PLUMBING))
def test_the_plumbing_stays_internal(name: str) -> None:
    assert name not in PUBLIC
    assert name not in TYPES
    assert not hasattr(fxsocket_async, name)


@pytest.mark.parametrize("name", PUBLIC)
def test_exported_names_are_the_private_modules_objects(name: str) -> None:
    obj = getattr(fxsocket_async, name)
    if name in _exceptions.__all__:
        assert obj is getattr(_exceptions, name)
    assert not (inspect.isclass(obj) and issubclass(obj, msgspec.Struct)), (
        f"{name} is a model: it belongs in fxsocket_async.types"
    )


# ------------------------------------------------------------- public modules

TOP_CLASSES = sorted(name for name in PUBLIC if inspect.isclass(getattr(fxsocket_async, name)))
TYPE_CLASSES = sorted(
    name for name in TYPES if inspect.isclass(getattr(fxsocket_async.types, name))
)


def test_the_class_discovery_finds_them() -> None:
    assert {"AsyncFxSocket", "AuthenticationError", "RetryPolicy", "Remove"} <= set(TOP_CLASSES)
    assert {"Account", "Quote", "OrderOpened", "StreamStats"} <= set(TYPE_CLASSES)


@pytest.mark.parametrize("name", TOP_CLASSES)
def test_every_public_class_reports_the_package(name: str) -> None:
    cls = getattr(fxsocket_async, name)
    assert cls.__module__ == "fxsocket_async"
    assert cls.__qualname__ == name


@pytest.mark.parametrize("name", TYPE_CLASSES)
def test_every_model_reports_types(name: str) -> None:
    cls = getattr(fxsocket_async.types, name)
    assert cls.__module__ == "fxsocket_async.types"
    assert cls.__qualname__ == name


def test_the_examples_of_the_issue() -> None:
    assert fxsocket_async.AuthenticationError.__module__ == "fxsocket_async"
    assert fxsocket_async.types.Quote.__module__ == "fxsocket_async.types"
    assert "fxsocket_async.types.Quote" in repr(fxsocket_async.types.Quote)


@pytest.mark.parametrize("name", ["always_open", "forex_hours"])
def test_public_functions_report_the_package(name: str) -> None:
    assert getattr(fxsocket_async, name).__module__ == "fxsocket_async"


# ------------------------------------------------------------------- pickling


def _an_error(cls: type[fxsocket_async.FxSocketError]) -> fxsocket_async.FxSocketError:
    if issubclass(cls, fxsocket_async.APIError):
        return cls("what happened", status=400, code="some_code")
    if cls is fxsocket_async.AccountError:
        return cls("terminal failed", account_id="acc-1")
    return cls("what happened")


@pytest.mark.parametrize("name", EXCEPTION_CLASSES)
def test_errors_round_trip_through_pickle_by_their_public_name(name: str) -> None:
    cls = getattr(fxsocket_async, name)
    # The class pickles as fxsocket_async.<Name>, not by its private module.
    assert b"fxsocket_async._exceptions" not in pickle.dumps(cls)
    assert pickle.loads(pickle.dumps(cls)) is cls
    error = _an_error(cls)
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert type(clone) is cls
        assert type(clone).__module__ == "fxsocket_async"
        assert vars(clone) == vars(error)
        assert str(clone) == str(error)


_WHEN = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _sample(kind: msgspec.inspect.Type) -> Any:
    """A value of ``kind``: the first choice for every field (enough to build any model)."""
    mi = msgspec.inspect
    if isinstance(kind, mi.StructType):
        return kind.cls(**{f.name: _sample(f.type) for f in kind.fields if f.required})
    if isinstance(kind, mi.UnionType):
        return _sample(next(t for t in kind.types if not isinstance(t, mi.NoneType)))
    if isinstance(kind, mi.LiteralType):
        return kind.values[0]
    if isinstance(kind, mi.ListType | mi.TupleType | mi.VarTupleType | mi.SetType):
        return []
    if isinstance(kind, mi.DictType):
        return {}
    simple: dict[type[mi.Type], Any] = {
        mi.StrType: "x",
        mi.IntType: 1,
        mi.FloatType: 1.5,
        mi.BoolType: True,
        mi.DateTimeType: _WHEN,
        mi.NoneType: None,
        mi.AnyType: None,
    }
    return simple[type(kind)]


@pytest.mark.parametrize("name", TYPE_CLASSES)
def test_models_round_trip_through_pickle_by_their_public_name(name: str) -> None:
    cls = getattr(fxsocket_async.types, name)
    model = _sample(msgspec.inspect.type_info(cls))
    assert type(model) is cls
    data = pickle.dumps(model)
    assert b"fxsocket_async._core" not in data  # pickled under fxsocket_async.types.<Name>
    assert b"fxsocket_async._stream" not in data
    clone = pickle.loads(data)
    assert type(clone) is cls
    assert clone == model


def test_a_real_model_round_trips_with_its_values() -> None:
    quote = fxsocket_async.types.Quote(symbol="EURUSD", bid=1.1, ask=1.1002, time=_WHEN)
    assert pickle.loads(pickle.dumps(quote)) == quote
    event = fxsocket_async.types.OrderOpened(
        account_id="acc-1",
        seq=7,
        data=fxsocket_async.types.OrderOpenedData(
            id="ord-1", symbol="EURUSD", type="BUY", volume=0.1, price=1.1
        ),
    )
    clone = pickle.loads(pickle.dumps(event))
    assert clone == event
    assert type(clone.data).__module__ == "fxsocket_async.types"
