import pytest

from lamina.testing import FakeHost


@pytest.fixture
def fake_host():
    return FakeHost(config={"greeting": "Hi"}).install()
