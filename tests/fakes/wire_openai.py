"""The scripted OpenAI chat-completions API: SSE chunks, usage chunk, [DONE], JSON errors."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.fakes import wire_scripts as ws
from tests.fakes.wire_http import HttpResponder, sse
from tests.fakes.wire_stream import Emitter, RequestRecord, StreamCut, StreamFail, truncate


async def openai_chat(resp: HttpResponder, record: RequestRecord, body: dict[str, Any]) -> None:
    record.api = "openai"
    model, messages = str(body.get("model", "")), body.get("messages") or []
    record.stream = bool(body.get("stream"))
    try:
        script = ws.parse_script(ws.last_user_text(messages))
    except ValueError as exc:  # a mistyped directive should fail the test loudly, not hang it
        record.status = 400
        await resp.send_json(
            400,
            {
                "error": {
                    "message": str(exc),
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": None,
                }
            },
        )
        return
    auth = record.headers.get("authorization", "")
    api_key = auth.removeprefix("Bearer ").strip()
    await asyncio.sleep(script.delay_headers)
    error: tuple[int, dict[str, Any]] | None = None
    if not api_key:
        error = (
            401,
            {
                "error": {
                    "message": "You didn't provide an API key.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
        )
    elif script.status:
        error = (script.status, ws.openai_error(script.status, model=model, api_key=api_key))
    elif script.context_error:
        error = (400, ws.openai_context_error())
    elif script.require_max_completion_tokens and "max_tokens" in body:
        error = (400, ws.openai_max_tokens_error())
    if error:
        record.status = error[0]
        headers = {"retry-after": "1"} if error[0] == 429 else {}
        await resp.send_json(error[0], error[1], {"x-request-id": ws.new_id("req_"), **headers})
        return

    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    answer = [] if script.tool_call else ws.answer_pieces(script)
    thinking, text, cut = truncate(ws.thinking_pieces(script.thinking), answer, limit)
    tool_pieces = list(ws.TOOL_ARGUMENT_PIECES) if script.tool_call else []
    finish = "length" if cut else ("tool_calls" if script.tool_call else "stop")
    record.tokens_total = len(thinking) + len(text) + len(tool_pieces)
    prompt = sum(ws.count_tokens(ws.content_text(m.get("content"))) for m in messages)
    usage = ws.openai_usage(prompt, record.tokens_total, len(thinking), min(script.cached, prompt))
    cid, record.status = ws.new_id("chatcmpl-"), 200
    emitter = Emitter(resp, record, script)

    if not record.stream:
        await emitter.whole_body_delay()
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(text) or None,
            "refusal": None,
        }
        if thinking:
            message[script.reasoning_field] = "".join(thinking)
        if script.tool_call:
            message["tool_calls"] = [
                {
                    "id": "call_scripted",
                    "type": "function",
                    "function": {"name": script.tool_call, "arguments": "".join(tool_pieces)},
                }
            ]
        payload = {
            "id": cid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": usage,
        }
        if script.drop_after is not None:
            await resp.send_partial_json(200, payload)
            resp.drop(reset=script.reset)
            record.dropped = True
            return
        await resp.send_json(200, payload, {"x-request-id": ws.new_id("req_")})
        record.mark_token(record.tokens_total)
        record.completed = True
        return

    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return sse(ws.openai_chunk(cid, model, delta, finish_reason, with_usage_key=with_usage))

    await resp.start_stream({"x-request-id": ws.new_id("req_")})
    emitter = Emitter(resp, record, script)  # the schedule starts once the headers are out
    try:
        await emitter.meta(chunk({"role": "assistant", "content": "", "refusal": None}))
        for piece in thinking:
            await emitter.token(chunk({"content": None, script.reasoning_field: piece}))
        for piece in text:
            await emitter.token(chunk({"content": piece}))
        if script.tool_call:
            await emitter.meta(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_scripted",
                                "type": "function",
                                "function": {"name": script.tool_call, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            for piece in tool_pieces:
                await emitter.token(
                    chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                )
        await emitter.meta(chunk({}, finish))
        if with_usage:
            usage_chunk = ws.openai_chunk(cid, model, {}, None)
            usage_chunk["choices"], usage_chunk["usage"] = [], usage
            await emitter.meta(sse(usage_chunk))
        await emitter.meta(sse("[DONE]"))
        await resp.end_stream()
        record.completed = True
    except StreamCut:
        resp.drop(reset=script.reset)
        record.dropped = True
    except StreamFail:
        error_body = ws.openai_error(500, model=model, api_key=api_key)["error"]
        error_body["type"] = script.error_type or "server_error"
        await emitter.meta(sse({"error": error_body}))
        await resp.end_stream()
