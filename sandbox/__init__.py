"""Local stand-ins for WeChat (api.weixin.qq.com) and WeChat Pay APIv3 (api.mch.weixin.qq.com).

They speak the real protocols (paths, errcodes, RSA signatures, AES-GCM notifications) so the
backend can be tested with the real client libraries. Imports nothing from the rest of the project.
"""

from .app import create_app
from .server import SandboxServer, start_sandbox

__all__ = ["SandboxServer", "create_app", "start_sandbox"]
