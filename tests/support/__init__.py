"""Helpers for the tests: not test modules (nothing here is collected).

Rules (checked by ``tests/unit/test_suite_rules.py``): test modules import shared helpers from
here, never from another test module or a conftest; modules here never import a test module or
a conftest either. Child-process scripts started by path live in ``tests/support/procs/``.
"""
