"""The public OpenAPI document (/api/openapi.json) says what the APIs really answer: every error
in the one error shape, the statuses any call can get, ids within what a row can have, and
bodies that must be sent. The console's and the processing line's APIs are not in it."""

from __future__ import annotations

from apiflask import APIFlask

from backend.schemas import MAX_ID

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "错误码（大写下划线），如 SOLD_OUT"},
        "message": {"type": "string", "description": "给用户看的中文说明"},
        "details": {"type": "object", "description": "补充信息；参数错误时为各字段的错误"},
    },
}
# apiflask registers ERROR_SCHEMA under this name for the error answers it documents itself.
ERROR_REF = {"$ref": "#/components/schemas/HTTPError"}
# Any call can be limited; a call that changes something can meet a state or a business rule.
EVERY_CALL = {429: "操作太频繁，请稍后再试"}
CHANGES = {409: "与当前状态冲突（如已抢光、订单状态不允许）", 422: "不符合业务规则"}
WITH_BODY = {413: "请求内容过大", 400: "请求参数有误"}
METHODS = ("get", "post", "put", "patch", "delete")


def configure(app: APIFlask) -> None:
    app.config.update(HTTP_ERROR_SCHEMA=ERROR_SCHEMA, VALIDATION_ERROR_SCHEMA=ERROR_SCHEMA)
    app.spec_processor(document_errors)


def document_errors(spec: dict) -> dict:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("HTTPError", ERROR_SCHEMA)
    for item in spec.get("paths", {}).values():
        for method in METHODS:
            operation = item.get(method)
            if operation is not None:
                _document(method, operation)
    return spec


def _document(method: str, operation: dict) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("in") == "path" and schema.get("type") == "integer":
            schema.update(minimum=1, maximum=MAX_ID)
    answers = dict(EVERY_CALL)
    if method != "get":
        answers.update(CHANGES)
    body = operation.get("requestBody")
    if body is not None:
        body["required"] = True
        answers.update(WITH_BODY)
    responses = operation.setdefault("responses", {})
    for status, description in answers.items():
        responses.setdefault(
            str(status),
            {"description": description, "content": {"application/json": {"schema": ERROR_REF}}},
        )
