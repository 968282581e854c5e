"""What the scripted wire server says: directives, deterministic token text, real payload shapes."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

DIRECTIVE_RE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)

# Kept as prose so the scripted reply reads like text; split once into per-token words.
_PROSE = (
    "streaming tokens arrive one after another while the reader follows along and the "
    "interface keeps up with every word that the model decides to write next so nothing "
    "feels slow or stuck even when the answer grows long"
)
_THOUGHTS = "first consider the question then check each step before answering"
WORDS = tuple(_PROSE.split())
THINK_WORDS = tuple(_THOUGHTS.split())
CODE_BLOCK = ("\n\n```python\n", "def greet(name):\n", '    return f"hello {name}"\n', "```\n\n")
PARAGRAPH_EVERY = 60


@dataclass(slots=True)
class Script:
    """Parsed `[[key=value flag]]` directives from the last user message."""

    text: str = ""  # the user message with the directives removed
    tokens: int | None = None  # stream N scripted tokens instead of the echo
    rate: float = 0.0  # tokens per second; 0 streams as fast as the socket takes them
    status: int | None = None  # answer with this HTTP error and the API's real error body
    context_error: bool = False  # 400 context-length error
    drop_after: int | None = None  # send N tokens then cut the TCP connection mid-body
    reset: bool = False  # with drop_after: close with RST (ECONNRESET) instead of FIN
    stream_error: int | None = None  # send N tokens then an in-stream error event
    error_type: str | None = None  # type of that in-stream error (API-specific default)
    delay_first: float = 0.0  # seconds from response headers to the first token
    delay_headers: float = 0.0  # seconds before the response headers are sent
    thinking: int = 0  # reasoning tokens before the answer
    reasoning_field: str = "reasoning_content"  # OpenAI-style: or "reasoning" (OpenRouter)
    cached: int = 0  # prompt tokens reported as read from cache
    tool_call: str | None = None  # answer with a call to this tool instead of text
    require_max_completion_tokens: bool = False  # OpenAI: refuse `max_tokens` like o-series


def parse_script(text: str) -> Script:
    """Read the directives; unknown keys raise so a typo fails loudly in tests."""
    script = Script(text=DIRECTIVE_RE.sub("", text).strip())
    for group in DIRECTIVE_RE.findall(text):
        for item in group.split():
            key, _, value = item.partition("=")
            if key in ("tokens", "status", "drop_after", "stream_error", "thinking", "cached"):
                setattr(script, key, int(value))
            elif key in ("rate", "delay_first", "delay_headers"):
                setattr(script, key, float(value))
            elif key in ("context_error", "reset", "require_max_completion_tokens"):
                setattr(script, key, value.lower() not in ("0", "false", "no"))
            elif key in ("error_type", "reasoning_field", "tool_call"):
                setattr(script, key, value)
            else:
                raise ValueError(f"unknown wire-server directive: {key!r}")
    return script


def text_pieces(n: int) -> list[str]:
    """N deterministic tokens: words, a paragraph break every 60, one fenced code block."""
    code_at = n // 3 if n >= 40 else None  # short replies stay plain words
    pieces: list[str] = []
    for i in range(n):
        if code_at is not None and code_at <= i < code_at + len(CODE_BLOCK):
            pieces.append(CODE_BLOCK[i - code_at])
            continue
        word = WORDS[i % len(WORDS)]
        if not pieces or pieces[-1].endswith("\n\n"):
            word = word.capitalize()
        if i == n - 1 or (code_at is not None and i == code_at - 1):
            pieces.append(word + ".")
        elif i % PARAGRAPH_EVERY == PARAGRAPH_EVERY - 1:
            pieces.append(word + ".\n\n")
        else:
            pieces.append(word + " ")
    return pieces


def thinking_pieces(n: int) -> list[str]:
    return [f"{THINK_WORDS[i % len(THINK_WORDS)]} " for i in range(n)]


def echo_pieces(message: str) -> list[str]:
    """'Echo: <message>' split word by word; joining the pieces gives the exact text back."""
    return re.findall(r"\S+\s*|\s+", f"Echo: {message}")


def answer_pieces(script: Script) -> list[str]:
    return text_pieces(script.tokens) if script.tokens is not None else echo_pieces(script.text)


def count_tokens(text: str) -> int:
    """The server's deterministic stand-in for a tokenizer: whitespace-separated words."""
    return len(text.split())


def content_text(content: Any) -> str:
    """Text of a message `content` in either API's shape (string or list of parts/blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


TOOL_ARGUMENT_PIECES = ('{"city": ', '"Paris", ', '"unit": "celsius"}')


# --- OpenAI chat completions -------------------------------------------------------

OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    # status: (type, code, message); 401 is built per request because it echoes the key.
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, "
        "Requested 1. Please try again in 20s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later"),
}


def openai_error(status: int, *, model: str, api_key: str) -> dict[str, Any]:
    if status == 401:
        # Some compatible servers echo the whole key back; the adapter must not repeat it.
        kind, code = "invalid_request_error", "invalid_api_key"
        message = f"Incorrect API key provided: {api_key}. You can find your API key at https://platform.openai.com/account/api-keys."
    else:
        kind, code, message = OPENAI_ERRORS.get(
            status, ("invalid_request_error", None, f"Scripted error {status}.")
        )
    return {
        "error": {"message": message.format(model=model), "type": kind, "param": None, "code": code}
    }


def openai_context_error() -> dict[str, Any]:
    return {
        "error": {
            "message": "This model's maximum context length is 128000 tokens. However, your "
            "messages resulted in 131072 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }


def openai_max_tokens_error() -> dict[str, Any]:
    return {
        "error": {
            "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "type": "invalid_request_error",
            "param": "max_tokens",
            "code": "unsupported_parameter",
        }
    }


def openai_usage(prompt: int, completion: int, reasoning: int, cached: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def openai_chunk(
    cid: str,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
    *,
    with_usage_key: bool = False,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_scripted",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if with_usage_key:
        chunk["usage"] = None  # real OpenAI sends an explicit null until the usage chunk
    return chunk


# --- Anthropic messages ------------------------------------------------------------

ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Scripted invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "model: {model}"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def anthropic_error(
    status: int, *, model: str = "", message: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    default_kind, default_message = ANTHROPIC_ERRORS.get(status, ("api_error", "Scripted error."))
    return {
        "type": "error",
        "error": {
            "type": kind or default_kind,
            "message": (message or default_message).format(model=model),
        },
        "request_id": new_id("req_"),
    }


def anthropic_context_error() -> dict[str, Any]:
    return anthropic_error(400, message="prompt is too long: 208576 tokens > 200000 maximum")


def anthropic_message(mid: str, model: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
