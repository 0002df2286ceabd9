"""Fixtures of the guest tests (helpers: tests/guest_harness.py)."""
import pytest

from guest_harness import Driver

from clickpy.guest.manager import GuestManager


@pytest.fixture
def driver():
    return Driver()


@pytest.fixture
def manager(driver):
    m = GuestManager(driver.scheduler, 2, pool_size=1, backoff_initial=0.05)
    yield m
    m.close()
