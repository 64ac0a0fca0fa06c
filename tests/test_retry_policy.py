"""Pure unit tests of the retry policy, the pacer and the settings objects (no I/O)."""

from __future__ import annotations

import builtins
import itertools
import math
import random

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
from fxsocket_async._core.retry import is_retryable, retry_delay
from fxsocket_async._rest.pacing import Pacer

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


# ------------------------------------------------------------------ retry_delay

POLICY = RetryPolicy(initial_delay=0.5, max_delay=8.0, retry_after_cap=30.0)


def _ceiling(policy: RetryPolicy, retry: int) -> float:
    return min(policy.max_delay, policy.initial_delay * 2.0 ** (retry - 1))


@pytest.mark.parametrize("seed", [0, 1, 2, 42, 1234])
def test_retry_delay_within_jitter_band_and_capped(seed: int) -> None:
    rng = random.Random(seed)
    for retry in range(1, 16):
        ceiling = _ceiling(POLICY, retry)
        delay = retry_delay(POLICY, retry, ServerError("x", status=500), rng)
        assert 0.75 * ceiling <= delay <= ceiling, (retry, delay)
        assert delay <= POLICY.max_delay


@pytest.mark.parametrize("seed", [0, 7, 99])
def test_retry_delay_grows_exponentially_until_the_cap(seed: int) -> None:
    policy = RetryPolicy(initial_delay=0.1, max_delay=1000.0)
    rng = random.Random(seed)
    delays = [retry_delay(policy, retry, None, rng) for retry in range(1, 11)]
    # Each band [0.75 c, c] lies strictly above the previous one ([0.375 c, 0.5 c]).
    assert all(later > earlier for earlier, later in itertools.pairwise(delays)), delays
    for retry, delay in enumerate(delays, start=1):
        assert 0.75 * 0.1 * 2 ** (retry - 1) <= delay <= 0.1 * 2 ** (retry - 1)
    # Over two steps the delay at least doubles (0.75 * 4 > 1 ... exponential, not linear).
    assert all(delays[i + 2] >= 1.5 * delays[i] for i in range(len(delays) - 2))


def test_retry_delay_caps_at_max_delay() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=3.0)
    rng = random.Random(5)
    late = [retry_delay(policy, retry, None, rng) for retry in range(3, 40)]
    assert all(0.75 * 3.0 <= d <= 3.0 for d in late), late


def test_retry_delay_does_not_overflow_for_many_retries() -> None:
    policy = RetryPolicy(initial_delay=0.001, max_delay=0.002, max_attempts=5000)
    rng = random.Random(5)
    assert retry_delay(policy, 1100, None, rng) <= 0.002


def test_retry_delay_is_jittered() -> None:
    rng = random.Random(3)
    delays = {retry_delay(POLICY, 3, None, rng) for _ in range(50)}
    assert len(delays) > 1  # clients spread out rather than retry in lockstep


def test_retry_delay_is_reproducible_with_a_seeded_rng() -> None:
    first = [retry_delay(POLICY, r, None, random.Random(11)) for r in range(1, 8)]
    second = [retry_delay(POLICY, r, None, random.Random(11)) for r in range(1, 8)]
    assert first == second


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
        assert retry_delay(policy, retry, error, random.Random(retry)) == pytest.approx(expected)


def test_rate_limited_without_retry_after_backs_off_exponentially() -> None:
    rng = random.Random(8)
    error = RateLimitedError("slow down", retry_after=None)
    for retry in range(1, 8):
        ceiling = _ceiling(POLICY, retry)
        assert 0.75 * ceiling <= retry_delay(POLICY, retry, error, rng) <= ceiling


# --------------------------------------------------------------- backoff_delays


def test_backoff_delays_generator_protocol() -> None:
    policy = RetryPolicy(initial_delay=0.2, max_delay=1.0, retry_after_cap=5.0)
    gen = backoff_delays(policy, random.Random(1))
    # backoff primes the generator with send(None); the value is discarded.
    assert gen.send(None) == 0.0
    first = gen.send(ServerError("x", status=500))
    assert 0.75 * 0.2 <= first <= 0.2
    second = gen.send(ConnectionFailedError("reset"))
    assert 0.75 * 0.4 <= second <= 0.4
    # A Retry-After answer wins (capped), whatever the retry number.
    assert gen.send(RateLimitedError("slow", retry_after=3.0)) == 3.0
    assert gen.send(RateLimitedError("slow", retry_after=99.0)) == 5.0
    # The exponential schedule continued counting underneath: retry 5 is capped at max_delay.
    fifth = gen.send(ServerError("x", status=502))
    assert 0.75 * 1.0 <= fifth <= 1.0
    gen.close()


def test_backoff_delays_counts_retries_from_one() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=1000.0)
    gen = backoff_delays(policy, random.Random(2))
    next(gen)  # same as send(None)
    for retry in range(1, 10):
        delay = gen.send(TimeoutError("slow"))
        assert 0.75 * 2 ** (retry - 1) <= delay <= 2 ** (retry - 1)


def test_backoff_delays_matches_retry_delay_for_the_same_seed() -> None:
    errors = [ServerError("x", status=500), None, RateLimitedError("r", retry_after=0.5)] * 3
    gen = backoff_delays(POLICY, random.Random(77))
    gen.send(None)
    got = [gen.send(e) for e in errors]
    rng = random.Random(77)
    expected = [retry_delay(POLICY, n, e, rng) for n, e in enumerate(errors, start=1)]
    assert got == expected


# ------------------------------------------------------------------------ Pacer


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_pacer_first_burst_goes_at_once_then_one_per_interval() -> None:
    clock = FakeClock()
    pacer = Pacer(rate=10.0, burst=5, clock=clock)
    waits = [pacer.reserve() for _ in range(12)]
    # (The GCRA arithmetic may leave a float residue of ~1e-13 s: not a real wait.)
    assert waits[:5] == pytest.approx([0.0] * 5, abs=1e-9)
    # Then 1/rate apart: 0.1, 0.2, ... (clock frozen, all book at once).
    for n, wait in enumerate(waits[5:], start=1):
        assert wait == pytest.approx(n * 0.1)


def test_pacer_waits_are_fifo() -> None:
    clock = FakeClock()
    pacer = Pacer(rate=50.0, burst=3, clock=clock)
    waits = [pacer.reserve() for _ in range(200)]
    # Nobody booked later leaves earlier: waits never decrease in booking order.
    assert all(b >= a for a, b in itertools.pairwise(waits))
    # Beyond the burst each one leaves strictly after the one before.
    assert all(b > a for a, b in itertools.pairwise(waits[2:]))


def test_pacer_burst_one_spaces_every_request() -> None:
    clock = FakeClock()
    pacer = Pacer(rate=4.0, burst=1, clock=clock)
    waits = [pacer.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_pacer_refills_after_idle_time() -> None:
    clock = FakeClock()
    pacer = Pacer(rate=10.0, burst=3, clock=clock)
    assert [pacer.reserve() for _ in range(3)] == pytest.approx([0.0] * 3, abs=1e-9)
    assert pacer.reserve() == pytest.approx(0.1)
    # Long idle: the whole burst is available again, but never more than the burst.
    clock.now += 60.0
    assert [pacer.reserve() for _ in range(3)] == pytest.approx([0.0] * 3, abs=1e-9)
    assert pacer.reserve() == pytest.approx(0.1)


def test_pacer_partial_refill() -> None:
    clock = FakeClock()
    pacer = Pacer(rate=10.0, burst=2, clock=clock)
    assert [pacer.reserve() for _ in range(2)] == pytest.approx([0.0] * 2, abs=1e-9)
    clock.now += 0.1  # one slot refilled
    assert pacer.reserve() == pytest.approx(0.0, abs=1e-9)
    assert pacer.reserve() == pytest.approx(0.1)


@pytest.mark.parametrize(("rate", "burst", "seed"), [(60.0, 30, 0), (200.0, 100, 1), (5.0, 1, 2)])
def test_pacer_release_times_conform_to_rate_and_burst(rate: float, burst: int, seed: int) -> None:
    """Whatever the arrival pattern, any n consecutive releases span >= (n - burst) / rate."""
    rng = random.Random(seed)
    clock = FakeClock()
    pacer = Pacer(rate=rate, burst=burst, clock=clock)
    releases = []
    for _ in range(2000):
        clock.now += rng.choice([0.0, 0.0, 0.0, rng.random() / rate, rng.random() * 3 / rate])
        releases.append(clock.now + pacer.reserve())
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(releases))  # FIFO
    interval = 1.0 / rate
    for span in (burst, burst + 1, burst + 10, int(rate) + burst):
        for i in range(0, len(releases) - span, 7):
            # releases[i .. i+span] are span+1 requests; beyond the burst they need time.
            assert releases[i + span] - releases[i] >= (span + 1 - burst) * interval - 1e-6


def test_pacer_within_any_second_sends_at_most_rate_plus_burst() -> None:
    clock = FakeClock()
    rate, burst = 60.0, 30
    pacer = Pacer(rate=rate, burst=burst, clock=clock)
    releases = [clock.now + pacer.reserve() for _ in range(1000)]
    start = releases[0]
    in_first_second = sum(1 for t in releases if t < start + 1.0)
    assert in_first_second <= rate + burst
    assert math.isclose(releases[-1] - start, (1000 - burst) / rate, rel_tol=1e-6)


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
    ],
)
def test_settings_reject_bad_values(make) -> None:  # type: ignore[no-untyped-def]
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
