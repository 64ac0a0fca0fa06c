"""Helpers shared by the test suites (conftest files import from here, never from each other).

- ``sim``: the suites' keys, simulator config and client factory (``make_client``,
  ``link``), and ``fake_time_session`` (simulator and client on one driven fake clock).
- ``poll``: ``poll()``, the one bounded wait on a condition nothing signals.
- ``fake_time``: ``DrivenClock`` and ``autojump()``, fake time moved while the loop is idle.
- ``routes``: ``watch_routes(sim)``, the simulator's route counters as something to wait on.
"""
