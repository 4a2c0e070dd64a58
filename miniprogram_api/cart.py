from backend.customers import service as customers
from backend.extensions import db
from miniprogram_api import api_v1
from miniprogram_api.auth import current_customer_id, token_auth
from miniprogram_api.schemas import CartIn, CartOut


@api_v1.get("/cart")
@api_v1.auth_required(token_auth)
@api_v1.output(CartOut)
@api_v1.doc(summary="我的购物车")
def get_cart():
    return customers.cart_view(db.session, customer_id=current_customer_id())


@api_v1.put("/cart")
@api_v1.auth_required(token_auth)
@api_v1.input(CartIn, arg_name="body")
@api_v1.output(CartOut)
@api_v1.doc(summary="整体替换购物车内容", responses={404: "购物车中有不存在的商品"})
def put_cart(body):
    customer_id = current_customer_id()
    customers.replace_cart(
        db.session,
        customer_id=customer_id,
        lines=[(line["sku_id"], line["quantity"]) for line in body["items"]],
    )
    return customers.cart_view(db.session, customer_id=customer_id)
