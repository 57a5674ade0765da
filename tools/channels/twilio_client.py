"""The one place the server builds its Twilio REST client.

twilio-python hard-codes `https://api.twilio.com` (edge/region only rewrite the host to another
`*.twilio.com`), so a local fake or proxy is reached by injecting an HTTP client that rewrites the URL.

The client is the synchronous one on purpose; callers run it with `asyncio.to_thread`. The async
variant (`AsyncTwilioHttpClient`, aiohttp) must be created inside a running event loop and closed
explicitly, which ties a long-lived client to one loop; REST calls here are rare and short.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

DEFAULT_TIMEOUT_S = 15.0


class RebasedTwilioHttpClient(TwilioHttpClient):
    """Sends every `https://*.twilio.com/...` request to `base_url` instead (path prefix kept).

    Environment proxies are ignored: the base URL is a local fake or an explicitly chosen endpoint.
    """

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(timeout=timeout)
        assert self.session is not None  # pool_connections=True always creates one
        self.session.trust_env = False
        self._base = urlsplit(base_url.rstrip("/"))

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        if not (parts.hostname or "").endswith("twilio.com"):
            return url
        return urlunsplit(
            (self._base.scheme, self._base.netloc, self._base.path + parts.path, parts.query, parts.fragment)
        )

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method,
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def build_twilio_client(
    account_sid: str, auth_token: str, api_base_url: str | None, timeout: float = DEFAULT_TIMEOUT_S
) -> Client:
    """A Twilio REST client; with `api_base_url` (TWILIO_API_BASE_URL) every request goes there.

    `timeout` bounds each HTTP request: twilio-python's default is no timeout at all.
    """
    http_client = RebasedTwilioHttpClient(api_base_url, timeout) if api_base_url else TwilioHttpClient(timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)
