"""The Official Account bot: WeChat's pushes to /callbacks/wechat-oa, each message answered by
calling the services (bind codes, trace codes, orders, the live schedule)."""
