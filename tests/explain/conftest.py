import pytest

from scans.explain import ExplainConfig

from .fake_gemini import FakeGemini


@pytest.fixture
def fake_gemini(monkeypatch):
    # A developer's proxy settings must not send the test's requests anywhere but here.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    fake = FakeGemini()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def config(fake_gemini):
    """Gemini through the fake server, with tiny back-off so the suite stays fast."""
    return ExplainConfig(
        api_key="test-key-123",
        base_url=fake_gemini.base_url,
        timeout_s=7,
        max_attempts=3,
        backoff_base_s=0.01,
        backoff_cap_s=0.02,
        budget_s=10,
    )
