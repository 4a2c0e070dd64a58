"""`wxa/getwxacodeunlimit`: validate like the platform, answer a tiny PNG.

The PNG carries the scene and page in tEXt chunks so a test can read back what was encoded
(`read_png_text`). Callers hold the sandbox lock.
"""

from __future__ import annotations

import re
import struct
import time
import zlib
from typing import Any

from .context import Sandbox
from .errors import WeChatError

_SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")
ENV_VERSIONS = ("release", "trial", "develop")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(text: dict[str, str], size: int = 8) -> bytes:
    """A blank grayscale square with tEXt chunks; enough for anything that only stores bytes."""
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\xff" * size for _ in range(size))
    chunks = [_chunk(b"IHDR", header)]
    chunks += [_chunk(b"tEXt", f"{k}\x00{v}".encode("latin-1")) for k, v in text.items()]
    chunks += [_chunk(b"IDAT", zlib.compress(pixels)), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def read_png_text(png: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG made by `make_png` (test helper)."""
    found: dict[str, str] = {}
    offset = 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind, data = png[offset + 4 : offset + 8], png[offset + 8 : offset + 8 + length]
        if kind == b"tEXt":
            key, _, value = data.partition(b"\x00")
            found[key.decode("latin-1")] = value.decode("latin-1")
        offset += 12 + length
    return found


def get_unlimited(sb: Sandbox, body: Any) -> bytes:
    if not isinstance(body, dict):
        raise WeChatError(47001, "data format error")
    scene = body.get("scene")
    if not isinstance(scene, str) or not _SCENE.match(scene):
        raise WeChatError(40169, "invalid length for scene, or the data is not json string")
    page = body.get("page") or ""
    if not isinstance(page, str) or page.startswith("/") or "?" in page:
        raise WeChatError(41030, "invalid page")
    pages = sb.settings.get("pages")
    if page and body.get("check_path", True) and pages is not None and page not in pages:
        raise WeChatError(41030, "invalid page")
    if body.get("env_version", "release") not in ENV_VERSIONS:
        raise WeChatError(40097, "invalid args, env_version")
    width = body.get("width", 430)
    if not isinstance(width, int) or not 280 <= width <= 1280:
        raise WeChatError(40097, "invalid args, width must be 280-1280")
    sb.state.wechat.wxacodes.append(
        {"scene": scene, "page": page, "width": width, "at": time.time()}
    )
    return make_png({"scene": scene, "page": page})
