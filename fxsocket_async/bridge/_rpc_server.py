"""REST through the bridge: request/reply on ``<prefix>.<account>.rpc`` and ``<prefix>.rpc``.

Every remote call runs on the bridge's one session, so all processes share its
pacing budget, retries and idempotency keys. ``orders.create`` is recorded in
the ``<prefix>_orders`` bucket under its idempotency key: ``pending`` *before*
anything is sent upstream, the reply once it is known. A request whose key is
done gets the stored reply and sends nothing; one found pending (a previous
bridge died mid-call) is resolved without ever trading twice: the reference
dialect re-sends with the same key (its server de-duplicates on it), the
terminal dialect first looks for the order by its marker and sends only when
it is not there.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import logging
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import anyio
import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from .._client import AsyncFxSocket
from .._core.models import CreateOrderRequest
from .._core.validation import REMOVE, Remove
from .._exceptions import (
    FxSocketError,
    IdempotencyConflictError,
    ProtocolError,
    TerminalTimeoutError,
    TimeoutError,
    ValidationError,
)
from .._rest.submissions import find_submission, submission_marker
from ._metrics import BridgeMetrics
from ._wire import (
    ACCOUNT_OPS,
    KEY_OPS,
    REMOVE_TOKEN,
    RpcReply,
    RpcRequest,
    Wire,
    decode_request,
    encode_reply,
    error_reply,
    ok_reply,
)

__all__ = ["RpcServer", "SubmissionRecord"]

log = logging.getLogger("fxsocket_async.bridge")

#: The queue group of every bridge's responders: a request reaches one of them.
QUEUE: Final = "fxsocket-bridge"
MAX_CONCURRENT: Final = 64
_CREATE: Final = "orders.create"

#: How the bridge starts a task in its group: ``spawn(fn, *args, name=...)``.
Spawn = Callable[..., None]


class SubmissionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A ``<prefix>_orders`` value: one ``orders.create`` by its idempotency key."""

    state: str  # "pending" (sent or about to be), "done" (reply holds the outcome)
    request: RpcRequest
    at: datetime
    reply: RpcReply | None = None


_record_decoder: Final = msgspec.json.Decoder(SubmissionRecord)


class RpcServer:
    """Answers REST requests for the bridge's accounts through its session."""

    def __init__(
        self,
        fx: AsyncFxSocket,
        nc: NatsClient,
        wire: Wire,
        accounts: list[str],
        orders_kv: KeyValue,
        metrics: BridgeMetrics,
        spawn: Spawn,
    ) -> None:
        self._fx = fx
        self._nc = nc
        self._wire = wire
        self._accounts = accounts
        self._kv = orders_kv
        self._metrics = metrics
        self._subs: list[Subscription] = []
        self._spawn = spawn
        self._scopes: set[anyio.CancelScope] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._in_flight: dict[str, asyncio.Future[RpcReply]] = {}

    async def start(self) -> None:
        subjects: list[tuple[str, str | None]] = [(self._wire.rpc_subject(), None)]
        subjects += [(self._wire.rpc_subject(a), a) for a in self._accounts]
        for subject, account in subjects:
            sub = await self._nc.subscribe(subject, queue=QUEUE, cb=self._callback(account))
            self._subs.append(sub)

    def _callback(self, account: str | None) -> Any:
        async def on_request(msg: Msg) -> None:
            # A slow call must not hold the others up: each runs in its own task, in
            # the bridge's task group.
            self._spawn(self._serve_tracked, account, msg, name="bridge rpc request")

        return on_request

    async def stop(self, timeout: float = 5.0) -> None:
        """Take no more requests; let those in flight finish (``timeout``), then cancel them."""
        for sub in self._subs:
            with contextlib.suppress(NatsError):  # the connection is going anyway
                await sub.unsubscribe()
        self._subs.clear()
        with anyio.move_on_after(timeout):
            await self._idle.wait()
        for scope in list(self._scopes):
            scope.cancel()

    async def _serve_tracked(self, account: str | None, msg: Msg) -> None:
        with anyio.CancelScope() as scope:
            self._scopes.add(scope)
            self._idle.clear()
            try:
                await self._serve(account, msg)
            except Exception as exc:
                # A bug behind one request must not stop the bridge; its caller times out.
                log.error("an RPC request failed inside the bridge: %s", type(exc).__name__)
            finally:
                self._scopes.discard(scope)
                if not self._scopes:
                    self._idle.set()

    async def _serve(self, account: str | None, msg: Msg) -> None:
        op = "?"
        async with self._slots:
            try:
                request = decode_request(msg.data)
                op = request.op
                reply = await self.call(account, request)
            except FxSocketError as exc:
                reply = error_reply(exc)
        outcome = "ok" if reply.ok or reply.error is None else reply.error.type
        self._metrics.rpc_requests.labels(
            op if op in ACCOUNT_OPS or op in KEY_OPS else "?", outcome
        ).inc()
        if msg.reply:
            try:
                await msg.respond(encode_reply(reply))
            except NatsError as exc:
                log.warning("answering an RPC request failed: %r", exc)

    async def call(self, account: str | None, request: RpcRequest) -> RpcReply:
        """Run ``request`` and return its reply (errors as error replies)."""
        ops = KEY_OPS if account is None else ACCOUNT_OPS
        if request.op not in ops:
            where = "the key's subject" if account is None else "an account's subject"
            return error_reply(
                ValidationError(
                    f"unknown op {request.op!r} on {where}; ops: {', '.join(sorted(ops))}",
                    code="invalid_op",
                )
            )
        timeout = None if request.deadline_ms is None else max(request.deadline_ms, 1) / 1000
        try:
            async with asyncio.timeout(timeout):
                if request.op == _CREATE:
                    assert account is not None
                    return await self._create(account, request)
                result = await self._invoke(account, request)
        except FxSocketError as exc:
            return error_reply(exc)
        except builtins.TimeoutError:
            return error_reply(TimeoutError(f"{request.op} did not finish within its deadline"))
        except Exception as exc:  # a bug of ours: answer, without the details (no secrets)
            log.exception("RPC %s failed", request.op)
            return error_reply(
                ProtocolError(f"{request.op} failed in the bridge: {type(exc).__name__}")
            )
        return ok_reply(result)

    def _method(self, account: str | None, op: str) -> Any:
        if account is None:
            return getattr(self._fx.accounts, op.split(".", 1)[1])
        client = self._fx.account(account)
        if op == "info":
            return lambda: self._fx.accounts.get(account)
        if op.startswith("orders."):
            return getattr(client.orders, op.split(".", 1)[1])
        return getattr(client, op)

    async def _invoke(self, account: str | None, request: RpcRequest, **extra: Any) -> Any:
        method = self._method(account, request.op)
        args, kwargs = _convert(method, request, extra)
        return await method(*args, **kwargs)

    # ------------------------------------------------------------ orders.create

    async def _create(self, account: str, request: RpcRequest) -> RpcReply:
        key = request.idempotency_key
        if not key:
            raise ValidationError("orders.create through the bridge needs an idempotency_key")
        running = self._in_flight.get(key)
        if running is not None:
            return await asyncio.shield(running)  # a re-send of a call still running here
        future: asyncio.Future[RpcReply] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            reply = await self._create_once(account, request, key)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: re-senders get their own answer
            raise
        else:
            future.set_result(reply)
            return reply
        finally:
            del self._in_flight[key]

    async def _create_once(self, account: str, request: RpcRequest, key: str) -> RpcReply:
        kv_key = Wire.order_key(key)
        record = await self._record(kv_key)
        if record is not None and _body(record.request) != _body(request):
            raise IdempotencyConflictError(
                "this idempotency key was used before with another order", status=409,
                code="idempotency_conflict",
            )  # fmt: skip
        if record is not None and record.state == "done" and record.reply is not None:
            return record.reply
        if record is None:
            pending = SubmissionRecord(state="pending", request=request, at=datetime.now(UTC))
            try:
                await self._kv.create(kv_key, msgspec.json.encode(pending))
            except KeyWrongLastSequenceError:
                pass  # another bridge wrote it first: treat as pending below
            except NatsError as exc:
                reason = repr(exc)
                raise TerminalTimeoutError(
                    f"the bridge could not record the submission, so did not send it: {reason}",
                    status=503, code="bridge_unavailable",
                ) from None  # fmt: skip
            else:
                return await self._send(account, request, kv_key)
        # Pending: the bridge that recorded it died mid-call; it may have traded.
        found = await self._look_up(account, request, key)
        if found is not None:
            return await self._finish(kv_key, request, found)
        return await self._send(account, request, kv_key)

    async def _look_up(self, account: str, request: RpcRequest, key: str) -> RpcReply | None:
        orders = self._fx.account(account).orders
        order = _order_request(request)
        if order is None:
            return None  # bad arguments: _send refuses them before anything is sent
        dialect, marker = await submission_marker(orders, order, key)
        if marker is None:
            if dialect == "terminal":
                raise TerminalTimeoutError(
                    "the bridge restarted during this submission and its comment hides "
                    "whether it was carried out: look at the open orders before sending again",
                    status=504, code="submission_unknown",
                )  # fmt: skip
            return None  # the reference server de-duplicates on the key: re-sending is safe
        reply = await find_submission(orders, marker)
        return None if reply is None else ok_reply(reply)

    async def _send(self, account: str, request: RpcRequest, kv_key: str) -> RpcReply:
        try:
            result = await self._invoke(account, request, idempotency_key=request.idempotency_key)
        except (ValidationError, IdempotencyConflictError) as exc:
            reply = error_reply(exc)
        except FxSocketError as exc:
            if exc.status is None or exc.status >= 500:
                raise  # ambiguous: stays pending, a re-send resolves it
            reply = error_reply(exc)  # refused: nothing was traded, the answer is final
        else:
            reply = ok_reply(result)
        return await self._finish(kv_key, request, reply)

    async def _finish(self, kv_key: str, request: RpcRequest, reply: RpcReply) -> RpcReply:
        done = SubmissionRecord(state="done", request=request, at=datetime.now(UTC), reply=reply)
        try:
            await self._kv.put(kv_key, msgspec.json.encode(done))
        except NatsError as exc:
            log.warning("recording a submission's outcome failed: %r", exc)
        return reply

    async def _record(self, kv_key: str) -> SubmissionRecord | None:
        try:
            entry = await self._kv.get(kv_key)
        except KeyNotFoundError:
            return None
        if entry.value is None:
            return None
        try:
            return _record_decoder.decode(entry.value)
        except msgspec.DecodeError:
            return None


def _body(request: RpcRequest) -> tuple[Any, ...]:
    return (request.op, request.args, request.kwargs)


def _order_request(request: RpcRequest) -> CreateOrderRequest | None:
    names = ("symbol", "type", "volume")
    fields = dict(zip(names, request.args, strict=False)) | dict(request.kwargs)
    fields.pop("idempotency_key", None)
    try:
        return msgspec.convert(fields, CreateOrderRequest, strict=False)
    except msgspec.ValidationError:
        return None


def _convert(
    method: Any, request: RpcRequest, extra: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """The request's JSON arguments as the method's types; ``ValidationError`` otherwise."""
    signature = inspect.signature(method)
    kwargs = dict(request.kwargs)
    if "idempotency_key" in kwargs:
        raise ValidationError("pass idempotency_key beside the arguments, not among them")
    kwargs.update(extra)
    try:
        bound = signature.bind(*request.args, **kwargs)
    except TypeError as exc:
        reason = str(exc)
    else:
        reason = ""
    if reason:
        raise ValidationError(f"{request.op}: {reason}", code="invalid_argument")
    try:
        hints = typing.get_type_hints(method)
    except Exception:
        hints = {}
    for name, value in bound.arguments.items():
        hint = hints.get(name)
        if hint is None or value is None:
            continue
        if hint == float | Remove | None:  # modify's sl/tp: msgspec cannot convert to Remove
            if value == REMOVE_TOKEN:
                bound.arguments[name] = REMOVE
                continue
            hint = float
        try:
            bound.arguments[name] = msgspec.convert(value, hint, strict=False)
        except (msgspec.ValidationError, TypeError) as exc:
            reason = f"{name}: {exc}"
            break
    if reason:
        raise ValidationError(f"{request.op}: {reason}", code="invalid_argument")
    return list(bound.args), dict(bound.kwargs)
