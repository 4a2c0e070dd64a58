"""Fixtures for the sandbox tests: a sandbox per test, the real client libraries pointed at it,
and a tiny HTTP server that receives WeChat Pay notifications.

Helpers are handed out as fixtures (not imported from here) so the tests work in any pytest
import mode, next to the other conftest files of the project.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpy import WeChatClient
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from sandbox import SandboxServer, start_sandbox
from sandbox.settings import parse_env_file, repo_path

# fast schedules so a whole run stays well under 30 seconds
FAST = {
    "notify_retry_delays": [0.05, 0.1, 0.2],
    "refund_delay_seconds": 0.05,
    "notify_timeout": 5.0,
}


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    return parse_env_file()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start sandboxes with extra settings; all are stopped after the test."""
    servers: list[SandboxServer] = []

    def make(**settings: Any) -> SandboxServer:
        server = start_sandbox({**FAST, **settings})
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox_settings() -> dict:
    """Extra sandbox settings; a test overrides it with `parametrize("sandbox_settings", ...)`."""
    return {}


@pytest.fixture
def sandbox(make_sandbox, sandbox_settings) -> SandboxServer:
    return make_sandbox(**sandbox_settings)


class Control:
    """The control endpoints, for readable tests."""

    def __init__(self, url: str):
        self.url = url

    def post(self, path: str, body: dict | None = None, expect: int = 200) -> Any:
        response = requests.post(self.url + path, json=body or {}, timeout=30)
        assert response.status_code == expect, response.text
        return response.json()

    def get(self, path: str, **params: str) -> Any:
        response = requests.get(self.url + path, params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def notifications(self, **filters: str) -> list[dict]:
        return self.get("/sandbox/pay/notifications", **filters)["notifications"]


@pytest.fixture
def control(sandbox) -> Control:
    return Control(sandbox.url)


def make_wxpay(url: str, env: dict[str, str], notify_url: str, **overrides: Any) -> WeChatPay:
    """A real `wechatpayv3` client in public-key mode, its gateway pointed at the sandbox."""
    options = dict(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=env["WECHATPAY_MCHID"],
        private_key=repo_path(env["WECHATPAY_PRIVATE_KEY_FILE"]).read_text(),
        cert_serial_no=env["WECHATPAY_CERT_SERIAL"],
        appid=env["WECHAT_APPID"],
        apiv3_key=env["WECHATPAY_APIV3_KEY"],
        notify_url=notify_url,
        public_key=repo_path(env["WECHATPAY_PUBLIC_KEY_FILE"]).read_text(),
        public_key_id=env["WECHATPAY_PUBLIC_KEY_ID"],
        timeout=(5, 30),
    )
    options.update(overrides)
    wxpay = WeChatPay(**options)
    wxpay._core._gate_way = url
    return wxpay


class Receiver:
    """The merchant's notify endpoint: records every notification, answers scripted statuses."""

    def __init__(self, statuses: list[int] | None = None, default: int = 204):
        self.statuses = list(statuses or [])
        self.default = default
        self.received: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._server = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}/pay/notify"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def _app(self, environ, start_response):
        request = Request(environ)
        with self._changed:
            status = self.statuses.pop(0) if self.statuses else self.default
            self.received.append({"headers": dict(request.headers), "body": request.get_data()})
            self._changed.notify_all()
        return Response(status=status)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"got {len(self.received)} notifications, expected {count}"
                self._changed.wait(left)
            return list(self.received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    receivers: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        receiver = Receiver(**kwargs)
        receivers.append(receiver)
        return receiver

    yield make
    for receiver in receivers:
        receiver.stop()


@pytest.fixture
def receiver(make_receiver) -> Receiver:
    return make_receiver()


@pytest.fixture
def wxpay_for(env) -> Callable[..., WeChatPay]:
    """`wxpay_for(url, notify_url, **constructor_overrides)`."""
    return lambda url, notify_url, **overrides: make_wxpay(url, env, notify_url, **overrides)


@pytest.fixture
def wxpay(sandbox, env, receiver) -> WeChatPay:
    return make_wxpay(sandbox.url, env, receiver.url)


def make_wechat_client(url: str, appid: str, secret: str, **kwargs: Any) -> WeChatClient:
    """wechatpy pointed at the sandbox the way api-facts 1.1 describes (token URL is hard-coded)."""

    class SandboxWeChatClient(WeChatClient):
        API_BASE_URL = url + "/cgi-bin/"

        def fetch_access_token(self):
            return self._fetch_access_token(
                url=url + "/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret,
                },
            )

    client = SandboxWeChatClient(appid, secret, **kwargs)
    client.wxa.API_BASE_URL = url + "/"
    return client


@pytest.fixture
def wechat_client_for(env) -> Callable[..., WeChatClient]:
    """`wechat_client_for(url, appid=..., secret=..., **WeChatClient kwargs)`."""

    def make(url: str, appid: str | None = None, secret: str | None = None, **kwargs: Any):
        appid = appid or env["WECHAT_APPID"]
        return make_wechat_client(url, appid, secret or env["WECHAT_SECRET"], **kwargs)

    return make


@pytest.fixture
def wx(sandbox, wechat_client_for) -> WeChatClient:
    return wechat_client_for(sandbox.url)


@pytest.fixture
def place_order() -> Callable[..., str]:
    """`place_order(wxpay, out_trade_no, total=100, **pay_kwargs)` -> prepay_id, via the client."""

    def place(wxpay: WeChatPay, out_trade_no: str, total: int = 100, **extra: Any) -> str:
        code, text = wxpay.pay(
            description="合力测试商品",
            out_trade_no=out_trade_no,
            amount={"total": total, "currency": "CNY"},
            payer={"openid": "o_buyer_1"},
            **extra,
        )
        assert code == 200, text
        return json.loads(text)["prepay_id"]

    return place


class PlatformKit:
    """The control side of one order platform's stand-in, and the pagers the platform tests
    share. A pager is `page(number) -> (order ids, total)` with 1-based page numbers."""

    def __init__(self, url: str, platform: str):
        self.url = url
        self.platform = platform
        self.base = f"{url}/sandbox/platforms/{platform}"

    def post(self, path: str, body: dict | None = None, expect: int = 200) -> Any:
        response = requests.post(self.base + path, json=body or {}, timeout=30)
        assert response.status_code == expect, response.text
        return response.json()

    def get(self, path: str, **params: str) -> Any:
        response = requests.get(self.base + path, params=params, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def shop(self, shop_id: str, **body: Any) -> dict:
        return self.post("/shops", {"shop_id": shop_id, **body})

    def order(self, shop_id: str, status: str = "PAID", **body: Any) -> dict:
        items = body.pop(
            "items", [{"outer_id": "RS-LIVE-XL-5", "quantity": 2, "unit_price_fen": 13800}]
        )
        return self.post("/orders", {"shop_id": shop_id, "status": status, "items": items, **body})

    def orders(self, shop_id: str, update_times: list[int], status: str = "PAID") -> list[str]:
        """Orders updated at the given times, in that order; answers their ids."""
        bodies = [
            {
                "shop_id": shop_id,
                "status": status,
                "update_time": at,
                "items": [{"outer_id": "RS-LIVE-M-5", "quantity": 1, "unit_price_fen": 9900}],
            }
            for at in update_times
        ]
        return self.post("/orders/bulk", {"orders": bodies})["order_ids"]

    def status(self, order_id: str, status: str, expect: int = 200, **body: Any) -> dict:
        return self.post(f"/orders/{order_id}/status", {"status": status, **body}, expect)

    def config(self, **body: Any) -> dict:
        return self.post("/config", body)

    def fault(self, **body: Any) -> list[dict]:
        return self.post("/faults", body)["faults"]

    def stats(self) -> dict:
        return self.get("/stats")

    def truth(self, shop_id: str) -> dict[str, dict]:
        return {o["order_id"]: o for o in self.get("/truth", shop_id=shop_id)["orders"]}

    @staticmethod
    def pull_backward(page: Callable[[int], tuple[list[str], int]], size: int) -> list[str]:
        """Page 1 for the total, then from the last page back to page 1 (page 1 read again)."""
        ids, total = page(1)
        seen = list(ids)
        for number in range(max(1, -(-total // size)), 0, -1):
            seen += page(number)[0]
        return seen

    @staticmethod
    def pull_forward(page: Callable[[int], tuple[list[str], int]], size: int) -> list[str]:
        seen, number = [], 1
        while True:
            ids, total = page(number)
            seen += ids
            if number * size >= total:
                return seen
            number += 1


@pytest.fixture
def platform_kit(sandbox) -> Callable[[str], PlatformKit]:
    return lambda platform: PlatformKit(sandbox.url, platform)
