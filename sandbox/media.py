"""`cgi-bin/media/upload` (新增临时素材): media ids that expire after 3 days of sandbox time.

Live rooms and goods take their pictures as such media ids. Callers hold the sandbox lock.
"""

from __future__ import annotations

import secrets
from typing import Any

from .context import Sandbox
from .errors import WeChatError
from .wxa_state import Media

# type -> (max bytes, accepted file extensions) from the temporary-material doc
MEDIA_RULES: dict[str, tuple[int, tuple[str, ...]]] = {
    "image": (10 * 1024 * 1024, ("png", "jpg", "jpeg", "gif", "bmp")),
    "voice": (2 * 1024 * 1024, ("amr", "mp3")),
    "video": (10 * 1024 * 1024, ("mp4",)),
    "thumb": (64 * 1024, ("jpg", "jpeg")),
}
_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
    b"BM": "image/bmp",
}


def _image_type(data: bytes, filename: str) -> str | None:
    for magic, content_type in _IMAGE_MAGIC.items():
        if data.startswith(magic):
            return content_type
    # requests names a file-like object without a name after its field ("media"), so the
    # bytes decide first; a recognised extension is accepted as the platform would
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return f"image/{extension}" if extension in MEDIA_RULES["image"][1] else None


def upload(sb: Sandbox, media_type: Any, filename: str, data: bytes | None) -> dict[str, Any]:
    """Store the file and hand out its media id."""
    if media_type not in MEDIA_RULES:
        raise WeChatError(40004, "invalid media type")
    if not data:
        raise WeChatError(41005, "media data missing")
    max_bytes, extensions = MEDIA_RULES[media_type]
    if len(data) > max_bytes:
        raise WeChatError(40006, "invalid meida size")  # sic: the platform's spelling
    if media_type == "image":
        content_type = _image_type(data, filename)
        if content_type is None:
            raise WeChatError(40005, "invalid file type")
    else:
        extension = filename.rsplit(".", 1)[-1].lower()
        if extension not in extensions:
            raise WeChatError(40005, "invalid file type")
        content_type = "application/octet-stream"
    now = sb.wechat_now()
    media = Media(
        media_id=secrets.token_urlsafe(48),
        type=media_type,
        data=data,
        content_type=content_type,
        created_at=int(now),
        expires_at=now + float(sb.settings["media_ttl_seconds"]),
    )
    sb.state.wxa.media[media.media_id] = media
    return {"type": media.type, "media_id": media.media_id, "created_at": media.created_at}


def usable(sb: Sandbox, media_id: Any, media_type: str = "image") -> bool:
    """A known media id of that type that has not expired yet."""
    media = sb.state.wxa.media.get(media_id) if isinstance(media_id, str) else None
    return media is not None and media.type == media_type and sb.wechat_now() < media.expires_at


def media_url(base_url: str, media_id: str) -> str:
    """Where the sandbox serves a stored picture (the CDN link the real API answers)."""
    return f"{base_url}/sandbox/media/{media_id}"
