"""The WeChat Pay APIv3 primitives, all done by `cryptography`: RSA-SHA256 (PKCS#1 v1.5) signatures
and AES-256-GCM resource encryption, plus the `Authorization` header parser."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import string
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
_ALPHANUM = string.ascii_letters + string.digits
_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return key


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} is not an RSA public key")
    return key


def random_nonce(length: int = 32) -> str:
    return "".join(secrets.choice(_ALPHANUM) for _ in range(length))


def rsa_sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    """Base64 SHA256withRSA signature, the only signature type APIv3 uses."""
    signature = private_key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa_verify(public_key: rsa.RSAPublicKey, message: str, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def aes_gcm_encrypt(apiv3_key: str, nonce: str, associated_data: str, plaintext: str) -> str:
    """Encrypt a notification resource; the 16-byte tag is appended, as WeChat Pay does."""
    sealed = AESGCM(apiv3_key.encode("utf-8")).encrypt(
        nonce.encode("utf-8"), plaintext.encode("utf-8"), associated_data.encode("utf-8")
    )
    return base64.b64encode(sealed).decode("ascii")


def parse_authorization(header: str) -> dict[str, str] | None:
    """Split `WECHATPAY2-SHA256-RSA2048 k="v",...` into its parameters; None on another scheme."""
    scheme, _, params = header.strip().partition(" ")
    if scheme != AUTH_SCHEME:
        return None
    return dict(_AUTH_PARAM.findall(params))
