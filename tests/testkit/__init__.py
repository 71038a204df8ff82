"""Helpers shared by test directories that cannot import each other's support modules.

``tests/`` is on ``sys.path`` for every test (pytest puts the root conftest's folder there),
so any test imports these as ``testkit.<module>``. Helpers used by one directory only stay in
that directory's ``*_support.py``.
"""
