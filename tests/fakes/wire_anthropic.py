"""The scripted Anthropic Messages API: typed SSE events, thinking blocks, error events."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fakes import wire_scripts as ws
from tests.fakes.wire_http import HttpResponder, sse
from tests.fakes.wire_stream import Emitter, RequestRecord, StreamCut, StreamFail, truncate


def _anthropic_invalid(body: dict[str, Any]) -> str | None:
    """The request checks the real API makes that adapters most often get wrong."""
    max_tokens, thinking = body.get("max_tokens"), body.get("thinking") or {}
    if not isinstance(max_tokens, int):
        return "max_tokens: Field required"
    for i, message in enumerate(body.get("messages") or []):
        if message.get("role") not in ("user", "assistant"):
            return f'messages.{i}.role: Input should be "user" or "assistant"'
        if not ws.content_text(message.get("content")).strip():
            return f"messages.{i}: text content blocks must be non-empty"
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens", 0)
        if budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if max_tokens <= budget:
            return "`max_tokens` must be greater than `thinking.budget_tokens`."
        if body.get("temperature") not in (None, 1, 1.0):
            return "`temperature` may only be set to 1 when thinking is enabled."
    return None


async def anthropic_messages(
    resp: HttpResponder, record: RequestRecord, body: dict[str, Any]
) -> None:
    record.api = "anthropic"
    model, messages = str(body.get("model", "")), body.get("messages") or []
    record.stream = bool(body.get("stream"))
    try:
        script = ws.parse_script(ws.last_user_text(messages))
    except ValueError as exc:  # a mistyped directive should fail the test loudly, not hang it
        record.status = 400
        await resp.send_json(400, ws.anthropic_error(400, message=str(exc)))
        return
    has_key = bool(record.headers.get("x-api-key") or record.headers.get("authorization"))
    await asyncio.sleep(script.delay_headers)
    error: tuple[int, dict[str, Any]] | None = None
    if not has_key:
        error = (401, ws.anthropic_error(401, message="x-api-key header is required"))
    elif script.status:
        error = (script.status, ws.anthropic_error(script.status, model=model))
    elif script.context_error:
        error = (400, ws.anthropic_context_error())
    elif invalid := _anthropic_invalid(body):
        error = (400, ws.anthropic_error(400, message=invalid))
    if error:
        record.status = error[0]
        headers = {"retry-after": "1"} if error[0] == 429 else {}
        await resp.send_json(error[0], error[1], {"request-id": error[1]["request_id"], **headers})
        return

    thinking_on = (body.get("thinking") or {}).get("type") == "enabled"
    answer = [] if script.tool_call else ws.answer_pieces(script)
    thinking = ws.thinking_pieces(script.thinking if thinking_on else 0)
    thinking, text, cut = truncate(thinking, answer, body["max_tokens"])
    tool_pieces = list(ws.TOOL_ARGUMENT_PIECES) if script.tool_call else []
    stop = "max_tokens" if cut else ("tool_use" if script.tool_call else "end_turn")
    record.tokens_total = len(thinking) + len(text) + len(tool_pieces)
    system = body.get("system")
    prompt = ws.count_tokens(ws.content_text(system) if system else "") + sum(
        ws.count_tokens(ws.content_text(m.get("content"))) for m in messages
    )
    cached = min(script.cached, prompt)
    start_usage = {
        "input_tokens": prompt - cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": 1,
    }
    mid, record.status = ws.new_id("msg_"), 200
    emitter = Emitter(resp, record, script)
    blocks: list[dict[str, Any]] = []
    if thinking:
        blocks.append({"type": "thinking", "thinking": "".join(thinking), "signature": "c2ln"})
    if text:
        blocks.append({"type": "text", "text": "".join(text)})
    if script.tool_call:
        blocks.append(
            {
                "type": "tool_use",
                "id": "toolu_scripted",
                "name": script.tool_call,
                "input": {"city": "Paris", "unit": "celsius"},
            }
        )

    if not record.stream:
        await emitter.whole_body_delay()
        end_usage = {"output_tokens": record.tokens_total}
        if thinking:
            end_usage["output_tokens_details"] = {"thinking_tokens": len(thinking)}
        payload = ws.anthropic_message(mid, model, {**start_usage, **end_usage})
        payload.update(content=blocks, stop_reason=stop)
        if script.drop_after is not None:
            await resp.send_partial_json(200, payload)
            resp.drop(reset=script.reset)
            record.dropped = True
            return
        await resp.send_json(200, payload, {"request-id": ws.new_id("req_")})
        record.mark_token(record.tokens_total)
        record.completed = True
        return

    end_usage: dict[str, Any] = {"output_tokens": record.tokens_total}
    if thinking:
        end_usage["output_tokens_details"] = {"thinking_tokens": len(thinking)}
    await resp.start_stream({"request-id": ws.new_id("req_")})
    emitter = Emitter(resp, record, script)
    try:
        await emitter.meta(
            sse(
                {"type": "message_start", "message": ws.anthropic_message(mid, model, start_usage)},
                "message_start",
            )
        )
        await emitter.meta(sse({"type": "ping"}, "ping"))
        for index, block in enumerate(blocks):
            empty = {
                "thinking": {"type": "thinking", "thinking": "", "signature": ""},
                "text": {"type": "text", "text": ""},
                "tool_use": {**block, "input": {}},
            }[block["type"]]
            await emitter.meta(
                sse(
                    {"type": "content_block_start", "index": index, "content_block": empty},
                    "content_block_start",
                )
            )
            if block["type"] == "thinking":
                deltas = [{"type": "thinking_delta", "thinking": p} for p in thinking]
            elif block["type"] == "text":
                deltas = [{"type": "text_delta", "text": p} for p in text]
            else:
                deltas = [{"type": "input_json_delta", "partial_json": p} for p in tool_pieces]
            for delta in deltas:
                await emitter.token(
                    sse(
                        {"type": "content_block_delta", "index": index, "delta": delta},
                        "content_block_delta",
                    )
                )
            if block["type"] == "thinking":
                await emitter.meta(
                    sse(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "signature_delta", "signature": "c2lnbmF0dXJl"},
                        },
                        "content_block_delta",
                    )
                )
            await emitter.meta(
                sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            )
        await emitter.meta(
            sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": end_usage,
                },
                "message_delta",
            )
        )
        await emitter.meta(sse({"type": "message_stop"}, "message_stop"))
        await resp.end_stream()
        record.completed = True
    except StreamCut:
        resp.drop(reset=script.reset)
        record.dropped = True
    except StreamFail:
        kind = script.error_type or "overloaded_error"
        status = next(
            (code for code, (name, _) in ws.ANTHROPIC_ERRORS.items() if name == kind), 500
        )
        error_body = ws.anthropic_error(status, kind=kind)
        del error_body["request_id"]
        await emitter.meta(sse(error_body, "error"))
        await resp.end_stream()
