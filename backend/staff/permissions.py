"""Who may do what on the console: one table of roles and their permissions. Every console page
and console API route declares the one permission it needs (backend/console/access.py), and a
test walks the URL map so no route goes without."""

from __future__ import annotations

from dataclasses import dataclass

from backend.errors import Forbidden

# Permissions: what a route needs. The Chinese text says what it opens.
CONSOLE = "console.home"
STOCK_VIEW = "stock.view"
STOCK_ADJUST = "stock.adjust"
ORDERS_FULFIL = "orders.fulfil"
AFTERSALES_VIEW = "aftersales.view"
AFTERSALES_DECIDE = "aftersales.decide"
PAYMENTS_VIEW = "payments.view"
LIVE_HOST = "live.host"
LIVE_ANY_ROOM = "live.any_room"
LICENCES = "brand.licences"
CODES = "brand.codes"
FLAGS = "brand.flags"
SELLER_BIND = "sellers.oa_bind"
SELLER_TOKENS = "sellers.tokens"
PLATFORMS = "platforms.manage"
BROADCASTS = "broadcasts.manage"
STAFF_MANAGE = "staff.manage"
SHIPPING_RULES = "shipping.rules"
SELLER_ONBOARDING = "sellers.onboarding"
SETTLEMENT = "settlement.manage"
CATALOGUE = "catalogue.manage"
AUDIT_VIEW = "audit.view"
REPORTS_VIEW = "reports.view"
SELLERS_VIEW = "sellers.view"
OPS_VIEW = "ops.view"
ADOPTION_GROWTH = "adoption.growth"
ADOPTION_VIEW = "adoption.view"
ADOPTION_MANAGE = "adoption.manage"
ADOPTION_HARVEST = "adoption.harvest"

PERMISSIONS: dict[str, str] = {
    CONSOLE: "后台概览、绑定自己的公众号",
    STOCK_VIEW: "查看加工批次、库存批次、库存流水",
    STOCK_ADJUST: "盘点调整库存",
    ORDERS_FULFIL: "订单发货、退货入库",
    AFTERSALES_VIEW: "查看售后申请",
    AFTERSALES_DECIDE: "审批售后（同意退款 / 拒绝）",
    PAYMENTS_VIEW: "查看支付异常",
    LIVE_HOST: "创建直播间、在自己的直播间讲解商品和秒杀",
    LIVE_ANY_ROOM: "管理所有主播的直播间和秒杀",
    LICENCES: "品牌授权：授予、续期、暂停、恢复",
    CODES: "防伪码印制与导出",
    FLAGS: "查看防伪预警",
    SELLER_BIND: "签发卖家公众号绑定码",
    SELLER_TOKENS: "签发卖家 API token",
    PLATFORMS: "平台店铺与待处理平台订单",
    BROADCASTS: "联盟广播",
    STAFF_MANAGE: "员工账号：创建、停用、重置密码、分配角色",
    SHIPPING_RULES: "配送区域与运费：鲜活可达地区、首重续重、冷链附加费、时效",
    SELLER_ONBOARDING: "审核卖家入驻申请与品牌授权续期",
    SETTLEMENT: "供货价、卖家等级、卖家月结算单与标记已结算",
    CATALOGUE: "商品与规格：价格、上下架、商品图片",
    AUDIT_VIEW: "查看操作记录（谁在何时改了什么）",
    REPORTS_VIEW: "查看经营报表（销售、库存、直播、死货率、卖家、防伪、广播）",
    SELLERS_VIEW: "卖家名录与卖家详情（店铺、授权、订单、通知、结算、微信绑定）",
    OPS_VIEW: "运维：任务队列（重试、删除失败任务）、定时任务、外部连接、监控指标",
    ADOPTION_GROWTH: "认养生长动态：查看与隐藏动态、签发养殖户成员绑定码",
    ADOPTION_VIEW: "认养：单元与状态、认养人、养殖户认养收入",
    ADOPTION_MANAGE: "认养：新建认养单元、标记单元损失",
    ADOPTION_HARVEST: "认养收获：收获日历、记录采收重量（生成加工批次）",
}


@dataclass(frozen=True)
class Role:
    label: str
    permissions: frozenset[str]


ADMIN, OPERATIONS, WAREHOUSE, HOST, BRAND, FINANCE = (
    "admin",
    "operations",
    "warehouse",
    "host",
    "brand",
    "finance",
)

ROLES: dict[str, Role] = {
    ADMIN: Role("管理员", frozenset(PERMISSIONS)),
    OPERATIONS: Role(
        "运营",
        frozenset(
            {
                CONSOLE,
                STOCK_VIEW,
                ORDERS_FULFIL,
                AFTERSALES_VIEW,
                AFTERSALES_DECIDE,
                LIVE_HOST,
                LIVE_ANY_ROOM,
                PLATFORMS,
                BROADCASTS,
                SHIPPING_RULES,
                CATALOGUE,
                REPORTS_VIEW,
                SELLERS_VIEW,
                ADOPTION_GROWTH,
            }
        )
        | {ADOPTION_VIEW, ADOPTION_MANAGE, ADOPTION_HARVEST},
    ),
    WAREHOUSE: Role("仓库", frozenset({CONSOLE, STOCK_VIEW, STOCK_ADJUST, ORDERS_FULFIL})),
    HOST: Role("主播", frozenset({CONSOLE, LIVE_HOST})),
    BRAND: Role(
        "品牌专员",
        frozenset({CONSOLE, STOCK_VIEW, LICENCES, CODES, FLAGS, SELLER_BIND, SELLER_ONBOARDING})
        | {SELLERS_VIEW},
    ),
    FINANCE: Role(
        "财务",
        frozenset(
            {
                CONSOLE,
                AFTERSALES_VIEW,
                AFTERSALES_DECIDE,
                PAYMENTS_VIEW,
                SETTLEMENT,
                AUDIT_VIEW,
                REPORTS_VIEW,
                SELLERS_VIEW,
            }
        )
        | {ADOPTION_VIEW},
    ),
}


def allowed(role: str, permission: str) -> bool:
    """Whether this role holds the permission (an unknown role holds none)."""
    spec = ROLES.get(role)
    return spec is not None and permission in spec.permissions


def role_label(role: str) -> str:
    spec = ROLES.get(role)
    return spec.label if spec else role


def require(role: str, permission: str) -> None:
    """Forbidden unless the role holds the permission."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    if not allowed(role, permission):
        raise Forbidden(
            f"您的角色（{role_label(role)}）无权执行此操作：{PERMISSIONS[permission]}",
            code="PERMISSION_DENIED",
            details={"permission": permission, "role": role},
        )
