"""The embedded local model, really started and really streaming through the OpenAI adapter."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatapp.providers.base import ChatMessage, StreamCollector, StreamRequest, TextDelta, Usage
from chatapp.providers.catalog import PROVIDERS
from chatapp.providers.registry import build_provider

ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def local_model_url(tmp_path: Path) -> Iterator[str]:
    """`python -m chatapp.cli local-model` on a free port; its base URL once /v1/models answers."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATAPP_")}
    env.update(CHATAPP_LOCAL_MODEL_PORT=str(port), CHATAPP_LOCAL_MODEL_HOST="127.0.0.1")
    log = (tmp_path / "local-model.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "chatapp.cli", "local-model"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"local model exited with {proc.returncode}: {_tail(tmp_path)}")
            try:
                if httpx.get(f"{base_url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"local model did not answer in {START_TIMEOUT_SECONDS:.0f}s: "
                            f"{_tail(tmp_path)}")
            time.sleep(0.25)
        yield base_url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


def _tail(tmp_path: Path) -> str:
    return (tmp_path / "local-model.log").read_text(errors="replace")[-2000:]


@pytest.mark.local_model
async def test_the_local_model_streams_real_tokens(local_model_url: str) -> None:
    provider = build_provider(PROVIDERS["local"], api_key=None, base_url=local_model_url)
    request = StreamRequest(
        model="smollm2-135m",
        messages=[ChatMessage("user", "Name three colours of the rainbow.")],
        max_tokens=32,
        temperature=0.0,
    )
    collected, deltas = StreamCollector(), 0
    try:
        async for event in provider.stream(request):
            collected.add(event)
            deltas += isinstance(event, TextDelta)
    finally:
        aclose = getattr(provider, "aclose", None)
        if aclose is not None:
            await aclose()

    assert deltas >= 3, collected
    assert collected.content.strip()
    assert collected.finish is not None
    # llama-cpp-python's server sends no usage while streaming: the adapter counts chunks.
    assert isinstance(collected.usage, Usage)
    assert collected.usage.output_tokens > 0
    assert collected.usage.input_tokens > 0
