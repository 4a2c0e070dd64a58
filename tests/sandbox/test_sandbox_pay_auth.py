"""APIv3 authentication both ways: request signatures checked, response signatures verifiable."""

from __future__ import annotations

import json
import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3.utils import (
    build_authorization,
    load_private_key,
    load_public_key,
    rsa_sign,
    rsa_verify,
)

from sandbox.settings import repo_path

QUERY_PATH = "/v3/pay/transactions/out-trade-no/HL000000001?mchid={mchid}"


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def stranger_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _merchant_key(env):
    return load_private_key(repo_path(env["WECHATPAY_PRIVATE_KEY_FILE"]).read_text())


def test_missing_authorization_is_401(sandbox, env):
    response = requests.get(sandbox.url + QUERY_PATH.format(mchid=env["WECHATPAY_MCHID"]))
    assert response.status_code == 401
    assert response.json()["code"] == "SIGN_ERROR"


def test_signature_by_another_key_is_401(sandbox, env, stranger_key):
    path = QUERY_PATH.format(mchid=env["WECHATPAY_MCHID"])
    auth = build_authorization(
        path, "GET", env["WECHATPAY_MCHID"], env["WECHATPAY_CERT_SERIAL"], stranger_key
    )
    response = requests.get(sandbox.url + path, headers={"Authorization": auth})
    assert response.status_code == 401
    assert response.json() == {"code": "SIGN_ERROR", "message": response.json()["message"]}


def test_signature_over_another_body_is_401(sandbox, env):
    path = "/v3/pay/transactions/out-trade-no/HL000000001/close"
    key = _merchant_key(env)
    auth = build_authorization(
        path, "POST", env["WECHATPAY_MCHID"], env["WECHATPAY_CERT_SERIAL"], key, data={"a": 1}
    )
    response = requests.post(
        sandbox.url + path,
        data=json.dumps({"mchid": env["WECHATPAY_MCHID"]}),
        headers={"Authorization": auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 401


def test_stale_request_timestamp_is_401(sandbox, env):
    path = QUERY_PATH.format(mchid=env["WECHATPAY_MCHID"])
    stale = str(int(time.time()) - 600)
    nonce = "N" * 32
    signature = rsa_sign(_merchant_key(env), f"GET\n{path}\n{stale}\n{nonce}\n\n")
    auth = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{env["WECHATPAY_MCHID"]}",nonce_str="{nonce}",'
        f'signature="{signature}",timestamp="{stale}",serial_no="{env["WECHATPAY_CERT_SERIAL"]}"'
    )
    response = requests.get(sandbox.url + path, headers={"Authorization": auth})
    assert response.status_code == 401
    assert "时间" in response.json()["message"]


def test_wrong_serial_is_401_and_unknown_mchid_400(sandbox, wxpay_for, receiver):
    wrong_serial = wxpay_for(sandbox.url, receiver.url, cert_serial_no="0" * 40)
    code, text = wrong_serial.query(out_trade_no="HL000000001")
    assert code == 401 and json.loads(text)["code"] == "SIGN_ERROR"

    other_mchid = wxpay_for(sandbox.url, receiver.url, mchid="1900009999")
    code, text = other_mchid.query(out_trade_no="HL000000001")
    assert code == 400 and json.loads(text)["code"] == "MCH_NOT_EXISTS"


def test_responses_are_signed_with_the_platform_key(sandbox, wxpay, place_order, env):
    place_order(wxpay, "HL000000002")  # wechatpayv3 itself verified this answer
    path = QUERY_PATH.format(mchid=env["WECHATPAY_MCHID"]).replace("HL000000001", "HL000000002")
    auth = build_authorization(
        path, "GET", env["WECHATPAY_MCHID"], env["WECHATPAY_CERT_SERIAL"], _merchant_key(env)
    )
    response = requests.get(sandbox.url + path, headers={"Authorization": auth})
    headers = response.headers
    assert headers["Wechatpay-Serial"] == env["WECHATPAY_PUBLIC_KEY_ID"]
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert abs(int(headers["Wechatpay-Timestamp"]) - time.time()) < 60
    public_key = load_public_key(repo_path(env["WECHATPAY_PUBLIC_KEY_FILE"]).read_text())
    assert rsa_verify(
        headers["Wechatpay-Timestamp"],
        headers["Wechatpay-Nonce"],
        response.text,
        headers["Wechatpay-Signature"],
        public_key,
    )


def test_client_with_the_wrong_platform_key_refuses_answers(
    sandbox, wxpay_for, receiver, stranger_key
):
    suspicious = wxpay_for(sandbox.url, receiver.url, public_key=_public_pem(stranger_key))
    with pytest.raises(Exception, match="failed to verify the signature"):
        suspicious.pay(
            description="合力测试商品",
            out_trade_no="HL000000003",
            amount={"total": 100},
            payer={"openid": "o_buyer_1"},
        )
