"""The Official Account message scheme (消息加解密), written from the protocol description with
`cryptography` only — never wechatpy, which the backend uses: the sandbox must cross-check it.

- signature = sha1 of the sorted, concatenated strings (token, timestamp, nonce[, Encrypt]);
- AESKey = base64decode(EncodingAESKey + "="), AES-256-CBC, IV = AESKey[:16];
- plaintext = 16 random bytes + 4-byte big-endian length + message + appid, PKCS#7 padded to a
  multiple of 32 bytes; the ciphertext travels base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import struct
from xml.etree import ElementTree

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeChat pads to 32 bytes, not to the AES block size


class OaCryptoError(ValueError):
    """A message that does not decrypt, or decrypts for another app."""


def aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("EncodingAESKey must be 43 characters (32 bytes once decoded)")
    return key


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def encrypt(key: bytes, appid: str, message: str) -> str:
    body = message.encode("utf-8")
    plain = secrets.token_bytes(16) + struct.pack(">I", len(body)) + body + appid.encode("utf-8")
    pad = BLOCK - len(plain) % BLOCK  # 1..32: a full block of padding when already aligned
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def decrypt(key: bytes, appid: str, ciphertext_b64: str) -> str:
    try:
        sealed = base64.b64decode(ciphertext_b64, validate=True)
    except (binascii.Error, ValueError):
        raise OaCryptoError("Encrypt is not base64") from None
    if not sealed or len(sealed) % 16:
        raise OaCryptoError("ciphertext is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(sealed) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise OaCryptoError("bad PKCS#7 padding")
    content = plain[16:-pad]
    if len(content) < 4:
        raise OaCryptoError("plaintext too short")
    (length,) = struct.unpack(">I", content[:4])
    if 4 + length > len(content):
        raise OaCryptoError("message length beyond the plaintext")
    if content[4 + length :] != appid.encode("utf-8"):
        raise OaCryptoError("appid in the plaintext is not the official account's")
    try:
        return content[4 : 4 + length].decode("utf-8")
    except UnicodeDecodeError:
        raise OaCryptoError("message is not UTF-8") from None


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: list[tuple[str, str | int]]) -> str:
    """`<xml>` with one element per field: strings in CDATA, integers bare, as WeChat writes."""
    inner = "".join(
        f"<{name}>{value if isinstance(value, int) else cdata(value)}</{name}>"
        for name, value in fields
    )
    return f"<xml>{inner}</xml>"


def _element(node: ElementTree.Element) -> str | dict:
    if len(node):
        return {child.tag: _element(child) for child in node}
    return node.text or ""


def parse_xml(text: str) -> dict:
    """The children of `<xml>` as a dict (nested elements become nested dicts)."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise OaCryptoError(f"not XML: {error}") from None
    if root.tag != "xml":
        raise OaCryptoError(f"root element is <{root.tag}>, not <xml>")
    parsed = _element(root)
    return parsed if isinstance(parsed, dict) else {}
