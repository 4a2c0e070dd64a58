"""What an administrator sends to create a staff account, give it a role or a new password,
checked by the same schema on the console's staff page and its JSON API."""

from __future__ import annotations

from apiflask.fields import String
from apiflask.validators import Length, OneOf, Regexp

from backend.schemas import In, text
from backend.staff.permissions import ROLES

MIN_PASSWORD = 10


class RoleIn(In):
    role = String(
        required=True,
        validate=OneOf(list(ROLES), error="请选择角色"),
        error_messages={"required": "请选择角色", "null": "请选择角色"},
        metadata={"label": "角色"},
    )


class PasswordIn(In):
    password = text("密码", 200, shortest=MIN_PASSWORD)


class StaffIn(RoleIn, PasswordIn):
    username = String(
        required=True,
        validate=[
            Length(3, 40, error="用户名需为 3 到 40 个字符"),
            Regexp(r"^[A-Za-z0-9_.-]+$", error="用户名只能包含字母、数字、下划线、点和短横线"),
        ],
        error_messages={"required": "请填写用户名", "null": "请填写用户名"},
        metadata={"label": "用户名"},
    )
    display_name = text("姓名", 40)
