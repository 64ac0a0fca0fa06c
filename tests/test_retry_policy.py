"""Unit tests of the retry policy, the backoff, the pacer and the settings objects (no I/O).

``Backoff.delays`` is the one backoff schedule, ``retry_delay`` picks between it
and the server's ``Retry-After``, ``Gcra`` is the pacer's arithmetic and
``Pacer`` the closed-loop gate around it, run here on a ``FakeClock``.
"""

from __future__ import annotations

import builtins
import itertools
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable

import anyio
import pytest

from fxsocket_async import (
    AccountRequiredError,
    AuthenticationError,
    BadRequestError,
    BrokerRejectedError,
    ConflictError,
    ConnectionFailedError,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    PlanLimitError,
    ProtocolError,
    RateLimit,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    StreamPolicy,
    TerminalNotReadyError,
    TimeoutError,
    Timeouts,
    TransportError,
    UnexpectedStatusError,
    ValidationError,
    WatcherPolicy,
)
from fxsocket_async._backoff import Backoff
from fxsocket_async._clock import FakeClock
from fxsocket_async._core.retry import is_retryable, retry_delay
from fxsocket_async._rest.pacing import Gcra, Pacer
from fxsocket_async.simulator._ratelimit import RateLimiter
from tests.helpers.fake_time import DrivenClock, autojump

# ----------------------------------------------------------------- is_retryable

# (error, retryable when idempotent, retryable when not idempotent)
RETRY_TABLE = [
    # 429 proves the server did nothing: always safe to send again.
    (RateLimitedError("slow down", retry_after=1.0), True, True),
    (RateLimitedError("slow down"), True, True),
    # Transient failures: only when sending twice cannot do harm.
    (ServerError("boom", status=500, code="internal_error"), True, False),
    (ServerError("bad gateway", status=502, code="bad_gateway"), True, False),
    (ServerError("unavailable", status=503, code="unavailable"), True, False),
    (TransportError("no reply"), True, False),
    (ConnectionFailedError("refused"), True, False),
    (TimeoutError("too slow"), True, False),
    # A state, not a fault: waiting for it is wait_connected()'s job.
    (TerminalNotReadyError("not ready", status=503, code="terminal_not_ready"), False, False),
    # Refusals: sending the same request again gives the same answer.
    (ValidationError("bad volume", code="invalid_volume"), False, False),
    (ValidationError("refused locally", code="invalid_symbol"), False, False),
    (BadRequestError("bad", status=400, code="x"), False, False),
    (BrokerRejectedError("rejected", status=400, code="broker_rejected"), False, False),
    (AccountRequiredError("many", status=400, code="account_required"), False, False),
    (AuthenticationError("unknown key", status=401, code="unauthorized"), False, False),
    (PlanLimitError("plan", status=402, code="plan_limit"), False, False),
    (PermissionDeniedError("scope", status=403, code="forbidden"), False, False),
    (NotFoundError("gone", status=404, code="order_not_found"), False, False),
    (ConflictError("conflict", status=409, code="already_linked"), False, False),
    (IdempotencyConflictError("other body", status=409, code="idempotency_conflict"), False, False),
    (UnexpectedStatusError("teapot", status=418, code="teapot"), False, False),
    (ProtocolError("garbled reply"), False, False),
    (ValueError("not ours"), False, False),
]


@pytest.mark.parametrize(
    ("error", "when_idempotent", "when_not"),
    RETRY_TABLE,
    ids=[f"{type(e).__name__}-{getattr(e, 'status', None)}" for e, _, _ in RETRY_TABLE],
)
def test_is_retryable_table(error: BaseException, when_idempotent: bool, when_not: bool) -> None:
    assert is_retryable(error, idempotent=True) is when_idempotent
    assert is_retryable(error, idempotent=False) is when_not


def test_timeout_error_is_also_the_builtin() -> None:
    # A caller catching the builtin still sees our transport timeout, and it is retryable.
    error = TimeoutError("x")
    assert isinstance(error, builtins.TimeoutError)
    assert is_retryable(error, idempotent=True)


# ------------------------------------------------- retry_delay on Backoff.delays

POLICY = RetryPolicy(initial_delay=0.5, max_delay=8.0, retry_after_cap=30.0)


def _ceiling(policy: RetryPolicy, retry: int) -> float:
    return min(policy.max_delay, policy.initial_delay * 2.0 ** (retry - 1))


def _schedule(
    policy: RetryPolicy, errors: list[BaseException | None], rng: random.Random
) -> list[float]:
    """The waits ``RestClient.run`` makes for these failures, in order.

    Every failed attempt draws the next backoff delay, whether or not a
    ``Retry-After`` then wins (``None`` stands for a failure without one).
    """
    delays = policy.backoff.delays(rng)
    return [retry_delay(error, next(delays), policy.retry_after_cap) for error in errors]


@pytest.mark.parametrize("seed", [0, 1, 2, 42, 1234])
def test_retry_delay_within_jitter_band_and_capped(seed: int) -> None:
    waits = _schedule(POLICY, [ServerError("x", status=500)] * 15, random.Random(seed))
    for retry, delay in enumerate(waits, start=1):
        ceiling = _ceiling(POLICY, retry)
        assert 0.75 * ceiling <= delay <= ceiling, (retry, delay)
        assert delay <= POLICY.max_delay


@pytest.mark.parametrize("seed", [0, 7, 99])
def test_retry_delay_grows_exponentially_until_the_cap(seed: int) -> None:
    policy = RetryPolicy(initial_delay=0.1, max_delay=1000.0)
    delays = _schedule(policy, [None] * 10, random.Random(seed))
    # Each band [0.75 c, c] lies strictly above the previous one ([0.375 c, 0.5 c]).
    assert all(later > earlier for earlier, later in itertools.pairwise(delays)), delays
    for retry, delay in enumerate(delays, start=1):
        assert 0.75 * 0.1 * 2 ** (retry - 1) <= delay <= 0.1 * 2 ** (retry - 1)
    # Over two steps the delay at least doubles (0.75 * 4 > 1 ... exponential, not linear).
    assert all(delays[i + 2] >= 1.5 * delays[i] for i in range(len(delays) - 2))


def test_retry_delay_caps_at_max_delay() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=3.0)
    late = _schedule(policy, [None] * 39, random.Random(5))[2:]  # retries 3 to 39
    assert all(0.75 * 3.0 <= d <= 3.0 for d in late), late


def test_retry_delay_does_not_overflow_for_many_retries() -> None:
    policy = RetryPolicy(initial_delay=0.001, max_delay=0.002, max_attempts=5000)
    delays = policy.backoff.delays(random.Random(5))
    assert all(delay <= 0.002 for delay in itertools.islice(delays, 1100))
    assert 0.75 * 0.002 <= next(delays) <= 0.002  # retry 1101, still a finite float


def test_retry_delay_is_jittered() -> None:
    rng = random.Random(3)
    # Retry 3 of fifty calls sharing one rng: clients spread out rather than retry in lockstep.
    delays = {_schedule(POLICY, [None] * 3, rng)[-1] for _ in range(50)}
    assert len(delays) > 1


def test_retry_delay_is_reproducible_with_a_seeded_rng() -> None:
    first = _schedule(POLICY, [None] * 7, random.Random(11))
    second = _schedule(POLICY, [None] * 7, random.Random(11))
    assert first == second


def test_a_new_delays_iterator_starts_again_from_the_initial_delay() -> None:
    backoff = POLICY.backoff
    rng = random.Random(4)
    used = backoff.delays(rng)
    for _ in range(6):
        next(used)
    again = next(backoff.delays(rng))
    assert 0.75 * POLICY.initial_delay <= again <= POLICY.initial_delay


@pytest.mark.parametrize(
    ("retry_after", "cap", "expected"),
    [(2.0, 30.0, 2.0), (0.0, 30.0, 0.0), (60.0, 30.0, 30.0), (1.0, 0.05, 0.05), (7.5, 7.5, 7.5)],
)
def test_retry_delay_honours_retry_after_up_to_the_cap(
    retry_after: float, cap: float, expected: float
) -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=1.0, retry_after_cap=cap)
    error = RateLimitedError("slow down", retry_after=retry_after)
    for retry in (1, 2, 10):
        # Retry-After wins over the exponential schedule (even above max_delay) and is not
        # jittered.
        waits = _schedule(policy, [error] * retry, random.Random(retry))
        assert waits[-1] == pytest.approx(expected)


def test_rate_limited_without_retry_after_backs_off_exponentially() -> None:
    error = RateLimitedError("slow down", retry_after=None)
    waits = _schedule(POLICY, [error] * 7, random.Random(8))
    for retry, wait in enumerate(waits, start=1):
        ceiling = _ceiling(POLICY, retry)
        assert 0.75 * ceiling <= wait <= ceiling


def test_retry_delay_returns_the_backoff_delay_unless_the_server_said() -> None:
    assert retry_delay(ServerError("x", status=500), 0.25, 30.0) == 0.25
    assert retry_delay(ConnectionFailedError("reset"), 0.25, 30.0) == 0.25
    assert retry_delay(RateLimitedError("slow"), 0.25, 30.0) == 0.25
    assert retry_delay(RateLimitedError("slow", retry_after=3.0), 0.25, 30.0) == 3.0
    assert retry_delay(RateLimitedError("slow", retry_after=99.0), 0.25, 5.0) == 5.0


# ------------------------------------------------------ the schedule of one call


def test_a_calls_schedule_mixes_backoff_and_retry_after() -> None:
    policy = RetryPolicy(initial_delay=0.2, max_delay=1.0, retry_after_cap=5.0)
    errors: list[BaseException | None] = [
        ServerError("x", status=500),
        ConnectionFailedError("reset"),
        RateLimitedError("slow", retry_after=3.0),
        RateLimitedError("slow", retry_after=99.0),
        ServerError("x", status=502),
    ]
    first, second, third, fourth, fifth = _schedule(policy, errors, random.Random(1))
    assert 0.75 * 0.2 <= first <= 0.2
    assert 0.75 * 0.4 <= second <= 0.4
    # A Retry-After answer wins (capped), whatever the retry number.
    assert third == 3.0
    assert fourth == 5.0
    # The exponential schedule continued counting underneath: retry 5 is capped at max_delay.
    assert 0.75 * 1.0 <= fifth <= 1.0


def test_the_first_delay_is_the_first_retrys() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=1000.0)
    delays = _schedule(policy, [TimeoutError("slow")] * 9, random.Random(2))
    for retry, delay in enumerate(delays, start=1):
        assert 0.75 * 2 ** (retry - 1) <= delay <= 2 ** (retry - 1)


def test_backoff_delays_are_the_ceiling_less_its_jitter_share() -> None:
    """The draw is exactly ``ceiling * (1 - jitter * rng.random())``, one draw per delay."""
    got = list(itertools.islice(POLICY.backoff.delays(random.Random(77)), 9))
    rng = random.Random(77)
    expected = [_ceiling(POLICY, n) * (1 - 0.25 * rng.random()) for n in range(1, 10)]
    assert got == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------- Backoff


def test_backoff_without_jitter_is_exact() -> None:
    delays = Backoff(0.5, 3.0, factor=2.0, jitter=0.0).delays(random.Random(0))
    assert list(itertools.islice(delays, 6)) == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_backoff_with_full_jitter_spreads_from_zero_to_the_ceiling() -> None:
    delays = list(itertools.islice(Backoff(1.0, 1.0, jitter=1.0).delays(random.Random(6)), 500))
    assert all(0.0 <= d <= 1.0 for d in delays)
    assert min(delays) < 0.1
    assert max(delays) > 0.9


def test_backoff_grows_by_its_factor() -> None:
    delays = Backoff(1.0, 100.0, factor=1.5, jitter=0.0).delays(random.Random(0))
    assert list(itertools.islice(delays, 4)) == pytest.approx([1.0, 1.5, 2.25, 3.375])


@pytest.mark.parametrize(
    ("initial", "maximum", "factor", "jitter"),
    [
        (0.0, 1.0, 2.0, 0.25),
        (-1.0, 1.0, 2.0, 0.25),
        (2.0, 1.0, 2.0, 0.25),
        (0.5, 1.0, 0.5, 0.25),
        (0.5, 1.0, 2.0, -0.1),
        (0.5, 1.0, 2.0, 1.5),
    ],
)
def test_backoff_rejects_bad_parameters(
    initial: float, maximum: float, factor: float, jitter: float
) -> None:
    with pytest.raises(ValueError, match="Backoff needs"):
        Backoff(initial, maximum, factor=factor, jitter=jitter)


def test_each_policy_builds_its_backoff() -> None:
    assert RetryPolicy(initial_delay=0.2, max_delay=4.0).backoff == Backoff(0.2, 4.0, 2.0, 0.25)
    watcher = WatcherPolicy(initial_interval=0.5, max_interval=5.0, factor=3.0)
    assert watcher.backoff == Backoff(0.5, 5.0, 3.0, 0.2)
    stream = StreamPolicy(reconnect_initial=0.1, reconnect_max=2.0)
    assert stream.reconnect_backoff == Backoff(0.1, 2.0, 2.0, 1.0)


# ------------------------------------------------------------------------- Gcra
#
# ``Gcra.book(now)`` reserves the next slot and returns the wait before it: what
# an open-loop pacer would sleep. With the clock frozen, consecutive bookings show
# the schedule the bucket allows.


def test_gcra_first_burst_goes_at_once_then_one_per_interval() -> None:
    gcra = Gcra(rate=10.0, burst=5)
    waits = [gcra.book(1000.0) for _ in range(12)]
    # (The GCRA arithmetic may leave a float residue of ~1e-13 s: not a real wait.)
    assert waits[:5] == pytest.approx([0.0] * 5, abs=1e-9)
    # Then 1/rate apart: 0.1, 0.2, ... (clock frozen, all book at once).
    for n, wait in enumerate(waits[5:], start=1):
        assert wait == pytest.approx(n * 0.1)


def test_gcra_waits_are_fifo() -> None:
    gcra = Gcra(rate=50.0, burst=3)
    waits = [gcra.book(1000.0) for _ in range(200)]
    # Nobody booked later leaves earlier: waits never decrease in booking order.
    assert all(b >= a for a, b in itertools.pairwise(waits))
    # Beyond the burst each one leaves strictly after the one before.
    assert all(b > a for a, b in itertools.pairwise(waits[2:]))


def test_gcra_burst_one_spaces_every_request() -> None:
    gcra = Gcra(rate=4.0, burst=1)
    waits = [gcra.book(1000.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_gcra_refills_after_idle_time() -> None:
    gcra = Gcra(rate=10.0, burst=3)
    now = 1000.0
    assert [gcra.book(now) for _ in range(3)] == pytest.approx([0.0] * 3, abs=1e-9)
    assert gcra.book(now) == pytest.approx(0.1)
    # Long idle: the whole burst is available again, but never more than the burst.
    now += 60.0
    assert [gcra.book(now) for _ in range(3)] == pytest.approx([0.0] * 3, abs=1e-9)
    assert gcra.book(now) == pytest.approx(0.1)


def test_gcra_partial_refill() -> None:
    gcra = Gcra(rate=10.0, burst=2)
    now = 1000.0
    assert [gcra.book(now) for _ in range(2)] == pytest.approx([0.0] * 2, abs=1e-9)
    now += 0.1  # one slot refilled
    assert gcra.book(now) == pytest.approx(0.0, abs=1e-9)
    assert gcra.book(now) == pytest.approx(0.1)


def test_gcra_delay_asks_without_booking() -> None:
    gcra = Gcra(rate=10.0, burst=2)
    assert gcra.delay(1000.0) == 0.0
    assert gcra.delay(1000.0) == 0.0  # asking twice books nothing
    gcra.book(1000.0)
    gcra.book(1000.0)
    assert gcra.delay(1000.0) == pytest.approx(0.1)
    assert gcra.delay(1000.05) == pytest.approx(0.05)
    assert gcra.delay(1000.1) == pytest.approx(0.0, abs=1e-9)
    # What delay() promised is what book() then charges.
    assert gcra.book(1000.05) == pytest.approx(0.05)


@pytest.mark.parametrize(("rate", "burst", "seed"), [(60.0, 30, 0), (200.0, 100, 1), (5.0, 1, 2)])
def test_gcra_release_times_conform_to_rate_and_burst(rate: float, burst: int, seed: int) -> None:
    """Whatever the arrival pattern, any n consecutive releases span >= (n - burst) / rate."""
    rng = random.Random(seed)
    gcra = Gcra(rate=rate, burst=burst)
    now = 1000.0
    releases = []
    for _ in range(2000):
        now += rng.choice([0.0, 0.0, 0.0, rng.random() / rate, rng.random() * 3 / rate])
        releases.append(now + gcra.book(now))
    assert_conforms(releases, rate, burst)


def test_gcra_within_any_second_sends_at_most_rate_plus_burst() -> None:
    rate, burst = 60.0, 30
    gcra = Gcra(rate=rate, burst=burst)
    releases = [1000.0 + gcra.book(1000.0) for _ in range(1000)]
    start = releases[0]
    in_first_second = sum(1 for t in releases if t < start + 1.0)
    assert in_first_second <= rate + burst
    assert math.isclose(releases[-1] - start, (1000 - burst) / rate, rel_tol=1e-6)


def assert_conforms(releases: list[float], rate: float, burst: int) -> None:
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(releases))  # FIFO
    interval = 1.0 / rate
    for span in (burst, burst + 1, burst + 10, int(rate) + burst):
        for i in range(0, len(releases) - span, 7):
            # releases[i .. i+span] are span+1 requests; beyond the burst they need time.
            assert releases[i + span] - releases[i] >= (span + 1 - burst) * interval - 1e-6


# ------------------------------------------------------------ Pacer on FakeClock
#
# The pacer sleeps on its clock; ``autojump`` moves the fake clock to the next
# deadline whenever every task waits, so release times are exact fake times.


async def release_times(
    pacer: Pacer, clock: FakeClock, arrivals: list[float], *, wait: float = 30.0
) -> list[float]:
    """Start one waiter at each fake time of ``arrivals``; the fake times they got through."""
    releases: list[float] = []

    async def waiter() -> None:
        await pacer.wait()
        releases.append(clock.monotonic())

    with anyio.fail_after(wait):
        async with anyio.create_task_group() as tasks:
            for arrival in arrivals:
                if arrival > clock.monotonic():
                    await clock.sleep(arrival - clock.monotonic())
                tasks.start_soon(waiter)  # tasks start, and queue at the gate, in order
    assert len(releases) == len(arrivals)
    return releases


async def on_fake_time(body: Callable[[DrivenClock], Awaitable[None]]) -> None:
    clock = DrivenClock()
    async with autojump(clock):
        await body(clock)


@pytest.mark.anyio
async def test_pacer_first_burst_goes_at_once_then_one_per_interval() -> None:
    async def body(clock: DrivenClock) -> None:
        pacer = Pacer(rate=10.0, burst=5, clock=clock)
        releases = await release_times(pacer, clock, [0.0] * 12)
        assert releases[:5] == [0.0] * 5
        assert releases[5:] == pytest.approx([n * 0.1 for n in range(1, 8)])
        assert pacer.delayed >= 7

    await on_fake_time(body)


@pytest.mark.anyio
async def test_pacer_releases_are_fifo() -> None:
    async def body(clock: DrivenClock) -> None:
        pacer = Pacer(rate=50.0, burst=3, clock=clock)
        order: list[int] = []

        async def waiter(n: int) -> None:
            await pacer.wait()
            order.append(n)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                for n in range(200):
                    tasks.start_soon(waiter, n)
        assert order == list(range(200))

    await on_fake_time(body)


@pytest.mark.anyio
async def test_pacer_burst_one_spaces_every_request() -> None:
    async def body(clock: DrivenClock) -> None:
        releases = await release_times(Pacer(rate=4.0, burst=1, clock=clock), clock, [0.0] * 5)
        assert releases == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])

    await on_fake_time(body)


@pytest.mark.anyio
async def test_pacer_refills_after_idle_time() -> None:
    async def body(clock: DrivenClock) -> None:
        pacer = Pacer(rate=10.0, burst=3, clock=clock)
        assert await release_times(pacer, clock, [0.0] * 4) == pytest.approx([0, 0, 0, 0.1])
        # Long idle: the whole burst is available again, but never more than the burst.
        again = await release_times(pacer, clock, [60.0] * 4)
        assert again == pytest.approx([60.0, 60.0, 60.0, 60.1])

    await on_fake_time(body)


@pytest.mark.anyio
async def test_pacer_partial_refill() -> None:
    async def body(clock: DrivenClock) -> None:
        pacer = Pacer(rate=10.0, burst=2, clock=clock)
        assert await release_times(pacer, clock, [0.0, 0.0]) == [0.0, 0.0]
        # One slot refilled after 0.1 s: one goes at once, the next a slot later.
        assert await release_times(pacer, clock, [0.1, 0.1]) == pytest.approx([0.1, 0.2])

    await on_fake_time(body)


@pytest.mark.anyio
@pytest.mark.parametrize(("rate", "burst", "seed"), [(60.0, 30, 0), (200.0, 100, 1), (5.0, 1, 2)])
async def test_pacer_release_times_conform_to_rate_and_burst(
    rate: float, burst: int, seed: int
) -> None:
    async def body(clock: DrivenClock) -> None:
        rng = random.Random(seed)
        arrivals = list(
            itertools.accumulate(
                rng.choice([0.0, 0.0, 0.0, rng.random() / rate, rng.random() * 3 / rate])
                for _ in range(600)
            )
        )
        releases = await release_times(Pacer(rate, burst, clock), clock, arrivals)
        assert all(r >= a for r, a in zip(releases, arrivals, strict=True))
        assert_conforms(releases, rate, burst)

    await on_fake_time(body)


@pytest.mark.anyio
async def test_pacer_within_any_second_sends_at_most_rate_plus_burst() -> None:
    async def body(clock: DrivenClock) -> None:
        rate, burst = 60.0, 30
        releases = await release_times(Pacer(rate, burst, clock), clock, [0.0] * 300)
        in_first_second = sum(1 for t in releases if t < 1.0)
        assert in_first_second <= rate + burst
        assert releases[-1] == pytest.approx((300 - burst) / rate)

    await on_fake_time(body)


# ------------------------------------------------- closed-loop against stalls
#
# The user's event loop stalls: every 3 s of fake time, 1.5 s pass at once with
# nothing running. Every waiter due during the stall wakes at its end. The
# simulator's own RateLimiter (60/s, sharing the fake clock) judges what left.

RATE, BURST, WAITERS = 60.0, 30, 600
STALL_EVERY, STALL_FOR = 3.0, 1.5


async def stalled_release_times(wait: Callable[[DrivenClock], Callable[[], Awaitable[None]]]):
    """Start ``WAITERS`` at fake time 0 on one pacer; the fake times they got through."""
    clock = DrivenClock()
    pace = wait(clock)
    releases: list[float] = []

    async def waiter() -> None:
        await pace()
        releases.append(clock.monotonic())

    async with autojump(clock, stall_every=STALL_EVERY, stall_for=STALL_FOR) as driver:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tasks:
                for _ in range(WAITERS):
                    tasks.start_soon(waiter)
        stalls = driver.stalls
    assert len(releases) == WAITERS
    assert stalls >= 3, stalls  # the waiters lived through several stalls
    return releases


def refused_by_the_server(releases: list[float]) -> int:
    """How many of these sends the simulator's rate limiter (60/s) would answer 429."""
    clock = FakeClock()
    limiter = RateLimiter(RATE, clock.monotonic)
    refused = 0
    for sent in releases:
        clock.advance(sent - clock.monotonic())
        if limiter.acquire("account") is not None:
            refused += 1
    return refused


@pytest.mark.anyio
async def test_pacer_is_closed_loop_when_the_event_loop_stalls() -> None:
    def closed_loop(clock: DrivenClock) -> Callable[[], Awaitable[None]]:
        return Pacer(RATE, BURST, clock).wait

    releases = await stalled_release_times(closed_loop)
    assert refused_by_the_server(releases) == 0
    # What left conforms to the pacer's own rate and burst, stalls or not.
    assert_conforms(releases, RATE, BURST)
    assert max(Counter(releases).values()) <= BURST


@pytest.mark.anyio
async def test_open_loop_booking_bursts_past_the_server_after_a_stall() -> None:
    """Control: the naive GCRA (book a slot on arrival, sleep until it) after a stall.

    Every waiter whose slot fell inside the stall wakes at its end, and they all
    leave at once: 90 requests in one instant, more than the server's bucket holds.
    """

    def open_loop(clock: DrivenClock) -> Callable[[], Awaitable[None]]:
        gcra = Gcra(RATE, BURST)

        async def wait() -> None:
            await clock.sleep(gcra.book(clock.monotonic()))

        return wait

    releases = await stalled_release_times(open_loop)
    burst_after_a_stall = max(Counter(t for t in releases if t > 0).values())
    # Everything due during the stall, at once (give or take a slot on its edges).
    assert burst_after_a_stall == pytest.approx(STALL_FOR * RATE, abs=1)
    assert burst_after_a_stall > RATE  # more than the server's full bucket
    assert refused_by_the_server(releases) > 0


# --------------------------------------------------------------- settings objects


def test_settings_defaults() -> None:
    assert RetryPolicy().max_attempts >= 1
    assert RateLimit().burst >= 1
    assert RateLimit().per_account == 60.0
    assert WatcherPolicy().initial_interval == pytest.approx(1.0)
    assert WatcherPolicy().max_interval == pytest.approx(10.0)
    assert Timeouts().request > 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: RetryPolicy(max_attempts=0),
        lambda: RetryPolicy(max_attempts=-3),
        lambda: RetryPolicy(initial_delay=0),
        lambda: RetryPolicy(initial_delay=-1),
        lambda: RetryPolicy(initial_delay=math.nan),
        lambda: RetryPolicy(max_delay=math.inf),
        lambda: RetryPolicy(max_elapsed=0),
        lambda: RetryPolicy(retry_after_cap=-0.5),
        lambda: RetryPolicy(initial_delay=10.0, max_delay=1.0),
        lambda: RateLimit(per_account=0),
        lambda: RateLimit(per_account=-1),
        lambda: RateLimit(per_account=math.nan),
        lambda: RateLimit(management=0),
        lambda: RateLimit(management=math.inf),
        lambda: RateLimit(burst=0),
        lambda: RateLimit(burst=-5),
        lambda: Timeouts(connect=0),
        lambda: Timeouts(request=-1),
        lambda: Timeouts(request=math.nan),
        lambda: Timeouts(connect=math.inf),
        lambda: WatcherPolicy(initial_interval=0),
        lambda: WatcherPolicy(max_interval=-2),
        lambda: WatcherPolicy(factor=0),
        lambda: WatcherPolicy(factor=math.nan),
        lambda: WatcherPolicy(initial_interval=math.inf),
        lambda: WatcherPolicy(factor=0.5),
        lambda: WatcherPolicy(initial_interval=20.0, max_interval=10.0),
        lambda: StreamPolicy(ping_interval=0),
        lambda: StreamPolicy(max_reconnects=0),
        lambda: StreamPolicy(quote_buffer=0),
        lambda: StreamPolicy(reconnect_initial=5.0, reconnect_max=1.0),
    ],
)
def test_settings_reject_bad_values(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        make()


def test_settings_accept_turning_things_off() -> None:
    assert RateLimit(per_account=None, management=None).per_account is None
    assert RetryPolicy(max_attempts=1).max_attempts == 1


def test_settings_are_frozen() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 10  # type: ignore[misc]
    with pytest.raises(AttributeError):
        RateLimit().burst = 2  # type: ignore[misc]
