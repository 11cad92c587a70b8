#!/usr/bin/env bash
# Runs one of the two guides in ../shared/seeds (docs/guides/ has them beside Ferry's
# commands) against a Ferry deployment on this machine, step by step, with the guides' own
# curl commands, JSON bodies and ngrok.yml, changing only host names and ports:
#
#   examples/guides/walkthrough.sh device-gateway|site-to-site
#
# On loopback it stands up an edge outside dev mode (with its DNS), Let's Encrypt's test CA
# pebble (Debian's package) as the ACME CA, a stand-in for the customer's DNS provider
# (examples/customer-dns.rs, a records file edited as a reader edits records at a
# provider), the sample API on port 3000 (SAMPLE_PORT to change it) and an agent. Each step
# prints what it sends and what it got; the script exits non-zero at the first step that
# does not behave as the guide says, and stops everything it started.
#
# FERRY_BIN, CUSTOMER_DNS_BIN and SDK_AGENT_BIN (examples/sdk-agent.rs, ngrok's SDK as the
# agent) name built binaries; without them it builds them.
# CUSTOMER_DNS_ADDR with RECORDS_FILE use a stand-in that already serves that file.
set -euo pipefail

mode="${1:-}"
case "$mode" in
device-gateway | site-to-site) ;;
*)
    echo "usage: $0 device-gateway|site-to-site" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")/../.."
if [ -z "${FERRY_BIN:-}" ] || [ -z "${SDK_AGENT_BIN:-}" ] ||
    { [ -z "${CUSTOMER_DNS_BIN:-}" ] && [ -z "${CUSTOMER_DNS_ADDR:-}" ]; }; then
    cargo build -q --bin ferry --example customer-dns --example sdk-agent
    FERRY_BIN="$PWD/target/debug/ferry"
    CUSTOMER_DNS_BIN="$PWD/target/debug/examples/customer-dns"
    SDK_AGENT_BIN="$PWD/target/debug/examples/sdk-agent"
fi
for tool in curl openssl python3 /usr/bin/pebble; do
    command -v "$tool" >/dev/null || {
        echo "walkthrough: $tool is missing (scripts/test.sh installs it)" >&2
        exit 1
    }
done

W="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${KEEP:-}" = 1 ]; then echo "walkthrough: kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT

# --- Output -----------------------------------------------------------------------------
n=0
step() {
    n=$((n + 1))
    printf '\n=== %d. %s\n' "$n" "$*"
}
fail() {
    printf '\nFAILED at step %d: %s\n' "$n" "$*" >&2
    for log in "$W"/*.log; do
        [ -s "$log" ] && { echo "--- $log" >&2; tail -n 30 "$log" >&2; }
    done
    exit 1
}
# Runs a command, printing it and its output; its output is in $out, its status in $rc.
run() {
    printf '$'
    printf ' %q' "$@"
    printf '\n'
    set +e
    out="$("$@" 2>&1)"
    rc=$?
    set -e
    printf '%s\n' "$out" | sed 's/^/  | /'
}
json() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); 
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d if not isinstance(d,(dict,list)) else json.dumps(d))' "$1" "$2"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_file() { for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.1; done; fail "no $1"; }

# --- The deployment ---------------------------------------------------------------------
DOMAIN=example.test
HTTPS=$(free_port)
HTTP=$(free_port)
PEBBLE=$(free_port)
PEBBLE_MGMT=$(free_port)
SAMPLE_PORT="${SAMPLE_PORT:-3000}"
WEB_PORT=$(free_port)
# The edge picks its DNS port at the first start (a port picked here could be taken before
# the edge binds it); the restart keeps it, as the device's dns_resolver_ips names it.
DNS_PORT=0

echo "walkthrough: $mode, in $W"
touch "$W/records.rest"
if [ -n "${CUSTOMER_DNS_ADDR:-}" ]; then
    # A stand-in already serving the records file RECORDS_FILE (the CI test runs its own).
    CUSTOMER_DNS="$CUSTOMER_DNS_ADDR"
    RECORDS="$RECORDS_FILE"
else
    RECORDS="$W/records"
    "$CUSTOMER_DNS_BIN" --records "$RECORDS" --ready-file "$W/customer-dns.addr" >"$W/customer-dns.log" 2>&1 &
    pids+=($!)
    wait_file "$W/customer-dns.addr"
    CUSTOMER_DNS=$(cat "$W/customer-dns.addr")
fi

# Pebble's own HTTPS needs a certificate for localhost.
"$FERRY_BIN" certs generate --domain localhost --out "$W/pebble-tls" >/dev/null
cat >"$W/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$PEBBLE", "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT",
 "certificate": "$W/pebble-tls/server-crt.pem", "privateKey": "$W/pebble-tls/server-key.pem",
 "httpPort": $HTTP, "tlsPort": $HTTPS, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 /usr/bin/pebble -config "$W/pebble.json" \
    -dnsserver "$CUSTOMER_DNS" >"$W/pebble.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    curl -sf --cacert "$W/pebble-tls/ca-crt.pem" "https://localhost:$PEBBLE/dir" >/dev/null && break
    sleep 0.1
done

start_edge() {
    edge_args=(edge --data-dir "$W/edge" --ready-file "$W/edge-ready.json"
        --https-addr "127.0.0.1:$HTTPS" --http-addr "127.0.0.1:$HTTP" --dns-addr "127.0.0.1:$DNS_PORT"
        --public-ip 127.0.0.1 --base-domain "ferry.$DOMAIN" --region us
        --acme-directory "https://localhost:$PEBBLE/dir" --acme-root "$W/pebble-tls/ca-crt.pem"
        --dns-check-resolver "$CUSTOMER_DNS")
    rm -f "$W/edge-ready.json"
    "$FERRY_BIN" "${edge_args[@]}" >>"$W/edge.log" 2>&1 &
    EDGE_PID=$!
    pids+=("$EDGE_PID")
    wait_file "$W/edge-ready.json"
    FERRY_DNS=$(json "$(cat "$W/edge-ready.json")" dns)
    DNS_PORT="${FERRY_DNS##*:}"
    echo "@follow $FERRY_DNS" >"$W/records.follow"
    cat "$W/records.follow" "$W/records.rest" >"$RECORDS"
    sleep 0.3
}
start_edge
API=$(json "$(cat "$W/edge-ready.json")" api_url)
API_KEY=$(json "$(cat "$W/edge/admin.json")" api_key)
EDGE_CA=$(json "$(cat "$W/edge/admin.json")" ca_cert)
echo "edge: API $API, https 127.0.0.1:$HTTPS, DNS $FERRY_DNS; customer DNS $CUSTOMER_DNS"

# Records at the customer's DNS provider.
add_record() {
    echo "$*" >>"$W/records.rest"
    cat "$W/records.follow" "$W/records.rest" >"$RECORDS"
    # The stand-in reads its file every 100 ms: the provider's propagation delay.
    sleep 0.3
    echo "  (record created at the DNS provider: $*)"
}
# curl to a public name on the edge, as if DNS pointed the name here.
to() { echo "--connect-to" "$1:443:127.0.0.1:$HTTPS"; }

# --- The sample API on the device or site -----------------------------------------------
mkdir -p "$W/sample"
echo '{"status":"ok","served_by":"sample API"}' >"$W/sample/status"
(cd "$W/sample" && exec python3 -m http.server "$SAMPLE_PORT" --bind 127.0.0.1 >"$W/sample.log" 2>&1) &
pids+=($!)

# --- The guide ----------------------------------------------------------------------------
step "Get an API key (the first start of the edge printed one, kept in admin.json)"
run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $API_KEY" -H "Ngrok-Version: 2" "$API/api_keys"
[ "$out" = 200 ] || fail "the API key does not work"

step "Create the agent ingress address, the body as the guide prints it (typographic quotes)"
run curl -s -X POST -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" \
    -H "Ngrok-Version: 2" -d '{"description":"Custom ingress address","domain": “connect.'$DOMAIN'”}' \
    "$API/agent_ingresses"
case "$out" in *'“'* | *quote* | *position* | *column*) ;; *) fail "the typographic quotes are not named" ;; esac
run curl -s -w '\n%{http_code}' -X POST -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" \
    -H "Ngrok-Version: 2" -d '{"description":"Custom ingress address","domain": "connect.'$DOMAIN'"}' \
    "$API/agent_ingresses"
[ "${out##*$'\n'}" = 201 ] || fail "expected 201"
INGRESS="${out%$'\n'*}"
INGRESS_ID=$(json "$INGRESS" id)
NS1=$(json "$INGRESS" ns_targets.0)
NS2=$(json "$INGRESS" ns_targets.1)
REGION_DOMAIN=$(json "$INGRESS" region_domains.0)
[ "$REGION_DOMAIN" = "tunnel.us.connect.$DOMAIN" ] || fail "region_domains: $REGION_DOMAIN"

step "Update your DNS: NS records for connect, then Check Status of the delegation"
add_record "connect.$DOMAIN NS $NS1 $NS2"
run curl -s -X POST -H "Authorization: Bearer $API_KEY" -H "Ngrok-Version: 2" "$API/agent_ingresses/$INGRESS_ID/dns_check"
[ "$(json "$out" ok)" = True ] || fail "the NS delegation does not check"

step "Create a custom wildcard domain"
run curl -s -w '\n%{http_code}' -X POST -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" \
    -H "Ngrok-Version: 2" -d '{"domain":"*.customer1.'$DOMAIN'","region":"us"}' "$API/reserved_domains"
[ "${out##*$'\n'}" = 201 ] || fail "expected 201"
RD="${out%$'\n'*}"
RD_ID=$(json "$RD" id)
CNAME_TARGET=$(json "$RD" cname_target)
ACME_TARGET=$(json "$RD" acme_challenge_cname_target)

step "Update DNS records: the two CNAMEs, then Check Status"
add_record "*.customer1.$DOMAIN CNAME $CNAME_TARGET"
add_record "_acme-challenge.customer1.$DOMAIN CNAME $ACME_TARGET"
run curl -s -X POST -H "Authorization: Bearer $API_KEY" -H "Ngrok-Version: 2" "$API/reserved_domains/$RD_ID/dns_check"
[ "$(json "$out" ok)" = True ] || fail "the CNAMEs do not check"

step "The wildcard's certificate, issued by the ACME CA (pebble) by DNS-01"
for _ in $(seq 1 120); do
    RD=$(curl -s -H "Authorization: Bearer $API_KEY" -H "Ngrok-Version: 2" "$API/reserved_domains/$RD_ID")
    [ "$(json "$RD" certificate)" != None ] && break
    sleep 0.5
done
run json "$RD" certificate_management_status
[ "$(json "$RD" certificate)" != None ] || fail "no certificate"
curl -sf --cacert "$W/pebble-tls/ca-crt.pem" "https://localhost:$PEBBLE_MGMT/roots/0" >"$W/acme-root.pem"
run openssl s_client -connect "127.0.0.1:$HTTPS" -servername "agent.customer1.$DOMAIN" \
    -CAfile "$W/acme-root.pem" -verify_return_error </dev/null
case "$out" in *"Verify return code: 0 (ok)"*) ;; *) fail "the certificate does not verify" ;; esac

step "Create a bot user"
run curl -s -w '\n%{http_code}' -X POST -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" \
    -H "Ngrok-Version: 2" -d '{"name":"new bot user from API"}' "$API/bot_users"
[ "${out##*$'\n'}" = 201 ] || fail "expected 201"
BOT_ID=$(json "${out%$'\n'*}" id)

step "Create the agent authtoken: Owner the bot user, ACL Rules bind:*.customer1.$DOMAIN"
run curl -s -w '\n%{http_code}' -X POST -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" \
    -H "Ngrok-Version: 2" -d '{"description":"customer1 agent","owner_id":"'$BOT_ID'","acl":["bind:*.customer1.'$DOMAIN'"]}' \
    "$API/credentials"
[ "${out##*$'\n'}" = 201 ] || fail "expected 201"
AUTHTOKEN=$(json "${out%$'\n'*}" token)

step "The same in the dashboard, as the guide does it: Authtokens, Add a Tunnel Authtoken, Owner, ACL Rules"
jar="$W/dashboard.cookies"
csrf_of() { sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1; }
CSRF=$(curl -s -c "$jar" "$API/" | csrf_of)
run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -b "$jar" -c "$jar" \
    --data-urlencode "csrf=$CSRF" --data-urlencode "api_key=$API_KEY" "$API/dashboard/sign-in"
case "$out" in 303*) ;; *) fail "signing in to the dashboard" ;; esac
run curl -s -b "$jar" "$API/dashboard/authtokens"
case "$out" in *"Add a Tunnel Authtoken"*) ;; *) fail "no Add a Tunnel Authtoken on the Authtokens page" ;; esac
FORM=$(curl -s -b "$jar" "$API/dashboard/authtokens/new")
case "$FORM" in *Owner*"$BOT_ID"*"ACL Rules"*) ;; *) fail "the form has no Owner with the bot user, or no ACL Rules" ;; esac
CSRF=$(printf '%s' "$FORM" | csrf_of)
run curl -s -L -b "$jar" -c "$jar" --data-urlencode "csrf=$CSRF" --data-urlencode "description=customer1 agent (dashboard)" \
    --data-urlencode "owner_id=$BOT_ID" --data-urlencode "acl=bind:*.customer1.$DOMAIN" "$API/dashboard/authtokens"
DASHBOARD_TOKEN=$(printf '%s' "$out" | sed -n 's/.*id="new-secret">\([^<]*\)<.*/\1/p' | head -n 1)
[ -n "$DASHBOARD_TOKEN" ] || fail "the new authtoken is not shown"
run curl -s -b "$jar" "$API/dashboard/authtokens"
case "$out" in *"$DASHBOARD_TOKEN"*) fail "the token is shown a second time" ;; esac
run curl -s -H "Authorization: Bearer $API_KEY" -H "Ngrok-Version: 2" "$API/credentials"
case "$out" in *'customer1 agent (dashboard)'*'bind:*.customer1.'"$DOMAIN"*) ;; *) fail "the dashboard's authtoken is not in the API with its ACL" ;; esac
if [ "$mode" = site-to-site ]; then
    echo "  (this run's agent uses the token made in the dashboard)"
    AUTHTOKEN="$DASHBOARD_TOKEN"
fi

step "Generate test certificates (ferry certs generate, in place of the guide's openssl script)"
run "$FERRY_BIN" certs generate --domain "*.customer1.$DOMAIN" --out "$W/certs"
[ "$rc" = 0 ] || fail "ferry certs generate"
"$FERRY_BIN" certs generate --domain "*.customer1.$DOMAIN" --out "$W/foreign" >/dev/null

mkdir -p "$W/device"
cp "$W/certs"/*.pem "$W/device/"
if [ "$mode" = site-to-site ]; then
    step "Update ngrok.yml: the fragment as the guide prints it (tunnels: and agent-api: missing)"
    printf 'version: "2"\n\nproto: http\ndomain: agent.customer1.%s\naddr: 4040\ninspect: false\n' "$DOMAIN" >"$W/device/fragment.yml"
    run "$FERRY_BIN" start agent-api --config "$W/device/fragment.yml"
    [ "$rc" = 2 ] || fail "expected exit 2"
    case "$out" in *"tunnels.<name>:"*) ;; *) fail "the misplaced keys are not explained" ;; esac
fi

step "Update ngrok.yml (the guide's, with the region domain; Ferry's CA and DNS for finding it)"
cat >"$W/device/ngrok.yml" <<EOF
version: "2"
authtoken: $AUTHTOKEN
server_addr: $REGION_DOMAIN:$HTTPS
# A device trusts the installation's CA for the agent ingress, and here resolves the
# region domain through the edge's own DNS, as it would once connect.$DOMAIN is delegated.
root_cas: $EDGE_CA
dns_resolver_ips: ["$FERRY_DNS"]
web_addr: 127.0.0.1:$WEB_PORT

tunnels:
  agent-api:
    proto: http
    domain: agent.customer1.$DOMAIN
    addr: $WEB_PORT
    inspect: false
EOF
sed 's/^/  | /' "$W/device/ngrok.yml"

if [ "$mode" = site-to-site ]; then
    step "Start the agent as the guide writes it: ngrok start agent-api –config (an en dash)"
    run "$FERRY_BIN" start agent-api –config "$W/device/ngrok.yml"
    [ "$rc" = 2 ] || fail "expected exit 2"
    case "$out" in *"type --config"*) ;; *) fail "the en dash is not explained" ;; esac
fi

step "Start the agent to access the agent API"
start_agent() {
    rm -f "$W/agent-ready.json"
    echo "\$ ferry start agent-api --config ngrok.yml"
    (cd "$W/device" && exec "$FERRY_BIN" start agent-api --config ngrok.yml --ready-file "$W/agent-ready.json") >>"$W/agent.log" 2>&1 &
    AGENT_PID=$!
    pids+=("$AGENT_PID")
    wait_file "$W/agent-ready.json"
    sed 's/^/  | /' "$W/agent-ready.json"
}
start_agent
AGENT_API="https://agent.customer1.$DOMAIN"
# shellcheck disable=SC2046
run curl -s --cacert "$W/acme-root.pem" $(to "agent.customer1.$DOMAIN") "$AGENT_API/api/tunnels"
case "$out" in *'"name":"agent-api"'*) ;; *) fail "the agent API is not reachable through its tunnel" ;; esac

agent_api() {
    # shellcheck disable=SC2046
    run curl -s -w '\n%{http_code}' --cacert "$W/acme-root.pem" $(to "agent.customer1.$DOMAIN") \
        -H "Content-Type: application/json" "$@"
    status="${out##*$'\n'}"
}

step "Start a tunnel to the device, the body as the guide prints it (a trailing comma)"
agent_api -X POST "$AGENT_API/api/tunnels" \
    -d '{"name":"passthrough","proto":"tls","terminate_at": "agent", "addr":"'$SAMPLE_PORT'", "domain":"api.customer1.'$DOMAIN'",}'
[ "$status" = 400 ] || fail "expected 400"
case "$out" in *comma* | *column* | *position*) ;; *) fail "the trailing comma is not named" ;; esac

step "Without the comma: terminate_at agent needs the server's certificate and key"
agent_api -X POST "$AGENT_API/api/tunnels" \
    -d '{"name":"passthrough","proto":"tls","terminate_at": "agent", "addr":"'$SAMPLE_PORT'", "domain":"api.customer1.'$DOMAIN'"}'
[ "$status" = 400 ] || fail "expected 400"
case "$out" in *crt*key*) ;; *) fail "the missing crt/key are not named" ;; esac

step "The tunnel terminated at the agent with the server certificate (no client certificate yet)"
agent_api -X POST "$AGENT_API/api/tunnels" \
    -d '{"name":"passthrough","proto":"tls","terminate_at": "agent", "addr":"'$SAMPLE_PORT'", "domain":"api.customer1.'$DOMAIN'", "crt":"server-crt.pem", "key":"server-key.pem"}'
[ "$status" = 201 ] || fail "expected 201"
# shellcheck disable=SC2046
run curl -s --cacert "$W/certs/ca-crt.pem" $(to "api.customer1.$DOMAIN") "https://api.customer1.$DOMAIN/status"
case "$out" in *'"served_by":"sample API"'*) ;; *) fail "the sample API is not reached" ;; esac

step "If you previously started a tunnel, stop it now"
agent_api -X DELETE "$AGENT_API/api/tunnels/passthrough"
[ "$status" = 204 ] || fail "expected 204"

if [ "$mode" = site-to-site ]; then
    step "Add mTLS, the body as the guide prints it (client-crt.pem as the server's crt)"
    agent_api -X POST "$AGENT_API/api/tunnels" \
        -d '{"name":"passthrough","proto":"tls","terminate_at": "agent", "addr":"'$SAMPLE_PORT'", "domain":"api.customer1.'$DOMAIN'","mutual_tls_cas":"ca-crt.pem", "crt":"client-crt.pem", "key":"server-key.pem"}'
    [ "$status" = 400 ] || fail "expected 400"
    case "$out" in *client*) ;; *) fail "the client certificate given as crt is not named" ;; esac
else
    step "Add mTLS, the body as the guide first prints it (the CA's private key as mutual_tls_cas)"
    agent_api -X POST "$AGENT_API/api/tunnels" \
        -d '{"name":"passthrough","proto":"tls","terminate_at": "agent", "addr":"'$SAMPLE_PORT'", "domain":"api.customer1.'$DOMAIN'","mutual_tls_cas":"ca-key.pem", "crt":"server-crt.pem", "key":"server-key.pem"}'
    [ "$status" = 400 ] || fail "expected 400"
    case "$out" in *"private key"*) ;; *) fail "the CA's private key is not named" ;; esac
fi

step "Start the fully encrypted tunnel with mTLS"
agent_api -X POST "$AGENT_API/api/tunnels" \
    -d '{"name":"passthrough","proto":"tls","terminate_at": "agent", "addr":"'$SAMPLE_PORT'", "domain":"api.customer1.'$DOMAIN'","mutual_tls_cas":"ca-crt.pem", "crt":"server-crt.pem", "key":"server-key.pem"}'
[ "$status" = 201 ] || fail "expected 201"

reach() {
    # shellcheck disable=SC2046
    run curl -sS --cacert "$W/certs/ca-crt.pem" "$@" $(to "api.customer1.$DOMAIN") "https://api.customer1.$DOMAIN/status"
}
step "Access APIs on the device with the client certificate"
reach --cert "$W/certs/client-crt.pem" --key "$W/certs/client-key.pem"
case "$out" in *'"served_by":"sample API"'*) ;; *) fail "the sample API is not reached with the client certificate" ;; esac

step "Without a client certificate, and with one from a foreign CA, it is not reached"
reach
[ "$rc" != 0 ] || fail "reached without a client certificate"
reach --cert "$W/foreign/client-crt.pem" --key "$W/foreign/client-key.pem"
[ "$rc" != 0 ] || fail "reached with a foreign client certificate"

step "A tunnel outside the authtoken's ACL is refused (customer2's domain, reserved, is not in it)"
run curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" \
    -H "Ngrok-Version: 2" -d '{"domain":"*.customer2.'$DOMAIN'"}' "$API/reserved_domains"
[ "$out" = 201 ] || fail "expected 201"
agent_api -X POST "$AGENT_API/api/tunnels" \
    -d '{"name":"outside","proto":"http","addr":"'$SAMPLE_PORT'","domain":"app.customer2.'$DOMAIN'"}'
[ "$status" != 201 ] || fail "a bind outside the ACL was accepted"
case "$out" in *ACL*ERR_NGROK_*) ;; *) fail "the refusal does not name the ACL with ngrok's code" ;; esac

step "ngrok's SDK as the agent: the same token, the region domain, a TLS endpoint with mTLS at the edge"
start_sdk() {
    "$SDK_AGENT_BIN" --server-addr "$REGION_DOMAIN:$HTTPS" --ca "$EDGE_CA" --authtoken "$AUTHTOKEN" \
        --dns "$FERRY_DNS" --domain "$1" --crt "$W/certs/server-crt.pem" --key "$W/certs/server-key.pem" \
        --mutual-tls-cas "$W/certs/ca-crt.pem" --forward-to "127.0.0.1:$SAMPLE_PORT" >"$W/sdk-$1.log" 2>&1 &
    SDK_PID=$!
    pids+=("$SDK_PID")
    for _ in $(seq 1 100); do
        grep -q "^online" "$W/sdk-$1.log" 2>/dev/null && break
        kill -0 "$SDK_PID" 2>/dev/null || break
        sleep 0.1
    done
    sed 's/^/  | /' "$W/sdk-$1.log"
}
echo "\$ sdk-agent --server-addr $REGION_DOMAIN:$HTTPS --domain sdk.customer1.$DOMAIN ..."
start_sdk "sdk.customer1.$DOMAIN"
grep -q "^online tls://sdk.customer1.$DOMAIN" "$W/sdk-sdk.customer1.$DOMAIN.log" || fail "the SDK's endpoint is not online"
# shellcheck disable=SC2046
run curl -sS --cacert "$W/certs/ca-crt.pem" --cert "$W/certs/client-crt.pem" --key "$W/certs/client-key.pem" \
    $(to "sdk.customer1.$DOMAIN") "https://sdk.customer1.$DOMAIN/status"
case "$out" in *'"served_by":"sample API"'*) ;; *) fail "the sample API is not reached through the SDK's endpoint" ;; esac
# shellcheck disable=SC2046
run curl -sS --cacert "$W/certs/ca-crt.pem" $(to "sdk.customer1.$DOMAIN") "https://sdk.customer1.$DOMAIN/status"
[ "$rc" != 0 ] || fail "reached without a client certificate"
echo "\$ sdk-agent ... --domain app.customer2.$DOMAIN"
start_sdk "app.customer2.$DOMAIN"
case "$(cat "$W/sdk-app.customer2.$DOMAIN.log")" in *ACL*ERR_NGROK_316* | *ACL*err_ngrok_316*) ;; *) fail "the SDK's bind outside the ACL is not refused with ngrok's code" ;; esac

step "The edge restarts; the agent comes back with both tunnels by itself, and the SDK with its endpoint"
kill "$EDGE_PID"
wait "$EDGE_PID" 2>/dev/null || true
start_edge
for _ in $(seq 1 120); do
    # shellcheck disable=SC2046
    curl -sf --cacert "$W/certs/ca-crt.pem" --cert "$W/certs/client-crt.pem" --key "$W/certs/client-key.pem" \
        $(to "api.customer1.$DOMAIN") "https://api.customer1.$DOMAIN/status" >/dev/null 2>&1 && break
    sleep 0.5
done
reach --cert "$W/certs/client-crt.pem" --key "$W/certs/client-key.pem"
case "$out" in *'"served_by":"sample API"'*) ;; *) fail "the mTLS tunnel did not come back" ;; esac
# shellcheck disable=SC2046
run curl -s --cacert "$W/acme-root.pem" $(to "agent.customer1.$DOMAIN") "$AGENT_API/api/tunnels"
case "$out" in *'"agent-api"'*'"passthrough"'* | *'"passthrough"'*'"agent-api"'*) ;; *) fail "the agent does not hold both tunnels" ;; esac
for _ in $(seq 1 120); do
    # shellcheck disable=SC2046
    curl -sf --cacert "$W/certs/ca-crt.pem" --cert "$W/certs/client-crt.pem" --key "$W/certs/client-key.pem" \
        $(to "sdk.customer1.$DOMAIN") "https://sdk.customer1.$DOMAIN/status" >/dev/null 2>&1 && break
    sleep 0.5
done
# shellcheck disable=SC2046
run curl -sS --cacert "$W/certs/ca-crt.pem" --cert "$W/certs/client-crt.pem" --key "$W/certs/client-key.pem" \
    $(to "sdk.customer1.$DOMAIN") "https://sdk.customer1.$DOMAIN/status"
case "$out" in *'"served_by":"sample API"'*) ;; *) fail "the SDK's endpoint did not come back" ;; esac

printf '\nwalkthrough: %s: every step behaved as the guide says\n' "$mode"
