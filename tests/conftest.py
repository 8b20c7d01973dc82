"""Settings shared by the tests."""

from hypothesis import settings

# The rules are compiled on their first call with each kind of argument (numba, cached on disk
# afterwards), so a property test's first example can take a second on a fresh clone: a deadline
# per example would fail on compiling, not on the rule.
settings.register_profile("recip", deadline=None)
settings.load_profile("recip")
