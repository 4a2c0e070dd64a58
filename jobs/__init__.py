"""rq jobs (thin: load by id, call one service) and the one APScheduler schedule."""
