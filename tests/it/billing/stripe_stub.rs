//! A contract stub of Stripe's REST API on a loopback port. Each call is
//! checked like Stripe checks it: the method and path must be an endpoint
//! the app may use, every form or query parameter must be one Stripe's API
//! reference documents for that endpoint (an unknown one is a 400
//! `invalid_request_error`, as at Stripe), required ones must be there, and
//! the API key and version headers must be sent. Answers are realistic
//! objects kept in memory (prices, subscriptions with one item, schedules,
//! invoices), so a scenario can turn them into the webhook events Stripe
//! would send.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

/// One request as the stub received it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub params: Vec<(String, String)>,
    /// The `Idempotency-Key` header, when sent.
    pub idempotency_key: Option<String>,
}

impl Call {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What the stub knows, as Stripe would.
#[derive(Default)]
pub struct StubState {
    pub calls: Vec<Call>,
    /// Calls refused with 400 (a contract violation by the app).
    pub refused: Vec<String>,
    prices: BTreeMap<String, Value>,
    pub sessions: BTreeMap<String, Value>,
    pub subscriptions: BTreeMap<String, Value>,
    pub schedules: BTreeMap<String, Value>,
    /// Invoices Stripe issued (the first of a subscription, prorations).
    pub invoices: Vec<Value>,
    seq: u32,
    /// The stub's "now" (unix seconds): the app's pinned clock.
    pub now: i64,
    /// The customer's card is declined: invoices the app's calls create
    /// stay open (Stripe's test card `4000 0000 0000 0341`).
    pub card_declines: bool,
    /// Answers given to the next POSTs before they are processed: the HTTP
    /// status and the `Stripe-Should-Retry` header (429, a retryable 5xx).
    pub failures: std::collections::VecDeque<(u16, Option<&'static str>)>,
    /// Stripe is down: every call is answered 503 and nothing is processed.
    pub down: bool,
    /// The next POST to each path here is processed, then answered with
    /// its 5xx status and no `Stripe-Should-Retry` (an answer lost after the
    /// change was made); Stripe saves that answer for the key and replays it.
    pub lost_answers: Vec<(String, u16)>,
    /// POSTs to this path wait (without blocking the stub) until it is
    /// cleared: a slow Stripe. `held` counts the calls waiting.
    pub hold: Option<String>,
    pub held: usize,
    /// Each customer's tax ids (`tax_id` objects), by customer id.
    pub tax_ids: BTreeMap<String, Vec<Value>>,
    /// POST answers by `Idempotency-Key`: a repeat gets the first answer
    /// back (Stripe keeps them 24 hours), with the parameters it was made with.
    idempotent: BTreeMap<String, SavedAnswer>,
}

/// A POST's parameters, and the status and body Stripe answered it with.
type SavedAnswer = (Vec<(String, String)>, u16, Value);

pub struct Stub {
    pub url: String,
    pub state: Arc<Mutex<StubState>>,
}

/// The endpoints the app may call: method, path pattern, documented
/// parameters (`[N]` any index, `[*]` any metadata key), required ones.
const CONTRACT: &[(&str, &str, &[&str], &[&str])] = &[
    (
        "GET",
        "/v1/prices",
        &["lookup_keys[]", "active", "limit"],
        &[],
    ),
    (
        "POST",
        "/v1/prices",
        &[
            "currency",
            "unit_amount",
            "recurring[interval]",
            "product_data[name]",
            "lookup_key",
            "tax_behavior",
            "metadata[*]",
        ],
        &["currency"],
    ),
    (
        "POST",
        "/v1/checkout/sessions",
        &[
            "mode",
            "client_reference_id",
            "success_url",
            "cancel_url",
            "line_items[N][price]",
            "line_items[N][quantity]",
            "metadata[*]",
            "subscription_data[metadata][*]",
            "subscription_data[trial_end]",
            "customer",
            "customer_email",
            "automatic_tax[enabled]",
            "tax_id_collection[enabled]",
            "customer_update[address]",
            "customer_update[name]",
        ],
        &["mode", "success_url", "line_items[N][price]"],
    ),
    ("POST", "/v1/checkout/sessions/{id}/expire", &[], &[]),
    (
        "POST",
        "/v1/billing_portal/sessions",
        &["customer", "return_url"],
        &["customer"],
    ),
    ("GET", "/v1/subscriptions/{id}", &[], &[]),
    (
        "POST",
        "/v1/subscriptions/{id}",
        &[
            "items[N][id]",
            "items[N][price]",
            "proration_behavior",
            "payment_behavior",
            "cancel_at_period_end",
            "cancel_at",
            "automatic_tax[enabled]",
        ],
        &[],
    ),
    (
        "DELETE",
        "/v1/subscriptions/{id}",
        &[
            "prorate",
            "invoice_now",
            "cancellation_details[comment]",
            "cancellation_details[feedback]",
        ],
        &[],
    ),
    (
        "POST",
        "/v1/subscription_schedules",
        &["from_subscription"],
        &["from_subscription"],
    ),
    ("GET", "/v1/subscription_schedules/{id}", &[], &[]),
    ("GET", "/v1/customers/{id}/tax_ids", &["limit"], &[]),
    (
        "POST",
        "/v1/customers/{id}/tax_ids",
        &["type", "value"],
        &["type", "value"],
    ),
    ("DELETE", "/v1/customers/{cus}/tax_ids/{id}", &[], &[]),
    (
        "POST",
        "/v1/subscription_schedules/{id}",
        &[
            "end_behavior",
            "proration_behavior",
            "phases[N][items][N][price]",
            "phases[N][items][N][quantity]",
            "phases[N][start_date]",
            "phases[N][end_date]",
            "phases[N][duration][interval]",
            "phases[N][duration][interval_count]",
            "phases[N][automatic_tax][enabled]",
        ],
        &[],
    ),
    (
        "POST",
        "/v1/subscription_schedules/{id}/release",
        &["preserve_cancel_date"],
        &[],
    ),
];

/// `phases[1][items][0][price]` → `phases[N][items][N][price]`;
/// `metadata[plan]` → `metadata[*]`.
fn template_of(key: &str) -> String {
    for map in ["subscription_data[metadata]", "metadata"] {
        if key.starts_with(&format!("{map}[")) {
            return format!("{map}[*]");
        }
    }
    let re = regex::Regex::new(r"\[\d+\]").unwrap();
    re.replace_all(key, "[N]").into_owned()
}

fn path_matches(pattern: &str, path: &str) -> Option<Option<String>> {
    let (p, a): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
    if p.len() != a.len() {
        return None;
    }
    let mut id = None;
    for (p, a) in p.iter().zip(&a) {
        if *p == "{cus}" {
            continue;
        }
        if *p == "{id}" {
            id = Some(a.to_string());
        } else if p != a {
            return None;
        }
    }
    Some(id)
}

fn invalid(message: String) -> HttpResponse {
    HttpResponse::BadRequest().json(refusal(message))
}

fn refusal(message: String) -> Value {
    json!({ "error": { "type": "invalid_request_error", "message": message } })
}

/// Checks a call against the contract; the error Stripe would answer.
fn check(call: &Call, req: &HttpRequest) -> Result<Option<String>, String> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header("authorization") != Some("Bearer sk_test_123") {
        return Err("Invalid API Key provided".into());
    }
    if header("stripe-version").is_none() {
        return Err("Stripe-Version header missing".into());
    }
    let (allowed, required, id) = CONTRACT
        .iter()
        .filter(|(m, ..)| *m == call.method)
        .find_map(|(_, pattern, allowed, required)| {
            path_matches(pattern, &call.path).map(|id| (allowed, required, id))
        })
        .ok_or_else(|| format!("Unrecognized request URL ({} {})", call.method, call.path))?;
    let templates: Vec<String> = call.params.iter().map(|(k, _)| template_of(k)).collect();
    if let Some((k, _)) = call
        .params
        .iter()
        .zip(&templates)
        .find(|(_, t)| !allowed.contains(&t.as_str()))
        .map(|(p, _)| p)
    {
        return Err(format!("Received unknown parameter: {k}"));
    }
    if let Some(missing) = required.iter().find(|r| !templates.iter().any(|t| t == *r)) {
        return Err(format!("Missing required param: {missing}."));
    }
    Ok(id)
}

impl Stub {
    /// Starts the stub; `now` is the unix time periods start from.
    pub fn start(now: i64) -> Stub {
        let state = Arc::new(Mutex::new(StubState {
            now,
            ..StubState::default()
        }));
        let shared = state.clone();
        let server = HttpServer::new(move || {
            let shared = shared.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let shared = shared.clone();
                async move {
                    wait_while_held(&shared, &req).await;
                    answer(&shared, &req, &body)
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let url = format!("http://{}", server.addrs()[0]);
        actix_rt::spawn(server.run());
        Stub { url, state }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The calls to `method path` so far.
    pub fn calls_to(&self, method: &str, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path == path)
            .collect()
    }

    pub fn refused(&self) -> Vec<String> {
        self.state.lock().unwrap().refused.clone()
    }

    pub fn subscription(&self, id: &str) -> Value {
        self.state.lock().unwrap().subscriptions[id].clone()
    }

    /// The customer completes Checkout session `session`: Stripe creates the
    /// customer and the subscription (trialing when `trial_end` was given,
    /// else active with a first paid invoice). Returns the session object as
    /// `checkout.session.completed` carries it.
    pub fn complete_checkout(&self, session: &str) -> Value {
        let mut st = self.state.lock().unwrap();
        let mut s = st.sessions[session].clone();
        assert_eq!(
            s["status"], "open",
            "only an open Checkout Session can be paid"
        );
        let sub_id = next_id(&mut st, "sub");
        let customer = s["customer"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| next_id(&mut st, "cus"));
        let price = s["price"].clone();
        let trial_end = s["trial_end"].as_i64();
        let start = st.now;
        let end = trial_end.unwrap_or_else(|| period_end(start, &price));
        let item = next_id(&mut st, "si");
        let sub = json!({
            "id": sub_id, "object": "subscription", "customer": customer,
            "status": if trial_end.is_some() { "trialing" } else { "active" },
            "cancel_at_period_end": false, "cancel_at": null, "schedule": null, "trial_end": trial_end,
            "metadata": s["subscription_metadata"].clone(), "pending_update": null,
            "automatic_tax": { "enabled": s["automatic_tax"] == json!(true) },
            "items": { "object": "list", "data": [{
                "id": item, "object": "subscription_item", "quantity": 1, "price": price,
                "current_period_start": start, "current_period_end": end }] },
        });
        st.subscriptions.insert(sub_id.clone(), sub);
        if trial_end.is_none() {
            let amount = price["unit_amount"].as_i64().unwrap();
            issue_invoice(&mut st, &sub_id, &customer, amount, "Subscription");
        }
        s["customer"] = json!(customer);
        s["subscription"] = json!(sub_id);
        s["status"] = json!("complete");
        s["payment_status"] = json!(if trial_end.is_some() {
            "no_payment_required"
        } else {
            "paid"
        });
        st.sessions.insert(session.to_string(), s.clone());
        s
    }

    /// The customer cancels in the portal, in flexible billing mode: a
    /// `cancel_at` at the period end, `cancel_at_period_end` left false.
    pub fn portal_cancel(&self, sub_id: &str) -> Value {
        let mut st = self.state.lock().unwrap();
        let sub = st.subscriptions.get_mut(sub_id).unwrap();
        sub["cancel_at"] = sub["items"]["data"][0]["current_period_end"].clone();
        sub["cancel_at_period_end"] = json!(false);
        sub.clone()
    }

    /// The current period ends: a schedule moves the subscription to its
    /// next phase's price and stays attached while that phase runs; once
    /// its last phase ends it is released (`end_behavior=release`), as
    /// Stripe documents. A cancellation ends the subscription.
    pub fn end_period(&self, sub_id: &str) -> Value {
        let mut st = self.state.lock().unwrap();
        let mut sub = st.subscriptions[sub_id].clone();
        let this_end = sub["items"]["data"][0]["current_period_end"].as_i64();
        let dated_end = sub["cancel_at"]
            .as_i64()
            .is_some_and(|at| Some(at) <= this_end);
        if sub["cancel_at_period_end"] == json!(true) || dated_end {
            sub["status"] = json!("canceled");
        } else {
            if let Some(schedule) = sub["schedule"].as_str().map(str::to_string) {
                let ends = sub["items"]["data"][0]["current_period_end"]
                    .as_i64()
                    .unwrap();
                let phases = st.schedules[&schedule]["phases"].clone();
                let next = phases
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["start_date"].as_i64() == Some(ends))
                    .cloned();
                match next {
                    Some(phase) => {
                        let price =
                            price_by_id(&st, phase["items"][0]["price"].as_str().unwrap()).unwrap();
                        sub["items"]["data"][0]["price"] = price.clone();
                        let s = st.schedules.get_mut(&schedule).unwrap();
                        s["current_phase"] = json!({
                            "start_date": ends, "end_date": period_end(ends, &price) });
                    }
                    None => {
                        sub["schedule"] = Value::Null;
                        st.schedules.get_mut(&schedule).unwrap()["status"] = json!("released");
                    }
                }
            }
            let start = sub["items"]["data"][0]["current_period_end"]
                .as_i64()
                .unwrap();
            let end = period_end(start, &sub["items"]["data"][0]["price"]);
            sub["items"]["data"][0]["current_period_start"] = json!(start);
            sub["items"]["data"][0]["current_period_end"] = json!(end);
            sub["status"] = json!("active");
        }
        st.subscriptions.insert(sub_id.to_string(), sub.clone());
        sub
    }
}

fn next_id(st: &mut StubState, prefix: &str) -> String {
    st.seq += 1;
    format!("{prefix}_test_{}", st.seq)
}

fn period_end(start: i64, price: &Value) -> i64 {
    let days = if price["recurring"]["interval"] == "year" {
        365
    } else {
        30
    };
    start + days * 86_400
}

fn issue_invoice(st: &mut StubState, sub: &str, customer: &str, amount: i64, what: &str) {
    issue_invoice_as(st, sub, customer, amount, what, true);
}

/// An invoice of a subscription update, paid or left open (declined card);
/// returns its id.
fn issue_invoice_as(
    st: &mut StubState,
    sub: &str,
    customer: &str,
    amount: i64,
    what: &str,
    paid: bool,
) -> String {
    let id = next_id(st, "in");
    // Every line carries the period it bills (Stripe's line items always
    // do): from now, or the period's start, to the period's end.
    let item = &st.subscriptions[sub]["items"]["data"][0];
    let (start, end) = (
        item["current_period_start"].as_i64().unwrap(),
        item["current_period_end"].as_i64().unwrap(),
    );
    let period = json!({ "start": st.now.max(start), "end": end });
    let reason = if what == "Subscription" {
        "subscription_create"
    } else {
        "subscription_update"
    };
    st.invoices.push(json!({
        "id": id, "object": "invoice", "customer": customer, "subscription": sub,
        "billing_reason": reason, "attempt_count": 1,
        "status": if paid { "paid" } else { "open" }, "amount_due": amount,
        "amount_paid": if paid { amount } else { 0 },
        "hosted_invoice_url": format!("https://invoice.stripe.test/{id}"),
        "lines": { "object": "list", "data": [{ "description": what, "amount": amount,
            "quantity": 1, "period": period }] },
    }));
    id
}

/// A POST to the held path waits until the test clears `hold`.
async fn wait_while_held(shared: &Mutex<StubState>, req: &HttpRequest) {
    let held = |st: &StubState| req.method() == "POST" && st.hold.as_deref() == Some(req.path());
    if !held(&shared.lock().unwrap()) {
        return;
    }
    shared.lock().unwrap().held += 1;
    while held(&shared.lock().unwrap()) {
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    shared.lock().unwrap().held -= 1;
}

fn answer(shared: &Mutex<StubState>, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    params.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default());
    let call = Call {
        method: req.method().to_string(),
        path: req.path().to_string(),
        params,
        idempotency_key: req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    let mut st = shared.lock().unwrap();
    st.calls.push(call.clone());
    if st.down {
        return failure(503, None);
    }
    if call.method == "POST" {
        if let Some((status, should_retry)) = st.failures.pop_front() {
            return failure(status, should_retry);
        }
    }
    let key = call
        .idempotency_key
        .clone()
        .filter(|_| call.method == "POST");
    if let Some((params, status, body)) = key.as_ref().and_then(|k| st.idempotent.get(k)) {
        if *params != call.params {
            return invalid(
                "Keys for idempotent requests can only be used with the same parameters \
                 they were first used with."
                    .into(),
            );
        }
        let status = actix_web::http::StatusCode::from_u16(*status).unwrap();
        return HttpResponse::build(status)
            .insert_header(("Idempotent-Replayed", "true"))
            .json(body.clone());
    }
    let (status, body) =
        match check(&call, req).and_then(|id| respond(&mut st, &call, id.as_deref())) {
            Ok(v) => (200, v),
            Err(message) => {
                st.refused
                    .push(format!("{} {}: {message}", call.method, call.path));
                (400, refusal(message))
            }
        };
    let lost = (call.method == "POST")
        .then(|| {
            st.lost_answers
                .iter()
                .position(|(path, _)| *path == call.path)
        })
        .flatten();
    let (status, body) = match lost.map(|i| st.lost_answers.remove(i)) {
        Some((_, lost)) => (
            lost,
            json!({ "error": { "type": "api_error", "message": "Injected failure" } }),
        ),
        None => (status, body),
    };
    if let Some(key) = key {
        st.idempotent
            .insert(key, (call.params.clone(), status, body.clone()));
    }
    let status = actix_web::http::StatusCode::from_u16(status).unwrap();
    HttpResponse::build(status).json(body)
}

/// A failure injected by a test: nothing was processed.
fn failure(status: u16, should_retry: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(value) = should_retry {
        response.insert_header(("Stripe-Should-Retry", value));
    }
    let kind = if status == 429 {
        "rate_limit_error"
    } else {
        "api_error"
    };
    response.json(json!({ "error": { "type": kind, "message": "Injected failure" } }))
}

fn respond(st: &mut StubState, call: &Call, id: Option<&str>) -> Result<Value, String> {
    let route = (call.method.as_str(), call.path.as_str());
    match route {
        ("GET", "/v1/prices") => {
            let key = call.get("lookup_keys[]").unwrap_or("");
            let data: Vec<Value> = st.prices.get(key).cloned().into_iter().collect();
            Ok(json!({ "object": "list", "data": data, "has_more": false, "url": "/v1/prices" }))
        }
        ("POST", "/v1/prices") => create_price(st, call),
        ("POST", "/v1/checkout/sessions") => create_session(st, call),
        _ if call.path.starts_with("/v1/checkout/sessions/") => {
            expire_session(st, id.unwrap_or_default())
        }
        ("POST", "/v1/billing_portal/sessions") => {
            let id = next_id(st, "bps");
            Ok(
                json!({ "id": id, "object": "billing_portal.session", "customer": call.get("customer"),
                "return_url": call.get("return_url"), "url": format!("https://billing.stripe.test/p/{id}") }),
            )
        }
        _ if call.path.starts_with("/v1/customers/") => tax_id_call(st, call, id),
        _ if call.path.starts_with("/v1/subscription_schedules") => schedule_call(st, call, id),
        _ => subscription_call(st, call, id.unwrap_or_default()),
    }
}

/// A customer's tax ids: listed, created (`type` must be one Stripe knows
/// for the EU here), deleted.
fn tax_id_call(st: &mut StubState, call: &Call, id: Option<&str>) -> Result<Value, String> {
    let customer = call.path.split('/').nth(3).unwrap_or_default().to_string();
    match call.method.as_str() {
        "GET" => {
            let data = st.tax_ids.get(&customer).cloned().unwrap_or_default();
            Ok(json!({ "object": "list", "data": data, "has_more": false }))
        }
        "POST" => {
            if call.get("type") != Some("eu_vat") {
                return Err("Invalid value for type.".into());
            }
            let value = call.get("value").unwrap_or_default().to_string();
            let tax_id = json!({ "id": next_id(st, "txi"), "object": "tax_id", "customer": customer,
                "type": "eu_vat", "value": value, "country": &value[..2],
                "verification": { "status": "pending" } });
            st.tax_ids.entry(customer).or_default().push(tax_id.clone());
            Ok(tax_id)
        }
        _ => {
            let id = id.unwrap_or_default();
            let ids = st.tax_ids.entry(customer).or_default();
            let before = ids.len();
            ids.retain(|t| t["id"] != id);
            if ids.len() == before {
                return Err(format!("No such tax id: '{id}'"));
            }
            Ok(json!({ "id": id, "object": "tax_id", "deleted": true }))
        }
    }
}

fn create_price(st: &mut StubState, call: &Call) -> Result<Value, String> {
    let key = call
        .get("lookup_key")
        .ok_or("lookup_key expected")?
        .to_string();
    let id = next_id(st, "price");
    let amount: i64 = call
        .get("unit_amount")
        .and_then(|a| a.parse().ok())
        .ok_or("Invalid integer: unit_amount")?;
    let price = json!({
        "id": id, "object": "price", "active": true, "currency": call.get("currency"),
        "unit_amount": amount, "lookup_key": key, "type": "recurring",
        "recurring": { "interval": call.get("recurring[interval]"), "interval_count": 1 },
        "product": format!("prod_{id}"),
    });
    st.prices.insert(key, price.clone());
    Ok(price)
}

fn price_by_id(st: &StubState, id: &str) -> Result<Value, String> {
    st.prices
        .values()
        .find(|p| p["id"] == id)
        .cloned()
        .ok_or_else(|| format!("No such price: '{id}'"))
}

fn create_session(st: &mut StubState, call: &Call) -> Result<Value, String> {
    if call.get("mode") != Some("subscription") {
        return Err("mode must be subscription here".into());
    }
    if call.get("customer").is_some() && call.get("customer_email").is_some() {
        return Err(
            "You may only specify one of these parameters: customer, customer_email.".into(),
        );
    }
    if (call.get("customer_update[address]").is_some()
        || call.get("customer_update[name]").is_some())
        && call.get("customer").is_none()
    {
        return Err("customer_update can only be used with customer.".into());
    }
    // Automatic tax needs the customer's address: an existing customer's
    // must be allowed to be saved from Checkout.
    if call.get("automatic_tax[enabled]") == Some("true")
        && call.get("customer").is_some()
        && call.get("customer_update[address]") != Some("auto")
    {
        return Err(
            "Automatic tax with an existing customer requires customer_update[address] to be 'auto'."
                .into(),
        );
    }
    let price = price_by_id(st, call.get("line_items[0][price]").unwrap_or(""))?;
    let trial_end: Option<i64> = call
        .get("subscription_data[trial_end]")
        .map(|t| t.parse().unwrap());
    if trial_end.is_some_and(|t| t < st.now + 48 * 3600) {
        return Err("subscription_data[trial_end] must be at least 48 hours in the future.".into());
    }
    let meta = |prefix: &str| -> Value {
        call.params
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix(prefix)?.strip_suffix(']')?;
                Some((key.to_string(), json!(v)))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let id = next_id(st, "cs");
    let session = json!({
        "id": id, "object": "checkout.session", "mode": "subscription", "status": "open",
        "client_reference_id": call.get("client_reference_id"), "customer": call.get("customer"),
        "customer_email": call.get("customer_email"), "metadata": meta("metadata["),
        "payment_status": "unpaid", "url": format!("https://checkout.stripe.test/c/{id}"),
        // Kept for `complete_checkout` (Stripe keeps them on its side).
        "price": price, "trial_end": trial_end, "subscription_metadata": meta("subscription_data[metadata]["),
        "automatic_tax": call.get("automatic_tax[enabled]") == Some("true"),
    });
    st.sessions.insert(id, session.clone());
    Ok(session)
}

/// Only an open session can be expired (Stripe's rule); it cannot be paid after.
fn expire_session(st: &mut StubState, id: &str) -> Result<Value, String> {
    let session = st
        .sessions
        .get_mut(id)
        .ok_or_else(|| format!("No such checkout.session: '{id}'"))?;
    if session["status"] != "open" {
        return Err(format!(
            "Only Checkout Sessions with a status in [\"open\"] can be expired; this one is {}.",
            session["status"]
        ));
    }
    session["status"] = json!("expired");
    Ok(session.clone())
}

fn subscription_call(st: &mut StubState, call: &Call, id: &str) -> Result<Value, String> {
    let mut sub = st
        .subscriptions
        .get(id)
        .cloned()
        .ok_or_else(|| format!("No such subscription: '{id}'"))?;
    if sub["status"] == "canceled" && call.method != "GET" {
        return Err(
            "A canceled subscription can only update its cancellation_details and metadata.".into(),
        );
    }
    match call.method.as_str() {
        "DELETE" => sub["status"] = json!("canceled"),
        "POST" => update_subscription(st, call, &mut sub)?,
        _ => {}
    }
    st.subscriptions.insert(id.to_string(), sub.clone());
    Ok(sub)
}

/// The parameters Stripe accepts with `payment_behavior=pending_if_incomplete`
/// (its "Pending updates reference"); any other is refused.
const PENDING_UPDATE_PARAMS: &[&str] = &[
    "expand",
    "payment_behavior",
    "proration_behavior",
    "proration_date",
    "billing_cycle_anchor",
    "items[N][id]",
    "items[N][price]",
    "items[N][quantity]",
    "trial_end",
    "trial_from_plan",
];

fn update_subscription(st: &mut StubState, call: &Call, sub: &mut Value) -> Result<(), String> {
    let pending_if_incomplete = call.get("payment_behavior") == Some("pending_if_incomplete");
    if pending_if_incomplete {
        if let Some((k, _)) = call
            .params
            .iter()
            .find(|(k, _)| !PENDING_UPDATE_PARAMS.contains(&template_of(k).as_str()))
        {
            return Err(format!(
                "When `payment_behavior` is `pending_if_incomplete`, only the parameters \
                 supported by pending updates may be passed; received {k}."
            ));
        }
    }
    if let Some(at) = call.get("cancel_at") {
        // An empty value unsets it (Stripe's form encoding of null).
        sub["cancel_at"] = match at {
            "" => Value::Null,
            at => json!(at.parse::<i64>().map_err(|_| "Invalid cancel_at")?),
        };
    }
    if let Some(cancel) = call.get("cancel_at_period_end") {
        if let Some(schedule) = sub["schedule"].as_str() {
            return Err(format!(
                "The subscription is managed by the subscription schedule `{schedule}`, and \
                 updating any cancelation behavior directly is not allowed. Please update the \
                 schedule instead."
            ));
        }
        sub["cancel_at_period_end"] = json!(cancel == "true");
    }
    let Some(new_price) = call.get("items[0][price]") else {
        return Ok(());
    };
    if call.get("items[0][id]") != sub["items"]["data"][0]["id"].as_str() {
        return Err("items[0][id] is not an item of this subscription".into());
    }
    let price = price_by_id(st, new_price)?;
    let old = sub["items"]["data"][0]["price"]["unit_amount"]
        .as_i64()
        .unwrap();
    let charged =
        call.get("proration_behavior") == Some("always_invoice") && sub["status"] == "active";
    if !charged {
        sub["items"]["data"][0]["price"] = price;
        return Ok(());
    }
    let item = &sub["items"]["data"][0];
    let (start, end) = (
        item["current_period_start"].as_i64().unwrap(),
        item["current_period_end"].as_i64().unwrap(),
    );
    let left = (end - st.now) as f64 / (end - start) as f64;
    let new = price["unit_amount"].as_i64().unwrap();
    let amount = ((new - old) as f64 * left).round() as i64;
    let (sid, customer) = (
        sub["id"].as_str().unwrap().to_string(),
        sub["customer"].as_str().unwrap().to_string(),
    );
    let paid = !(st.card_declines && amount > 0);
    let invoice = issue_invoice_as(
        st,
        &sid,
        &customer,
        amount,
        "Proration: remaining time on the new plan",
        paid,
    );
    sub["latest_invoice"] = json!(invoice);
    if paid {
        sub["items"]["data"][0]["price"] = price;
    } else if pending_if_incomplete {
        // Stripe: the subscription "will continue to cycle as if no update
        // request was made"; the change waits in `pending_update` (23 hours).
        sub["pending_update"] = json!({
            "expires_at": st.now + 23 * 3600,
            "subscription_items": [{ "id": sub["items"]["data"][0]["id"], "price": price }],
        });
    } else {
        // The default (`allow_incomplete`): the update is applied whether or
        // not its invoice is paid, and the subscription becomes past_due.
        sub["items"]["data"][0]["price"] = price;
        sub["status"] = json!("past_due");
    }
    Ok(())
}

fn schedule_call(st: &mut StubState, call: &Call, id: Option<&str>) -> Result<Value, String> {
    let Some(id) = id else {
        let sub_id = call.get("from_subscription").unwrap_or("");
        let sub = st
            .subscriptions
            .get(sub_id)
            .cloned()
            .ok_or("No such subscription")?;
        if !sub["schedule"].is_null() {
            return Err(
                "You cannot migrate a subscription that is already attached to a schedule".into(),
            );
        }
        let item = &sub["items"]["data"][0];
        let id = next_id(st, "sub_sched");
        let schedule = json!({
            "id": id, "object": "subscription_schedule", "status": "active", "subscription": sub_id,
            "end_behavior": "release",
            "current_phase": { "start_date": item["current_period_start"], "end_date": item["current_period_end"] },
            "phases": [{ "start_date": item["current_period_start"], "end_date": item["current_period_end"],
                "items": [{ "price": item["price"]["id"], "quantity": 1 }] }],
        });
        st.subscriptions.get_mut(sub_id).unwrap()["schedule"] = json!(id);
        st.schedules.insert(id, schedule.clone());
        return Ok(schedule);
    };
    let mut schedule = st
        .schedules
        .get(id)
        .cloned()
        .ok_or("No such subscription schedule")?;
    if schedule["status"] != "active" {
        return Err(format!(
            "You cannot update a subscription schedule that is currently in the `{}` status.",
            schedule["status"].as_str().unwrap_or("")
        ));
    }
    if call.path.ends_with("/release") {
        schedule["status"] = json!("released");
        let sub = schedule["subscription"].as_str().unwrap().to_string();
        st.subscriptions.get_mut(&sub).unwrap()["schedule"] = Value::Null;
    } else if call.method == "POST" {
        schedule["phases"] = phases_of(call)?;
        schedule["end_behavior"] = json!(call.get("end_behavior").unwrap_or("release"));
    }
    st.schedules.insert(id.to_string(), schedule.clone());
    Ok(schedule)
}

/// `phases[i][...]` form fields back into phase objects; each phase needs
/// an end (`end_date` or `duration`) except with `end_behavior=release`'s last.
fn phases_of(call: &Call) -> Result<Value, String> {
    let mut phases: Vec<Value> = Vec::new();
    for i in 0.. {
        let p = |k: &str| call.get(&format!("phases[{i}]{k}"));
        let Some(price) = p("[items][0][price]") else {
            break;
        };
        let ends = p("[end_date]").is_some() || p("[duration][interval]").is_some();
        if !ends {
            return Err(format!("phases[{i}] needs end_date or duration"));
        }
        phases.push(json!({
            "start_date": p("[start_date]").map(|v| v.parse::<i64>().unwrap()),
            "end_date": p("[end_date]").map(|v| v.parse::<i64>().unwrap()),
            "items": [{ "price": price, "quantity": p("[items][0][quantity]").unwrap_or("1").parse::<i64>().unwrap() }],
        }));
    }
    if phases.is_empty() {
        return Err("phases expected".into());
    }
    // A phase without `start_date` starts when the one before it ends.
    let mut previous_end = Value::Null;
    for phase in &mut phases {
        if phase["start_date"].is_null() {
            phase["start_date"] = previous_end.clone();
        }
        previous_end = phase["end_date"].clone();
    }
    Ok(json!(phases))
}
