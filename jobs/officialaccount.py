from backend.extensions import db
from backend.flows import oa_lookups
from backend.officialaccount import service as officialaccount
from jobs.base import job


@job
def answer_trace(openid: str, code: str) -> bool:
    """A trace-code lookup sent to the Official Account, answered by customer-service message."""
    text = oa_lookups.trace_answer(db.session, openid=openid, code=code)
    return officialaccount.send_text(openid=openid, content=text)


@job
def answer_order(openid: str, number: str) -> bool:
    text = oa_lookups.order_answer(db.session, openid=openid, number=number)
    return officialaccount.send_text(openid=openid, content=text)


@job
def refresh_follower(openid: str) -> None:
    officialaccount.refresh_follower(db.session, openid)
