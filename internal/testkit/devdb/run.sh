#!/usr/bin/env bash
# run.sh — the last step of `make run`: start the gateway simulator and civicpay,
# print what to try, stop both on Ctrl-C. DATABASE_URL is set by the Makefile.
set -euo pipefail
run_dir=${RUN_DIR:-.run}
# shellcheck disable=SC1091
source "$run_dir/demo.env"
# Development mode: gatewaysim's demo secrets, plain http and a random receipt
# secret are allowed (civicpay logs a WARN saying so); production refuses them.
export CIVICPAY_ENV=${CIVICPAY_ENV:-development}
export CIVICPAY_ADDR=${CIVICPAY_ADDR:-127.0.0.1:8080}
export CIVICPAY_METRICS_ADDR=${CIVICPAY_METRICS_ADDR:-127.0.0.1:9090}
export CIVICPAY_PUBLIC_URL=${CIVICPAY_PUBLIC_URL:-http://$CIVICPAY_ADDR}
# Demo receivers run on this machine: let webhook endpoints point at loopback.
export CIVICPAY_WEBHOOKS_ALLOW_LOOPBACK=${CIVICPAY_WEBHOOKS_ALLOW_LOOPBACK:-true}
# Development mode: the published demo data keys when CIVICPAY_DATA_KEYS is unset.
export CIVICPAY_ENV=${CIVICPAY_ENV:-development}
sim_addr=${GATEWAYSIM_ADDR:-127.0.0.1:8090}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if [ -x ./bin/gatewaysim ]; then
  ./bin/gatewaysim -addr "$sim_addr" -callback-base "$CIVICPAY_PUBLIC_URL" >"$run_dir/gatewaysim.log" 2>&1 &
  pids+=($!)
  echo "gatewaysim (simulated VNPAY, MoMo, ZaloPay and treasury bank) on http://$sim_addr — log in $run_dir/gatewaysim.log"
fi

./bin/civicpay serve 2> >(tee -a "$run_dir/civicpay.log" >&2) &
pids+=($!)
for _ in $(seq 1 50); do
  curl -fsS "$CIVICPAY_PUBLIC_URL/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

cat <<MSG

civicpay is running on $CIVICPAY_PUBLIC_URL (API keys for this run are in $run_dir/demo.env).
Try:

  source $run_dir/demo.env
  curl -s -X POST $CIVICPAY_PUBLIC_URL/v1/orders \\
    -H "Authorization: Bearer \$PORTAL_KEY" -H "Idempotency-Key: demo-\$RANDOM" \\
    -H "Content-Type: application/json" \\
    -d '{"lines":[{"service":"STP-LLTP","agency":"STP-HCM","amount":200000}],
         "payer":{"name":"Nguyễn Văn An","national_id":"079203001234","email":"an@example.vn"},
         "description":"Phiếu lý lịch tư pháp số 1"}'

  curl -s "$CIVICPAY_PUBLIC_URL/v1/orders?limit=5" -H "Authorization: Bearer \$AGENCY_KEY"
  open the order's pay_url in a browser to pay it through the simulated gateways.

  curl -s http://$CIVICPAY_METRICS_ADDR/metrics   (Prometheus, on its own port, not the public one)

Staff console: $CIVICPAY_PUBLIC_URL/console — demo users of this run (development mode only):

  admin     ${STAFF_ADMIN_EMAIL:-?}  password ${STAFF_ADMIN_PASSWORD:-?}  TOTP secret ${STAFF_ADMIN_TOTP:-?}
  treasury  ${STAFF_TREASURY_EMAIL:-?}  password ${STAFF_TREASURY_PASSWORD:-?}  TOTP secret ${STAFF_TREASURY_TOTP:-?}
  agency    ${STAFF_AGENCY_EMAIL:-?}  password ${STAFF_AGENCY_PASSWORD:-?}  TOTP secret ${STAFF_AGENCY_TOTP:-?}

  Add a secret to an authenticator app, or print its current code:
  ./bin/civicpay users totp-code \$STAFF_ADMIN_TOTP   (after: source $run_dir/demo.env)

Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
