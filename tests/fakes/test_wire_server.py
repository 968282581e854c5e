"""The scripted wire server itself: standalone mode, stats for the benchmark, non-streaming JSON."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.fakes.wire_scripts import parse_script, text_pieces
from tests.fakes.wire_server import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


def test_standalone_process_announces_its_address_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.wire_server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")

        reply = httpx.post(
            f"{url}/v1/chat/completions",
            headers={"authorization": "Bearer k"},
            json={"model": "m", "messages": [{"role": "user", "content": "[[tokens=5]]"}]},
        )
        stats = httpx.get(f"{url}/_stats").json()
        models = httpx.get(f"{url}/v1/models").json()
    finally:
        process.terminate()
        process.wait(5)

    assert reply.json()["choices"][0]["message"]["content"] == "".join(text_pieces(5))
    assert [s["tokens_sent"] for s in stats] == [5]
    assert isinstance(stats[0]["first_token_at"], float)
    assert "smollm2-135m" in [m["id"] for m in models["data"]]


def test_stats_record_token_times_at_the_scripted_rate(server: ScriptedServer) -> None:
    body = {
        "model": "m",
        "stream": True,
        "messages": [{"role": "user", "content": "[[tokens=101 rate=200 delay_first=0.1]]"}],
    }
    with httpx.stream(
        "POST",
        f"{server.base_url}/chat/completions",
        json=body,
        headers={"authorization": "Bearer k"},
    ) as response:
        chunks = [line for line in response.iter_lines() if line.startswith("data: ")]
    stats = httpx.get(f"{server.root_url}/_stats").json()
    httpx.delete(f"{server.root_url}/_stats")

    assert chunks[-1] == "data: [DONE]"
    (record,) = stats
    assert record["completed"] and record["tokens_sent"] == 101
    assert 0.09 <= record["first_token_at"] - record["received_at"] <= 0.2
    # 100 gaps of 5 ms on a monotonic schedule: no drift accumulates
    assert 0.49 <= record["last_token_at"] - record["first_token_at"] <= 0.56
    assert server.requests == []


def test_openai_sdk_reads_the_non_streaming_reply(server: ScriptedServer) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    completion = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "[[tokens=12 thinking=3]]"}]
    )
    client.close()

    assert completion.choices[0].message.content == "".join(text_pieces(12))
    assert completion.usage is not None and completion.usage.completion_tokens == 15


def test_anthropic_sdk_reads_the_non_streaming_reply_under_either_base_url(
    server: ScriptedServer,
) -> None:
    for base_url in (server.anthropic_base_url, server.base_url):
        client = anthropic.Anthropic(base_url=base_url, api_key="k", max_retries=0)
        message = client.messages.create(
            model="m", max_tokens=100, messages=[{"role": "user", "content": "[[tokens=12]]"}]
        )
        client.close()

        assert message.content[0].type == "text"
        assert message.content[0].text == "".join(text_pieces(12))
        assert message.stop_reason == "end_turn"


def test_unknown_directives_fail_loudly(server: ScriptedServer) -> None:
    with pytest.raises(ValueError, match="tokenz"):
        parse_script("[[tokenz=5]]")
    reply = httpx.post(
        f"{server.base_url}/chat/completions",
        headers={"authorization": "Bearer k"},
        json={"model": "m", "messages": [{"role": "user", "content": "[[tokenz=5]]"}]},
    )
    assert reply.status_code == 400
    assert "tokenz" in reply.json()["error"]["message"]


def test_accepted_keys_refuse_other_keys_on_every_route_in_each_protocol() -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "[[tokens=3]]"}]}
    with ScriptedServer(accepted_keys={"good"}) as server:
        openai_models = [httpx.get(f"{server.base_url}/models",
                                   headers={"authorization": f"Bearer {k}"}) for k in
                         ("good", "bad-key-123")]
        anthropic_models = [httpx.get(f"{server.root_url}/v1/models",
                                      headers={"x-api-key": k, "anthropic-version": "2023-06-01"})
                            for k in ("good", "bad-key-123")]
        completions = [httpx.post(f"{server.base_url}/chat/completions", json=chat,
                                  headers={"authorization": f"Bearer {k}"}) for k in
                       ("good", "bad-key-123")]
        messages = [httpx.post(f"{server.root_url}/v1/messages", json={**chat, "max_tokens": 9},
                               headers={"x-api-key": k}) for k in ("good", "bad-key-123")]
        statuses = [r.status for r in server.requests]
        server.accepted_keys = None  # any key again
        anyone = httpx.get(f"{server.base_url}/models", headers={"authorization": "Bearer x"})

    for ok, refused in (openai_models, anthropic_models, completions, messages):
        assert (ok.status_code, refused.status_code) == (200, 401)
    assert openai_models[1].json()["error"]["code"] == "invalid_api_key"
    assert "bad-key-123" in openai_models[1].json()["error"]["message"]  # echoed, as some do
    assert anthropic_models[1].json()["error"]["type"] == "authentication_error"
    assert messages[1].json()["error"]["type"] == "authentication_error"
    assert len(statuses) == 4 and statuses[1::2] == [401, 401]  # refused calls are recorded
    assert 401 not in statuses[::2]
    assert anyone.status_code == 200
