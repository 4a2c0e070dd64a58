"""The /api/v1 blueprint the WeChat mini-program calls: thin handlers over the domain services."""

from apiflask import APIBlueprint

api_v1 = APIBlueprint("api_v1", __name__)

from miniprogram_api import (  # noqa: E402,F401  (routes)
    adoption,
    adoption_deliveries,
    adoption_growth,
    auth,
    cart,
    flash_sales,
    live,
    live_adoption,
    orders,
    photos,
    products,
    shipping,
    trace,
)
