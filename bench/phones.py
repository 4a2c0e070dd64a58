"""Phones for benchmarks on several nodes: a buyer's calls that a dead node's load balancer sends to
a live one, logging in through the sandbox, ordering and paying through it."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import requests

from bench.harness import ADDRESS
from bench.nodes import Node


class Run:
    """What the phones, the payers and the checks share."""

    def __init__(self, a: Node, b: Node, sandbox: str, app):
        self.a, self.b, self.sandbox, self.app = a, b, sandbox, app
        self.counts: Counter = Counter()  # (node name, what) → how many
        self.failures: list[str] = []
        self.confirmed: set[int] = set()  # orders the sandbox says were paid
        self.lock = threading.Lock()
        self.load_over = threading.Event()

    def count(self, node: Node, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[node.name, what] += n

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


class Failed(Exception):
    """A call answered what no phone can use (recorded in Run.failures)."""


class Phone:
    """A buyer's HTTP calls. A call meant for node B once B is dead goes to node A with the same
    body and Idempotency-Key (the load balancer's retry)."""

    def __init__(self, run: Run):
        self.run, self.http = run, requests.Session()

    def call(self, node: Node, method: str, path: str, **kwargs) -> tuple[Node, requests.Response]:
        """(the node that answered, its answer); Failed on 5xx or a live node's connection error."""
        while True:
            if node is self.run.b and node.killed:
                node = self.run.a
            try:
                answer = self.http.request(method, node.url + path, timeout=60, **kwargs)
            except requests.RequestException as exc:
                if node is self.run.b and node.killed:
                    self.run.count(node, "cut_off_by_kill")
                    continue
                self.run.fail(f"node {node.name}: {method} {path}: {exc!r}")
                raise Failed from exc
            if answer.status_code >= 500:
                self.run.fail(f"node {node.name}: {method} {path}: {answer.status_code}")
                raise Failed
            return node, answer

    def expect(self, node: Node, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs):
        used, answer = self.call(node, method, path, **kwargs)
        if answer.status_code not in ok:
            self.run.fail(f"node {used.name}: {method} {path}: {answer.status_code} {answer.text}")
            raise Failed
        return used, answer.json()

    def login(self, node: Node, openid: str) -> dict:
        """wx.login through the sandbox, then our login; a code B used up before dying is
        refused by A, so the phone asks WeChat for a new one."""
        for _ in range(2):
            code = self.http.post(
                f"{self.run.sandbox}/sandbox/wx/login-code", json={"openid": openid}, timeout=30
            ).json()["code"]
            used, answer = self.call(node, "POST", "/api/v1/auth/login", json={"code": code})
            if answer.status_code == 200:
                return {"Authorization": f"Bearer {answer.json()['token']}"}
            if used is node:  # refused without a kill in between
                break
        self.run.fail(f"node {used.name}: login: {answer.status_code} {answer.text}")
        raise Failed

    def pay(self, node: Node, auth: dict, order_id: int, address: bool) -> Node:
        """Pay through the sandbox as the phone does, and see the order PAID (on the node
        answered last)."""
        path = f"/api/v1/orders/{order_id}"
        if address:
            self.expect(node, "PUT", f"{path}/address", headers=auth, json=ADDRESS)
        _, params = self.expect(node, "POST", f"{path}/pay", headers=auth)
        prepay = params["package"].removeprefix("prepay_id=")
        confirm = self.http.post(
            f"{self.run.sandbox}/sandbox/pay/{prepay}/confirm",
            json={"payment": params, "wait": True},
            timeout=60,
        )
        if confirm.status_code != 200:
            self.run.fail(f"sandbox: confirm of order {order_id}: {confirm.text}")
            raise Failed
        with self.run.lock:
            self.run.confirmed.add(order_id)
        for _ in range(300):
            used, order = self.expect(node, "GET", path, headers=auth)
            if order["status"] == "PAID":
                return used
            time.sleep(0.1)
        self.run.fail(f"order {order_id}: paid in the sandbox, still {order['status']} after 30 s")
        raise Failed


def shop(run: Run, node: Node, sku_id: int, stop: threading.Event) -> None:
    """One phone after another on node: log in, order one or two packs, pay every other order
    (the rest expire at their pay deadline)."""
    number = 0
    while not stop.is_set():
        number += 1
        phone = Phone(run)
        try:
            auth = phone.login(node, f"o_node_{node.name}_{uuid.uuid4().hex[:12]}")
            used, answer = phone.call(
                node,
                "POST",
                "/api/v1/orders",
                headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                json={
                    "items": [{"sku_id": sku_id, "quantity": 1 + number % 2}],
                    "address": ADDRESS,
                },
            )
            if answer.status_code == 409 and answer.json().get("code") == "SOLD_OUT":
                run.count(used, "sold_out")
                continue
            if answer.status_code not in (200, 201):
                run.fail(f"node {used.name}: order: {answer.status_code} {answer.text}")
                continue
            run.count(used, "orders")
            if used is not node:
                run.count(used, "orders_retried_from_" + node.name)
            if number % 2:
                run.count(
                    phone.pay(node, auth, answer.json()["id"], address=False), "store_payments"
                )
        except Failed:
            pass
        except Exception as exc:  # the benchmark's own fault: reported, not lost with the thread
            run.fail(f"node {node.name}: phone crashed: {exc!r}")
        finally:
            phone.http.close()
