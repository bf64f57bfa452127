"""The browser tests' fixtures (tests/web/harness.py): the live server over the seeded
utility, and Debian's Chromium."""

from tests.web.harness import browser, live

__all__ = ["browser", "live"]
