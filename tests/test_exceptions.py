"""The exception tree, and how an error reply becomes one of its classes."""

from __future__ import annotations

import builtins
import copy
import inspect
import pickle

import pytest

import fxsocket_async as fx
from fxsocket_async import _exceptions
from fxsocket_async._dialects.reference import decode_error

# (status, code, exact class) for every pair the contract names, plus the
# fallbacks: another code keeps its status's class.
CONTRACT_CASES: list[tuple[int, str, type[fx.APIError]]] = [
    (400, "invalid_volume", fx.BadRequestError),
    (400, "invalid_request", fx.BadRequestError),
    (400, "broker_rejected", fx.BrokerRejectedError),
    (400, "account_required", fx.AccountRequiredError),
    (401, "unauthorized", fx.AuthenticationError),
    (402, "plan_limit", fx.PlanLimitError),
    (403, "forbidden", fx.PermissionDeniedError),
    (404, "not_found", fx.NotFoundError),
    (404, "order_not_found", fx.NotFoundError),
    (409, "already_linked", fx.AlreadyLinkedError),
    (409, "idempotency_conflict", fx.IdempotencyConflictError),
    (409, "state_conflict", fx.ConflictError),
    (429, "rate_limited", fx.RateLimitedError),
    (500, "internal_error", fx.ServerError),
    (502, "bad_gateway", fx.ServerError),
    (503, "terminal_not_ready", fx.TerminalNotReadyError),
    (503, "maintenance", fx.ServerError),
    (504, "gateway_timeout", fx.ServerError),
    (418, "teapot", fx.UnexpectedStatusError),
    (302, "moved", fx.UnexpectedStatusError),
    (422, "unprocessable", fx.UnexpectedStatusError),
]


@pytest.mark.parametrize(("status", "code", "cls"), CONTRACT_CASES)
def test_error_from_response_maps_status_and_code(
    status: int, code: str, cls: type[fx.APIError]
) -> None:
    exc = _exceptions.error_from_response(status, code, "what happened")
    assert type(exc) is cls
    assert (exc.status, exc.code, exc.message) == (status, code, "what happened")


@pytest.mark.parametrize(("status", "code", "cls"), CONTRACT_CASES)
def test_decode_error_maps_a_contract_body(status: int, code: str, cls: type[fx.APIError]) -> None:
    body = b'{"error": "' + code.encode() + b'", "message": "the server says no"}'
    exc = decode_error(status, body)
    assert type(exc) is cls
    assert exc.status == status
    assert exc.code == code
    assert exc.message == "the server says no"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, fx.BadRequestError),
        (401, fx.AuthenticationError),
        (402, fx.PlanLimitError),
        (403, fx.PermissionDeniedError),
        (404, fx.NotFoundError),
        (409, fx.ConflictError),
        (429, fx.RateLimitedError),
        (500, fx.ServerError),
        (503, fx.ServerError),
        (418, fx.UnexpectedStatusError),
    ],
)
def test_an_unknown_code_keeps_its_status_class(status: int, cls: type[fx.APIError]) -> None:
    exc = decode_error(status, b'{"error":"brand_new_code_2027","message":"m"}')
    assert type(exc) is cls
    assert exc.code == "brand_new_code_2027"


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (500, "broker_rejected", fx.ServerError),
        (409, "account_required", fx.ConflictError),
        (400, "terminal_not_ready", fx.BadRequestError),
        (503, "already_linked", fx.ServerError),
    ],
)
def test_a_code_refines_only_its_own_status(status: int, code: str, cls: type[fx.APIError]) -> None:
    assert type(decode_error(status, b'{"error":"' + code.encode() + b'"}')) is cls


def _retry_after(header: str | None) -> float | None:
    body = b'{"error":"rate_limited","message":"60 requests per second"}'
    exc = decode_error(429, body, retry_after=header)
    assert isinstance(exc, fx.RateLimitedError)
    assert (exc.status, exc.code, exc.message) == (429, "rate_limited", "60 requests per second")
    return exc.retry_after


def test_rate_limited_carries_retry_after() -> None:
    assert _retry_after("2") == 2.0
    assert _retry_after("0.5") == 0.5
    assert _retry_after(None) is None
    assert _retry_after("later") is None
    assert _retry_after("-1") == 0.0


def test_rate_limited_from_error_from_response() -> None:
    exc = _exceptions.error_from_response(429, "rate_limited", "slow down", retry_after=3.0)
    assert isinstance(exc, fx.RateLimitedError)
    assert exc.retry_after == 3.0
    assert fx.RateLimitedError("m").retry_after is None


def test_a_non_json_error_body_gives_the_status_class() -> None:
    body = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n" + b"<!-- padding -->" * 40 + b"</html>"
    )
    exc = decode_error(502, body)
    assert type(exc) is fx.ServerError
    assert exc.status == 502
    assert exc.code == "http_502"
    assert exc.message.startswith("<html>")
    assert "502 Bad Gateway" in exc.message
    # Only the start of a long body is kept.
    assert len(exc.message) < 200
    assert "</html>" not in exc.message


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, b"Bad Request", fx.BadRequestError),
        (401, b"Unauthorized\n", fx.AuthenticationError),
        (404, b'{"detail":"Not Found"}', fx.NotFoundError),
        (409, b'["conflict"]', fx.ConflictError),
        (503, b"Service Unavailable", fx.ServerError),
        (418, b"I'm a teapot", fx.UnexpectedStatusError),
    ],
)
def test_a_body_off_the_contract_gives_the_status_class(
    status: int, body: bytes, cls: type[fx.APIError]
) -> None:
    exc = decode_error(status, body)
    assert type(exc) is cls
    assert exc.code == f"http_{status}"
    assert exc.message == body.decode().strip()


def test_an_empty_error_body() -> None:
    exc = decode_error(500, b"")
    assert type(exc) is fx.ServerError
    assert exc.code == "http_500"
    assert exc.message == "HTTP 500 with no error body"
    assert decode_error(502, b"  \n").message == "HTTP 502 with no error body"


def test_a_non_json_429_still_carries_retry_after() -> None:
    exc = decode_error(429, b"<html>Too Many Requests</html>", retry_after="7")
    assert isinstance(exc, fx.RateLimitedError)
    assert exc.code == "http_429"
    assert exc.retry_after == 7.0


def test_an_error_body_without_message_uses_the_code() -> None:
    exc = decode_error(404, b'{"error":"order_not_found"}')
    assert exc.message == "order_not_found"
    exc = decode_error(404, b'{"error":"order_not_found","message":""}')
    assert exc.message == "order_not_found"


def test_an_error_body_with_extra_fields_decodes() -> None:
    exc = decode_error(
        400, b'{"error":"invalid_volume","message":"too small","field":"volume","min":0.01}'
    )
    assert type(exc) is fx.BadRequestError
    assert exc.code == "invalid_volume"
    assert exc.message == "too small"


# ------------------------------------------------------------ attributes and str


def test_str_shows_status_code_and_message() -> None:
    exc = decode_error(409, b'{"error":"already_linked","message":"VTMarkets-Demo/1234567"}')
    assert str(exc) == "[409 already_linked] VTMarkets-Demo/1234567"
    assert repr(exc) == (
        "AlreadyLinkedError(status=409, code='already_linked', message='VTMarkets-Demo/1234567')"
    )


@pytest.mark.parametrize(
    ("exc", "status", "code", "text"),
    [
        (fx.FxSocketError("plain"), None, "", "plain"),
        (fx.FxSocketError("m", status=500, code="x"), 500, "x", "[500 x] m"),
        (fx.APIError("m", status=404), 404, "", "[404] m"),
        (fx.ValidationError("bad"), None, "invalid_argument", "[invalid_argument] bad"),
        (fx.BadRequestError("bad", status=400, code="x"), 400, "x", "[400 x] bad"),
        (fx.SessionClosedError("shut"), None, "session_closed", "[session_closed] shut"),
        (
            fx.ValidationError("too long", code="invalid_idempotency_key"),
            None,
            "invalid_idempotency_key",
            "[invalid_idempotency_key] too long",
        ),
        (fx.RateLimitedError("slow"), 429, "rate_limited", "[429 rate_limited] slow"),
        (fx.TransportError("gone"), None, "transport_error", "[transport_error] gone"),
        (
            fx.ConnectionFailedError("refused"),
            None,
            "connection_failed",
            "[connection_failed] refused",
        ),
        (fx.TimeoutError("no reply in 10s"), None, "timeout", "[timeout] no reply in 10s"),
        (fx.ProtocolError("odd"), None, "protocol_error", "[protocol_error] odd"),
        (
            fx.ProtocolError("odd", status=200, code="malformed_frame"),
            200,
            "malformed_frame",
            "[200 malformed_frame] odd",
        ),
    ],
)
def test_every_exception_carries_status_code_message(
    exc: fx.FxSocketError, status: int | None, code: str, text: str
) -> None:
    assert exc.status == status
    assert exc.code == code
    assert exc.message == text.rpartition("] ")[2]
    assert str(exc) == text
    assert exc.message in repr(exc)
    assert type(exc).__name__ in repr(exc)


def test_timeout_error_is_also_the_builtin() -> None:
    exc = fx.TimeoutError("no reply")
    assert fx.TimeoutError is not builtins.TimeoutError
    assert isinstance(exc, builtins.TimeoutError)
    assert isinstance(exc, fx.TransportError)
    assert isinstance(exc, fx.FxSocketError)
    with pytest.raises(builtins.TimeoutError):
        raise exc
    # The builtin's OSError fields do not leak into our str().
    assert str(exc) == "[timeout] no reply"
    assert exc.status is None


def _exception_classes() -> list[type[BaseException]]:
    return [
        obj
        for name in _exceptions.__all__
        if inspect.isclass(obj := getattr(_exceptions, name)) and issubclass(obj, BaseException)
    ]


def test_every_class_derives_from_fxsocket_error() -> None:
    classes = _exception_classes()
    assert len(classes) >= 20
    for cls in classes:
        assert issubclass(cls, fx.FxSocketError), cls
        assert issubclass(cls, Exception), cls


@pytest.mark.parametrize(
    ("cls", "base"),
    [
        (fx.APIError, fx.FxSocketError),
        (fx.BadRequestError, fx.APIError),
        (fx.UsageError, fx.FxSocketError),
        (fx.ValidationError, fx.UsageError),
        (fx.ValidationError, ValueError),
        (fx.SessionClosedError, fx.UsageError),
        (fx.BrokerRejectedError, fx.BadRequestError),
        (fx.AccountRequiredError, fx.BadRequestError),
        (fx.AuthenticationError, fx.APIError),
        (fx.PlanLimitError, fx.APIError),
        (fx.PermissionDeniedError, fx.APIError),
        (fx.NotFoundError, fx.APIError),
        (fx.ConflictError, fx.APIError),
        (fx.AlreadyLinkedError, fx.ConflictError),
        (fx.IdempotencyConflictError, fx.ConflictError),
        (fx.RateLimitedError, fx.APIError),
        (fx.ServerError, fx.APIError),
        (fx.TerminalNotReadyError, fx.ServerError),
        (fx.UnexpectedStatusError, fx.APIError),
        (fx.TransportError, fx.FxSocketError),
        (fx.ConnectionFailedError, fx.TransportError),
        (fx.TimeoutError, fx.TransportError),
        (fx.ProtocolError, fx.FxSocketError),
    ],
)
def test_the_tree(cls: type[Exception], base: type[Exception]) -> None:
    assert issubclass(cls, base)


def test_transport_and_protocol_errors_are_not_api_errors() -> None:
    for cls in (fx.TransportError, fx.ConnectionFailedError, fx.TimeoutError, fx.ProtocolError):
        assert not issubclass(cls, fx.APIError)


def test_misuse_is_kept_apart_from_the_servers_answers() -> None:
    # A local refusal is never an APIError, so APIError.status is always the server's int.
    for cls in (fx.UsageError, fx.ValidationError, fx.SessionClosedError):
        assert not issubclass(cls, fx.APIError)
    assert not issubclass(fx.BadRequestError, fx.UsageError)
    with pytest.raises(TypeError):
        fx.ValidationError("m", status=400)  # type: ignore[call-arg]


def test_api_errors_always_carry_the_servers_status() -> None:
    # Only a server's answer is an APIError, so there is always a status to carry.
    with pytest.raises(TypeError):
        fx.APIError("m")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        fx.BadRequestError("m", code="invalid_volume")  # type: ignore[call-arg]
    assert fx.RateLimitedError("m").status == 429
    for local in (fx.ValidationError("m"), fx.SessionClosedError("m"), fx.UsageError("m")):
        assert local.status is None


@pytest.mark.parametrize(
    "exc",
    [
        fx.FxSocketError("m", status=1, code="c"),
        fx.ValidationError("m", code="invalid_idempotency_key"),
        fx.SessionClosedError("m"),
        fx.RateLimitedError("m", retry_after=2.0),
        fx.TransportError("m"),
        fx.ConnectionFailedError("m"),
        fx.TimeoutError("m"),
        fx.ProtocolError("m", status=200, code="malformed_frame"),
    ],
)
def test_exceptions_survive_pickle_and_copy(exc: fx.FxSocketError) -> None:
    for clone in (pickle.loads(pickle.dumps(exc)), copy.copy(exc)):
        assert type(clone) is type(exc)
        assert (clone.status, clone.code, clone.message) == (exc.status, exc.code, exc.message)
        assert getattr(clone, "retry_after", None) == getattr(exc, "retry_after", None)


@pytest.mark.parametrize("status", [401, 402, 403, 404, 409, 500, 503, 418])
def test_server_errors_survive_pickle_and_copy(status: int) -> None:
    exc = decode_error(status, b'{"error":"code","message":"m"}')
    for clone in (pickle.loads(pickle.dumps(exc)), copy.copy(exc)):
        assert type(clone) is type(exc)
        assert (clone.status, clone.code, clone.message) == (status, "code", "m")
