"""The browser client's page: served by the app, and its audio helpers pass their own tests under node."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


async def test_the_home_page_sends_a_signed_out_browser_to_sign_in(client):
    response = await client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/signin?next=/"


async def test_the_client_page_loads_its_script_as_a_module(client):
    response = await client.get("/web/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="app.js"></script>' in response.text


@pytest.mark.parametrize("script", ["app.js", "pcm.js", "capture-worklet.js"])
async def test_the_client_scripts_are_served_as_javascript(client, script):
    response = await client.get(f"/web/{script}")
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]


async def test_the_client_talks_to_the_voice_websocket_with_its_token_when_it_has_one(client):
    script = (await client.get("/web/app.js")).text
    assert "`?token=${encodeURIComponent(this.token)}`" in script
    assert "/ws/voice${query}" in script


async def test_an_unknown_file_under_web_is_not_found(client):
    assert (await client.get("/web/nothing-here.js")).status_code == 404


def test_the_client_audio_helpers_pass_their_node_tests():
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is needed for web/pcm.test.mjs")
        pytest.skip("node is not installed")
    result = subprocess.run([node, "--test", str(WEB / "pcm.test.mjs")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
