"""Stand-ins for the five order platforms (Douyin shop, Taobao/Tmall TOP, JD JOS, Pinduoduo,
Youzan) under `/platforms/{platform}`, with their control endpoints under
`/sandbox/platforms/{platform}`. The contract they follow is docs/platforms.md.

Kept import-free: `state.py` imports `store`, and the route modules import the sandbox context
(see `routes.BLUEPRINTS`)."""
