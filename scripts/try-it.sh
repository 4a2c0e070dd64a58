#!/usr/bin/env bash
# Buy oysters through the running stack (`make run`) as a simulated phone would.
set -euo pipefail
API=${API:-http://127.0.0.1:8000}
SANDBOX=${SANDBOX:-http://127.0.0.1:8001}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

CODE=$(curl -s -X POST "$SANDBOX/sandbox/wx/login-code" -H 'Content-Type: application/json' \
  -d '{"openid":"o_try_it_phone"}' | json '["code"]')
TOKEN=$(curl -s -X POST "$API/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"code\":\"$CODE\"}" | json '["token"]')
AUTH="Authorization: Bearer $TOKEN"
SKU=$(curl -s "$API/api/v1/products" | json '["items"][0]["skus"][1]["id"]')
echo "logged in; buying 2 × SKU $SKU (乳山鲜活牡蛎 大)"

curl -s -X PUT "$API/api/v1/cart" -H "$AUTH" -H 'Content-Type: application/json' \
  -d "{\"items\":[{\"sku_id\":$SKU,\"quantity\":2}]}" >/dev/null
ORDER=$(curl -s -X POST "$API/api/v1/orders" -H "$AUTH" -H 'Content-Type: application/json' \
  -H "Idempotency-Key: try-it-$(date +%s%N)" \
  -d "{\"items\":[{\"sku_id\":$SKU,\"quantity\":2}],\"address\":{\"name\":\"王海\",\"phone\":\"13800138000\",\"province\":\"山东省\",\"city\":\"威海市\",\"district\":\"乳山市\",\"detail\":\"海阳所镇 88 号\"}}")
ORDER_ID=$(echo "$ORDER" | json '["id"]')
echo "order $ORDER_ID: $(echo "$ORDER" | json '["status"]'), total $(echo "$ORDER" | json '["total"]') fen"

PAY=$(curl -s -X POST "$API/api/v1/orders/$ORDER_ID/pay" -H "$AUTH")
PREPAY=$(echo "$PAY" | json '["package"].split("=",1)[1]')
curl -s -X POST "$SANDBOX/sandbox/pay/$PREPAY/confirm" -H 'Content-Type: application/json' \
  -d "{\"payment\":$PAY,\"wait\":true}" >/dev/null
echo "paid in the sandbox; WeChat Pay notified the backend"

for _ in $(seq 1 20); do
  STATUS=$(curl -s "$API/api/v1/orders/$ORDER_ID" -H "$AUTH" | json '["status"]')
  [ "$STATUS" = "PAID" ] && break
  sleep 0.5
done
echo "order $ORDER_ID is now: $STATUS"
[ "$STATUS" = "PAID" ]
