"""Every domain's models, imported once so the metadata (and Alembic) sees the whole schema."""

from backend.aftersales.models import AfterSale  # noqa: F401
from backend.catalogue.models import Product, Sku  # noqa: F401
from backend.customers.models import AuthToken, CartItem, Customer  # noqa: F401
from backend.inventory.models import StockLevel, StockReservation  # noqa: F401
from backend.orders.models import Order, OrderEvent, OrderItem, OrderRequest  # noqa: F401
from backend.payments.models import Payment, PaymentAnomaly, Refund  # noqa: F401
from backend.staff.models import Staff  # noqa: F401
