"""Every domain's models, imported once so the metadata (and Alembic) sees the whole schema."""

from backend.adoption.models import (  # noqa: F401
    AdopterMessage,
    Adoption,
    AdoptionDelivery,
    AdoptionUnit,
    FarmMember,
    GrowthUpdate,
    LiveAdoptionOffer,
)
from backend.aftersales.models import AfterSale  # noqa: F401
from backend.audit.models import AuditRecord  # noqa: F401
from backend.batches.models import (  # noqa: F401
    Batch,
    BatchStep,
    Farm,
    Harvest,
    Inspection,
    Plant,
    ProcessingReport,
    ProcessStep,
    SeaArea,
    SortingResult,
)
from backend.catalogue.models import Grade, Product, ProductLine, Sku  # noqa: F401
from backend.customers.models import AuthToken, CartItem, Customer  # noqa: F401
from backend.fulfilment.models import (  # noqa: F401
    BuyerMessage,
    Parcel,
    ParcelCode,
    TrackingEvent,
    Wave,
)
from backend.inventory.models import Lot, StockMovement, StockReservation  # noqa: F401
from backend.live.models import (  # noqa: F401
    FlashClaim,
    FlashSale,
    LiveClaim,
    LiveGoods,
    LiveMute,
    LiveReminder,
    LiveRoom,
    LiveShelfItem,
    LiveShowSummary,
)
from backend.media.models import Photo  # noqa: F401
from backend.notices.models import Broadcast, NoticeDelivery, SellerNotice  # noqa: F401
from backend.officialaccount.models import OAFollower  # noqa: F401
from backend.onboarding.models import LicenceRenewal, SellerApplication  # noqa: F401
from backend.orders.models import Order, OrderEvent, OrderItem, OrderRequest  # noqa: F401
from backend.payments.models import Payment, PaymentAnomaly, Refund  # noqa: F401
from backend.platforms.models import PlatformOrder, Shop, SkuMapping  # noqa: F401
from backend.sellers.models import BrandLicence, Seller, SellerToken  # noqa: F401
from backend.settlement.models import (  # noqa: F401
    SellerTier,
    SellerTierAssignment,
    SettlementEntry,
    StatementSettlement,
    WholesalePrice,
)
from backend.shipping.models import ShippingZone  # noqa: F401
from backend.staff.models import Staff, StaffAlert  # noqa: F401
from backend.trace.models import PrintRun, TraceCode, TraceFlag, TraceScan  # noqa: F401
