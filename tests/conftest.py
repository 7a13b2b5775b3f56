"""Hypothesis profiles.

Profiles: 'ci' is derandomised (CI never flakes), 'thorough' digs deeper locally. Pick one with
HYPOTHESIS_PROFILE=...; CI=true selects 'ci', otherwise 'dev' is used.

Tests that compare with PyTorch take the ``torch`` fixture (in the conftest.py at the root, with
the doctests' skip) instead of importing it, so that without PyTorch they skip (saying why) and
the rest of the suite still runs.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
# (derandomize=False said outright: a profile registered without it inherits hypothesis's default,
# which is derandomised where CI is set, so that thorough would run the same examples every time)
settings.register_profile("thorough", max_examples=2000, deadline=None, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
