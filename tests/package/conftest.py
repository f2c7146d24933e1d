"""The distribution as a user gets it: metadata and extras, console script, pytest plugin in a
user suite, mypy over user code, the documentation's code blocks and site. Paths:
``tests.support.paths``.
"""
