"""The real google-genai client (REST, plain http base URL) against FakeGeminiText."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from google import genai
from google.genai import errors, types

from fakes.gemini_text import FakeGeminiText, text_response

Fake = tuple[FakeGeminiText, str]
MODEL = "gemini-2.5-flash"
SEND_SMS = types.FunctionDeclaration(
    name="send_sms",
    description="Text the user.",
    parameters=types.Schema(
        type=types.Type.OBJECT, properties={"body": types.Schema(type=types.Type.STRING)}, required=["body"]
    ),
)
CONFIG = types.GenerateContentConfig(
    system_instruction="You are a coach.", tools=[types.Tool(function_declarations=[SEND_SMS])]
)


MakeClient = Callable[..., genai.Client]


@pytest.fixture
async def make_client(gemini_text_http: Fake) -> AsyncIterator[MakeClient]:
    """`make_client(api_key=None)`: a genai client aimed at the fake; closed afterwards."""
    fake, url = gemini_text_http
    made: list[genai.Client] = []

    def make(api_key: str | None = None) -> genai.Client:
        made.append(genai.Client(api_key=api_key or fake.api_key, http_options=types.HttpOptions(base_url=url)))
        return made[-1]

    yield make
    for client in made:
        await client.aio.aclose()
        client.close()


def _function_response_turns(call: types.FunctionCall, result: dict[str, Any]) -> list[types.Content]:
    return [
        types.Content(role="user", parts=[types.Part.from_text(text="Remind me by text")]),
        types.Content(role="model", parts=[types.Part(function_call=call)]),
        types.Content(role="user", parts=[types.Part.from_function_response(name=call.name, response=result)]),
    ]


async def test_sdk_posts_to_v1_models_generate_content_with_api_key(
    gemini_text_http: Fake, make_client: MakeClient
) -> None:
    fake, _ = gemini_text_http
    fake.queue_text("Hello!")

    response = await make_client().aio.models.generate_content(model=MODEL, contents="hi", config=CONFIG)

    assert response.text == "Hello!"
    [request] = fake.requests
    assert (request.version, request.model) == ("v1", MODEL)
    assert request.headers["x-goog-api-key"] == fake.api_key
    assert request.tool_names() == ["send_sms"]
    assert request.body["systemInstruction"]["parts"] == [{"text": "You are a coach."}]


async def test_scripted_function_call_reaches_the_sdk(gemini_text_http: Fake, make_client: MakeClient) -> None:
    fake, _ = gemini_text_http
    fake.queue_function_calls(("send_sms", {"body": "Walk at 7"}))

    response = await make_client().aio.models.generate_content(model=MODEL, contents="hi", config=CONFIG)

    [call] = response.function_calls or []
    assert (call.name, call.args) == ("send_sms", {"body": "Walk at 7"})


async def test_follow_up_function_response_is_recorded(gemini_text_http: Fake, make_client: MakeClient) -> None:
    fake, _ = gemini_text_http
    fake.queue_function_calls(("send_sms", {"body": "Walk at 7"}))
    fake.queue_text("Sent.")
    client = make_client()
    first = await client.aio.models.generate_content(model=MODEL, contents="Remind me by text", config=CONFIG)
    [call] = first.function_calls or []

    await client.aio.models.generate_content(
        model=MODEL, contents=_function_response_turns(call, {"status": "pending_approval"}), config=CONFIG
    )

    assert fake.requests[1].function_responses() == [{"name": "send_sms", "response": {"status": "pending_approval"}}]


async def test_handler_answers_from_the_function_response_it_received(
    gemini_text_http: Fake, make_client: MakeClient
) -> None:
    fake, _ = gemini_text_http

    async def handler(body: dict[str, Any]) -> dict[str, Any]:
        [part] = [p for c in body["contents"] for p in c["parts"] if "functionResponse" in p]
        return text_response(f"Status is {part['functionResponse']['response']['status']}")

    fake.set_handler(handler)
    call = types.FunctionCall(name="send_sms", args={"body": "x"})

    response = await make_client().aio.models.generate_content(
        model=MODEL, contents=_function_response_turns(call, {"status": "sent"}), config=CONFIG
    )

    assert response.text == "Status is sent"


def test_sync_client_uses_the_same_path(gemini_text_http: Fake) -> None:
    fake, url = gemini_text_http
    fake.queue_text("sync")

    with genai.Client(api_key=fake.api_key, http_options=types.HttpOptions(base_url=url)) as client:
        assert client.models.generate_content(model=MODEL, contents="hi").text == "sync"
    assert fake.requests[0].version == "v1"


async def test_unscripted_request_fails_loudly_as_server_error(make_client: MakeClient) -> None:
    with pytest.raises(errors.ServerError):
        await make_client().aio.models.generate_content(model=MODEL, contents="hi")


async def test_wrong_api_key_is_400_invalid_argument(gemini_text_http: Fake, make_client: MakeClient) -> None:
    fake, _ = gemini_text_http
    fake.queue_text("never")

    with pytest.raises(errors.ClientError) as raised:
        await make_client("wrong").aio.models.generate_content(model=MODEL, contents="hi")

    assert (raised.value.code, raised.value.status) == (400, "INVALID_ARGUMENT")


async def test_injected_429_precedes_the_script(gemini_text_http: Fake, make_client: MakeClient) -> None:
    fake, _ = gemini_text_http
    fake.fail_next(1, 429)
    fake.queue_text("after the limit")
    client = make_client()

    with pytest.raises(errors.ClientError) as raised:
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    response = await client.aio.models.generate_content(model=MODEL, contents="hi")

    assert raised.value.code == 429 and response.text == "after the limit"
