"""Behaviour under real child processes killed or interrupted (SIGKILL, SIGINT, SIGSTOP).

Every test here is marked ``process`` and ``realtime("real processes")`` by the root conftest
(they wait on real time on purpose). The child scripts live in ``tests/support/procs``.
Root fixtures used here: ``redis_url``, ``redis_client`` (those tests are marked ``redis``).
"""
