"""Every blueprint of the platform stand-ins, for `create_app` to register."""

from __future__ import annotations

from . import control, douyin, jd, oauth, pdd, taobao, youzan

BLUEPRINTS = (oauth.bp, douyin.bp, taobao.bp, jd.bp, pdd.bp, youzan.bp, control.bp)
