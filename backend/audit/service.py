"""The audit trail: every staff action that changes something is recorded with who, when,
which object, before and after, in the transaction of the change itself (a change that rolls
back leaves no record; a record never exists without its change)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.audit.models import AuditRecord
from backend.pagination import page_of


class Actor(Protocol):
    """Who acted: a staff member (the audit trail sits below the staff domain, so that even
    role changes are recorded)."""

    id: int
    display_name: str


# What each action is called on the audit page.
ACTIONS = {
    "sku.price": "修改价格",
    "sku.on_sale": "规格上下架",
    "product.on_sale": "商品上下架",
    "product.picture": "上传商品图片",
    "product.create": "新建商品",
    "sku.create": "新增规格",
    "sku.delete": "删除规格",
    "grade.edit": "修改等级",
    "line.shelf_life": "修改保质期",
    "step.edit": "修改加工工序",
    "aftersale.approve": "同意售后退款",
    "aftersale.reject": "拒绝售后",
    "stock.adjust": "盘点调整库存",
    "staff.create": "新建员工账号",
    "staff.active": "停用 / 启用员工",
    "staff.role": "修改员工角色",
    "staff.password": "重置员工密码",
    "wholesale.price": "设置供货价",
    "seller.tier": "设置卖家等级",
    "broadcast.send": "发布广播",
    "broadcast.cancel": "取消广播",
    "platform.sku_map": "映射平台商品编码",
    "seller.token_issue": "签发卖家 API token",
    "seller.token_revoke": "吊销卖家 API token",
    "seller.bind_code": "签发卖家公众号绑定码",
    "licence.grant": "授予品牌授权",
    "licence.renew": "续期品牌授权",
    "licence.suspend": "暂停品牌授权",
    "licence.resume": "恢复品牌授权",
    "codes.print_run": "印制防伪码",
    "flash_sale.start": "开始秒杀",
    "live.room_create": "创建直播间",
    "parcel.packed": "打包完成",
    "adoption.harvest": "记录认养采收",
    "shipping.zone_save": "修改配送区域",
    "shipping.zone_delete": "删除配送区域",
    "application.approve": "通过入驻申请",
    "application.reject": "拒绝入驻申请",
    "renewal.approve": "通过续期申请",
    "renewal.reject": "拒绝续期申请",
    "ops.job_requeue": "重试失败任务",
    "ops.job_delete": "删除任务",
    "ops.requeue_all": "重试队列全部失败任务",
    "ops.queue_empty": "清空队列中的任务",
    "ops.queue_compact": "整理队列",
    "adoption.loss": "标记认养单元损失",
    "growth.hide": "隐藏生长动态",
    "farm_member.bind_code": "签发养殖户成员绑定码",
    "adoption.units_create": "新建认养单元",
    "adoption.live_offer_start": "认养上屏",
    "adoption.live_offer_end": "认养下屏",
}

# How a changed field reads on the audit page.
FIELDS = {
    "price": "价格",
    "on_sale": "在售",
    "image_url": "图片",
    "name": "名称",
    "category": "类别",
    "code": "编码",
    "grade": "等级",
    "form": "形态",
    "min": "每公斤最少只数",
    "max": "每公斤最多只数",
    "on_hand": "现有",
    "reason": "原因",
    "role": "角色",
    "active": "在职",
    "status": "状态",
    "refund_amount": "退款",
    "note": "备注",
    "tier_id": "等级编号",
    "required": "必做",
    "measurements": "测量项",
    "recipients": "匹配卖家",
    "reachable": "微信可达",
    "sku": "联盟规格",
    "token_id": "token 编号",
    "expires_at": "到期时间",
    "revoked": "已吊销",
    "hidden": "已隐藏",
}


def shown(field: str, value: object) -> str:
    """A before or after value as staff read it: 价格 ¥98.00, 在售 否, 图片 …/pictures/pf2L…"""
    label = FIELDS.get(field, field)
    if field in ("price", "refund_amount") and isinstance(value, int):
        return f"{label} ¥{value / 100:.2f}"
    if isinstance(value, bool):
        return f"{label} {'是' if value else '否'}"
    if value in (None, ""):
        return f"{label} 无"
    text = str(value)
    return f"{label} {text if len(text) <= 24 else '…' + text[-16:]}"


def record(
    session: Session,
    *,
    staff: Actor | None,
    action: str,
    target_type: str,
    target_id: int | str,
    summary: str,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditRecord:
    """Add the record to the session; it commits (or rolls back) with the change."""
    entry = AuditRecord(
        staff_id=staff.id if staff else None,
        staff_name=staff.display_name if staff else "系统",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        summary=summary[:200],
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditFilter:
    staff_id: int | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def search(
    session: Session, wanted: AuditFilter, *, page: int, page_size: int
) -> tuple[list[AuditRecord], int]:
    """A page of records, newest first, and how many match."""
    query = select(AuditRecord)
    if wanted.staff_id is not None:
        query = query.where(AuditRecord.staff_id == wanted.staff_id)
    if wanted.action:
        query = query.where(AuditRecord.action == wanted.action)
    if wanted.target_type:
        query = query.where(AuditRecord.target_type == wanted.target_type)
    if wanted.target_id:
        query = query.where(AuditRecord.target_id == wanted.target_id)
    if wanted.since is not None:
        query = query.where(AuditRecord.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditRecord.at < wanted.until)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(page_of(query.order_by(AuditRecord.id.desc()), page, page_size))
    return list(rows), total
