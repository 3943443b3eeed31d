//! Stripe's REST API, the calls the subscription lifecycle needs, as a thin
//! form-encoded client (see docs/billing.md for why not the typed crates).
//! Every parameter name is the one Stripe's API reference documents for the
//! call; the base URL is configurable so tests point it at a contract stub.
//! Requests pin `Stripe-Version`, so the shapes read back do not drift.

use secrecy::ExposeSecret;
use serde_json::Value;

use crate::config::Config;
use crate::domain::billing::Interval;
use crate::domain::plans::Plan;
use crate::ids::OrgId;

/// The API version every request is made with: schedule phases take
/// `duration`, periods live on subscription items.
pub const API_VERSION: &str = "2025-09-30.clover";

/// Credentials and base URL, present when Stripe is configured.
#[derive(Debug, Clone)]
pub struct StripeClient {
    base: String,
    secret_key: String,
    /// Stripe Tax is on (`STRIPE_TAX`): Stripe computes the VAT, so every
    /// Checkout and subscription change asks for `automatic_tax`.
    pub automatic_tax: bool,
}

/// A form body: Stripe's bracketed parameter names and their values.
pub type Form = Vec<(String, String)>;

/// What to sell in a Checkout Session.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub org: OrgId,
    pub plan: Plan,
    pub interval: Interval,
    /// The Stripe Price of `plan` billed every `interval`.
    pub price: String,
    pub customer: Option<String>,
    pub customer_email: String,
    /// During the local trial: its end (unix seconds), so nothing is charged before.
    pub trial_end: Option<i64>,
    pub success_url: String,
    pub cancel_url: String,
    /// Stripe Tax computes the VAT from the customer's address.
    pub automatic_tax: bool,
}

/// A Checkout Session as created: its id (to expire it when a newer one
/// replaces it) and the URL to send the owner to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

/// A subscription as far as changing it needs: its item and current price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSubscription {
    pub id: String,
    pub item: String,
    pub price: String,
    pub schedule: Option<String>,
    /// A cancellation at a date (`cancel_at`): how the customer portal
    /// cancels in flexible billing mode, with `cancel_at_period_end` false.
    pub cancel_at: Option<i64>,
}

/// The lookup key of the Price of `plan` billed every `interval`
/// ("lead_dashboard_starter_month"); webhooks read the plan back from it.
pub fn lookup_key(plan: Plan, interval: Interval) -> String {
    format!(
        "lead_dashboard_{}_{}",
        plan.as_str().to_lowercase(),
        interval.as_str()
    )
}

/// The plan and interval a lookup key names.
pub fn parse_lookup_key(key: &str) -> Option<(Plan, Interval)> {
    let rest = key.strip_prefix("lead_dashboard_")?;
    let (plan, interval) = rest.rsplit_once('_')?;
    let plan: Plan = plan.to_uppercase().parse().ok()?;
    let interval = Interval::ALL.into_iter().find(|i| i.as_str() == interval)?;
    Some((plan, interval))
}

fn pair(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

impl StripeClient {
    /// Stripe is used only when both the secret key and webhook secret are set.
    pub fn from_config(config: &Config) -> Option<StripeClient> {
        match (&config.stripe_secret_key, &config.stripe_webhook_secret) {
            (Some(key), Some(_)) => Some(StripeClient {
                base: config.stripe_api_base.trim_end_matches('/').to_string(),
                secret_key: key.expose_secret().to_owned(),
                automatic_tax: config.vat.stripe_tax,
            }),
            _ => None,
        }
    }

    /// The id of the Price for `plan` / `interval`, found by its lookup key
    /// (`GET /v1/prices`), or created once with that key (`POST /v1/prices`).
    pub fn price_id(&self, plan: Plan, interval: Interval) -> Result<String, String> {
        let key = lookup_key(plan, interval);
        let query = [("lookup_keys[]", key.as_str()), ("active", "true")];
        let found = self.get("/v1/prices", &query)?;
        if let Some(id) = found.pointer("/data/0/id").and_then(Value::as_str) {
            return Ok(id.to_string());
        }
        let form = vec![
            pair("currency", "eur"),
            pair("unit_amount", interval.price_cents(plan).to_string()),
            pair("recurring[interval]", interval.as_str()),
            pair(
                "product_data[name]",
                format!("Lead Dashboard {}", plan.name()),
            ),
            pair("lookup_key", key),
            // The pricing page promises prices excl. VAT: Stripe Tax adds
            // the VAT on top (an unspecified behaviour cannot be taxed).
            pair("tax_behavior", "exclusive"),
            pair("metadata[plan]", plan.as_str()),
            pair("metadata[interval]", interval.as_str()),
        ];
        id_of(&self.post("/v1/prices", &form)?)
    }

    /// Creates a Checkout Session.
    pub fn create_checkout_session(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, String> {
        let response = self.post("/v1/checkout/sessions", &checkout_form(req))?;
        Ok(CheckoutSession {
            id: id_of(&response)?,
            url: str_of(&response, "url")?,
        })
    }

    /// Expires an open Checkout Session, so it can no longer be paid. Stripe
    /// refuses when it is not open any more (completed or expired).
    pub fn expire_checkout_session(&self, session: &str) -> Result<Value, String> {
        self.post(&format!("/v1/checkout/sessions/{session}/expire"), &[])
    }

    /// Creates a customer-portal session (payment methods, billing details, invoices).
    pub fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, String> {
        let form = vec![pair("customer", customer), pair("return_url", return_url)];
        let response = self.post("/v1/billing_portal/sessions", &form)?;
        str_of(&response, "url")
    }

    /// The subscription's single item, its price and schedule (`GET /v1/subscriptions/{id}`).
    pub fn subscription(&self, id: &str) -> Result<LiveSubscription, String> {
        let sub = self.get(&format!("/v1/subscriptions/{id}"), &[])?;
        let item = sub.pointer("/items/data/0");
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        Ok(LiveSubscription {
            id: id.to_string(),
            item: text(item.and_then(|i| i.get("id"))).ok_or("subscription has no item")?,
            price: text(item.and_then(|i| i.pointer("/price/id")))
                .ok_or("subscription item has no price")?,
            schedule: text(sub.get("schedule")),
            cancel_at: sub.get("cancel_at").and_then(Value::as_i64),
        })
    }

    /// Moves the subscription's item to `price` now. `always_invoice` charges
    /// the prorated difference at once; `none` changes nothing owed (a trial).
    ///
    /// A charged change is sent with `payment_behavior=pending_if_incomplete`:
    /// Stripe's default applies an update whether or not its invoice is paid,
    /// so a declined card would get the higher plan. With a pending update the
    /// subscription stays as paid and the change waits in `pending_update`
    /// until the invoice is paid (or expires). Only the parameters Stripe
    /// supports for pending updates may be sent then, so `automatic_tax` is
    /// left out: the subscription keeps the setting Checkout gave it.
    pub fn change_price(
        &self,
        sub: &LiveSubscription,
        price: &str,
        proration_behavior: &str,
    ) -> Result<PriceChange, String> {
        let charged = proration_behavior == "always_invoice";
        let mut form = vec![
            pair("items[0][id]", sub.item.as_str()),
            pair("items[0][price]", price),
            pair("proration_behavior", proration_behavior),
        ];
        if charged {
            form.push(pair("payment_behavior", "pending_if_incomplete"));
        } else if self.automatic_tax {
            // Keeps the subscription's tax setting explicit on uncharged changes.
            form.push(pair("automatic_tax[enabled]", "true"));
        }
        let answer = self.post(&format!("/v1/subscriptions/{}", sub.id), &form)?;
        Ok(price_change_of(&answer))
    }

    /// Moves the subscription's item to `price` and makes sure of the
    /// outcome: after an answer that leaves it unknown (a 5xx Stripe did not
    /// mark retryable, a timeout) the subscription is read back; a price
    /// already moved (or waiting in `pending_update`) is the answer, else
    /// the change is sent again under a new key (the old key would only
    /// replay the saved failure).
    pub fn move_price(
        &self,
        sub: &LiveSubscription,
        price: &str,
        proration_behavior: &str,
    ) -> Result<PriceChange, String> {
        self.made_sure(
            &sub.id,
            || self.change_price(sub, price, proration_behavior),
            |now| price_moved(now, price),
        )
    }

    /// Asks Stripe to end the subscription at its period end, reading it
    /// back after an unknown outcome (`move_price`).
    pub fn request_cancellation(&self, sub: &str) -> Result<(), String> {
        self.made_sure(
            sub,
            || self.set_cancel_at_period_end(sub, true).map(drop),
            |now| (now.get("cancel_at_period_end") == Some(&Value::Bool(true))).then_some(()),
        )
    }

    /// Withdraws the pending cancellation of `sub` however it was set
    /// (read first), reading it back after an unknown outcome (`move_price`).
    pub fn withdraw_cancellation_of(&self, sub: &str) -> Result<(), String> {
        let live = self.subscription(sub)?;
        self.made_sure(
            sub,
            || self.withdraw_cancellation(&live).map(drop),
            |now| {
                let dated = now.get("cancel_at").is_some_and(|v| !v.is_null());
                let at_end = now.get("cancel_at_period_end") == Some(&Value::Bool(true));
                (!dated && !at_end).then_some(())
            },
        )
    }

    /// Makes `change` and, when its outcome is unknown, reads the
    /// subscription back: `applied` finds the change there (its result), or
    /// the change is made once more under a new idempotency key. Nobody is
    /// told "nothing changed" before this check.
    fn made_sure<T>(
        &self,
        sub: &str,
        change: impl Fn() -> Result<T, String>,
        applied: impl Fn(&Value) -> Option<T>,
    ) -> Result<T, String> {
        let error = match change() {
            Err(error) if error.starts_with(UNKNOWN_OUTCOME) => error,
            done => return done,
        };
        let Ok(now) = self.get(&format!("/v1/subscriptions/{sub}"), &[]) else {
            return Err(error);
        };
        match applied(&now) {
            Some(done) => Ok(done),
            None => change(),
        }
    }

    /// Sets or withdraws the cancellation at the end of the current period.
    pub fn set_cancel_at_period_end(&self, sub: &str, cancel: bool) -> Result<Value, String> {
        let form = vec![pair("cancel_at_period_end", cancel.to_string())];
        self.post(&format!("/v1/subscriptions/{sub}"), &form)
    }

    /// Withdraws a pending cancellation, whichever way it was set: an empty
    /// `cancel_at` unsets a dated one (the portal's), else
    /// `cancel_at_period_end=false`.
    pub fn withdraw_cancellation(&self, sub: &LiveSubscription) -> Result<Value, String> {
        let form = match sub.cancel_at {
            Some(_) => vec![pair("cancel_at", "")],
            None => vec![pair("cancel_at_period_end", "false")],
        };
        self.post(&format!("/v1/subscriptions/{}", sub.id), &form)
    }

    /// Ends the subscription now (`DELETE /v1/subscriptions/{id}`): the grace
    /// period is over and Stripe must stop retrying.
    pub fn cancel_now(&self, sub: &str) -> Result<Value, String> {
        self.send("DELETE", &format!("/v1/subscriptions/{sub}"), &[], &[])
    }

    /// Ends the subscription now and makes sure it ended: when the DELETE
    /// fails (refused, unreachable, an unknown outcome) the subscription is
    /// read back, and one already `canceled` (or `incomplete_expired`)
    /// counts as done. A DELETE needs no idempotency key: Stripe treats
    /// DELETE as idempotent by definition.
    pub fn end_for_good(&self, sub: &str) -> Result<(), String> {
        let Err(error) = self.cancel_now(sub) else {
            return Ok(());
        };
        let current = self.get(&format!("/v1/subscriptions/{sub}"), &[])?;
        match current.get("status").and_then(Value::as_str) {
            Some("canceled" | "incomplete_expired") => Ok(()),
            _ => Err(error),
        }
    }

    /// Ends a subscription that must not exist (a second one for the same
    /// organization) at once, crediting its unused time: `prorate` credits
    /// the rest of the period and `invoice_now` settles that credit on a
    /// final invoice now. False when it had already ended (nothing to do).
    pub fn cancel_second(&self, sub: &str) -> Result<bool, String> {
        let current = self.get(&format!("/v1/subscriptions/{sub}"), &[])?;
        let status = current.get("status").and_then(Value::as_str);
        if matches!(status, Some("canceled" | "incomplete_expired")) {
            return Ok(false);
        }
        // Stripe's libraries send a DELETE's parameters in the query string.
        let query = [("prorate", "true"), ("invoice_now", "true")];
        self.send("DELETE", &format!("/v1/subscriptions/{sub}"), &query, &[])?;
        Ok(true)
    }

    /// Makes the customer's EU VAT ids at Stripe exactly `vat_id` (none
    /// when empty), so Stripe Tax can apply the reverse charge:
    /// `GET /v1/customers/{id}/tax_ids`, then `DELETE …/tax_ids/{tax_id}`
    /// for every `eu_vat` of another value and `POST …/tax_ids` with
    /// `type=eu_vat` and `value` when it is missing. Made again after any
    /// failure, it starts from what Stripe has, so a create whose answer was
    /// lost is found rather than made twice.
    pub fn sync_tax_id(&self, customer: &str, vat_id: &str) -> Result<(), String> {
        let path = format!("/v1/customers/{customer}/tax_ids");
        let listed = self.get(&path, &[("limit", "100")])?;
        let eu_vat_ids = listed
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|t| t.get("type").and_then(Value::as_str) == Some("eu_vat"));
        let mut present = false;
        for tax_id in eu_vat_ids {
            if !vat_id.is_empty() && tax_id.get("value").and_then(Value::as_str) == Some(vat_id) {
                present = true;
                continue;
            }
            let id = id_of(tax_id)?;
            self.send("DELETE", &format!("{path}/{id}"), &[], &[])?;
        }
        if !present && !vat_id.is_empty() {
            self.post(&path, &[pair("type", "eu_vat"), pair("value", vat_id)])?;
        }
        Ok(())
    }

    /// Schedules `sub` to move to `price` at the end of its current period:
    /// a schedule from the subscription, then its phases set to "this period
    /// on the current price, then one period of `price`", released afterwards.
    /// Returns the schedule id.
    pub fn schedule_price_change(
        &self,
        sub: &LiveSubscription,
        price: &str,
        interval: Interval,
    ) -> Result<String, String> {
        let schedule = match &sub.schedule {
            Some(id) => self.get(&format!("/v1/subscription_schedules/{id}"), &[])?,
            None => self.post(
                "/v1/subscription_schedules",
                &[pair("from_subscription", sub.id.as_str())],
            )?,
        };
        let id = id_of(&schedule)?;
        // The phase running now (`current_phase`): a schedule kept from an
        // earlier change starts with phases that have already ended.
        let phase = |key: &str| {
            schedule
                .pointer(&format!("/current_phase/{key}"))
                .or_else(|| schedule.pointer(&format!("/phases/0/{key}")))
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("schedule phase has no {key}"))
        };
        let mut form = vec![
            pair("end_behavior", "release"),
            pair("proration_behavior", "none"),
            pair("phases[0][items][0][price]", sub.price.as_str()),
            pair("phases[0][items][0][quantity]", "1"),
            pair("phases[0][start_date]", phase("start_date")?.to_string()),
            pair("phases[0][end_date]", phase("end_date")?.to_string()),
            pair("phases[1][items][0][price]", price),
            pair("phases[1][items][0][quantity]", "1"),
            pair("phases[1][duration][interval]", interval.as_str()),
            pair("phases[1][duration][interval_count]", "1"),
        ];
        if self.automatic_tax {
            // Phases set here replace the subscription's settings: keep the tax.
            form.push(pair("phases[0][automatic_tax][enabled]", "true"));
            form.push(pair("phases[1][automatic_tax][enabled]", "true"));
        }
        self.post(&format!("/v1/subscription_schedules/{id}"), &form)?;
        Ok(id)
    }

    /// Drops a scheduled change: the subscription stays as it is.
    pub fn release_schedule(&self, schedule: &str) -> Result<Value, String> {
        self.post(
            &format!("/v1/subscription_schedules/{schedule}/release"),
            &[],
        )
    }

    fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, String> {
        self.send("GET", path, query, &[])
    }

    fn post(&self, path: &str, form: &[(String, String)]) -> Result<Value, String> {
        self.send("POST", path, &[], form)
    }

    /// One API call. A POST carries an `Idempotency-Key`, the same on every
    /// retry, so Stripe applies it at most once and answers a repeat with the
    /// first answer. Retried with backoff: network errors and timeouts (the
    /// same key makes a request that did arrive harmless), 429 (rate limit)
    /// and answers Stripe marks `Stripe-Should-Retry: true`. Any other 5xx is
    /// not retried with the same key (Stripe would replay it); its outcome is
    /// reported as unknown, never as "nothing changed".
    fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        form: &[(String, String)],
    ) -> Result<Value, String> {
        let key = (method == "POST").then(|| uuid::Uuid::new_v4().to_string());
        let mut attempt = 0;
        loop {
            match self.send_once(method, path, query, form, key.as_deref()) {
                Attempt::Answer(result) => return result,
                Attempt::Retry(error) if attempt < MAX_RETRIES => {
                    tracing::info!(%error, attempt, "Stripe call retried");
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                Attempt::Retry(error) => return Err(format!("{UNKNOWN_OUTCOME}: {error}")),
            }
        }
    }

    fn send_once(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        form: &[(String, String)],
        idempotency_key: Option<&str>,
    ) -> Attempt {
        let mut request = ureq::request(method, &format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.secret_key))
            .set("Stripe-Version", API_VERSION)
            .timeout(std::time::Duration::from_secs(15));
        if let Some(key) = idempotency_key {
            request = request.set("Idempotency-Key", key);
        }
        for (k, v) in query {
            request = request.query(k, v);
        }
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let result = if method == "POST" {
            request.send_form(&pairs)
        } else {
            request.call()
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => return failed(path, code, r),
            Err(e) => return Attempt::Retry(format!("Stripe could not be reached ({path}): {e}")),
        };
        let body = match response.into_string() {
            Ok(body) => body,
            Err(e) => return Attempt::Retry(format!("Stripe answer unreadable ({path}): {e}")),
        };
        Attempt::Answer(
            serde_json::from_str(&body)
                .map_err(|e| format!("Stripe answered with invalid JSON: {e}")),
        )
    }
}

/// How often a retryable failure is tried again (Stripe's own libraries
/// default to a few network retries with exponential backoff).
const MAX_RETRIES: u32 = 3;

/// The start of every error whose outcome at Stripe is not known (a 5xx
/// Stripe did not mark retryable, or retries exhausted): the change may
/// have been made, so nobody may be told "nothing changed".
pub const UNKNOWN_OUTCOME: &str = "Stripe did not confirm the outcome";

/// 0.5 s, 1 s, 2 s: the backoff before retry `attempt` (from 0).
fn backoff(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_millis(500 << attempt)
}

/// One try of a call: Stripe's answer (or refusal), or a failure to retry.
enum Attempt {
    Answer(Result<Value, String>),
    Retry(String),
}

/// A non-2xx answer: 429 and `Stripe-Should-Retry: true` are retried; a
/// 4xx is a refusal with Stripe's message; any other 5xx has an unknown outcome.
fn failed(path: &str, code: u16, response: ureq::Response) -> Attempt {
    let should_retry = response.header("Stripe-Should-Retry").map(str::to_string);
    let message = stripe_error(path, code, response);
    match (code, should_retry.as_deref()) {
        (_, Some("false")) => Attempt::Answer(Err(message)),
        (429, _) | (_, Some("true")) => Attempt::Retry(message),
        (500.., _) => Attempt::Answer(Err(format!("{UNKNOWN_OUTCOME}: {message}"))),
        _ => Attempt::Answer(Err(message)),
    }
}

/// What Stripe did with a price change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceChange {
    /// The item moved to the new price (its invoice, if any, was paid).
    Applied,
    /// The invoice was not paid: the change waits in `pending_update` and the
    /// subscription stays on the price already paid for. `invoice` is the
    /// unpaid invoice (`latest_invoice`) when Stripe names it.
    PaymentPending { invoice: Option<String> },
}

/// Reads a subscription update's answer: a non-null `pending_update` means
/// the payment did not go through and nothing changed yet.
pub fn price_change_of(subscription: &Value) -> PriceChange {
    match subscription.get("pending_update") {
        Some(pending) if !pending.is_null() => PriceChange::PaymentPending {
            invoice: subscription
                .get("latest_invoice")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        _ => PriceChange::Applied,
    }
}

/// The subscription as read back already carries `price`: moved (its item
/// is on it) or waiting for its payment (`pending_update`).
fn price_moved(subscription: &Value, price: &str) -> Option<PriceChange> {
    let on_item = subscription
        .pointer("/items/data/0/price/id")
        .and_then(Value::as_str);
    if on_item == Some(price) {
        return Some(PriceChange::Applied);
    }
    let pending = subscription
        .pointer("/pending_update/subscription_items/0/price")
        .map(|p| p.get("id").unwrap_or(p))
        .and_then(Value::as_str);
    (pending == Some(price)).then(|| price_change_of(subscription))
}

/// Stripe's own message for a refused request (`error.message`).
fn stripe_error(path: &str, code: u16, response: ureq::Response) -> String {
    let body: Value = response
        .into_string()
        .ok()
        .and_then(|b| serde_json::from_str(&b).ok())
        .unwrap_or(Value::Null);
    let message = body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    format!("Stripe refused {path} ({code}): {message}")
}

fn str_of(response: &Value, key: &str) -> Result<String, String> {
    response
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("Stripe's answer has no {key}"))
}

fn id_of(response: &Value) -> Result<String, String> {
    str_of(response, "id")
}

/// The exact form body of a Checkout Session request.
pub fn checkout_form(req: &CheckoutRequest) -> Form {
    let org = req.org.to_string();
    let mut form = vec![
        pair("mode", "subscription"),
        pair("client_reference_id", org.as_str()),
        pair("success_url", req.success_url.as_str()),
        pair("cancel_url", req.cancel_url.as_str()),
        pair("line_items[0][price]", req.price.as_str()),
        pair("line_items[0][quantity]", "1"),
        pair("metadata[organization_id]", org.as_str()),
        pair("metadata[plan]", req.plan.as_str()),
        pair("metadata[interval]", req.interval.as_str()),
        pair("subscription_data[metadata][organization_id]", org.as_str()),
    ];
    if let Some(end) = req.trial_end {
        form.push(pair("subscription_data[trial_end]", end.to_string()));
    }
    match &req.customer {
        Some(customer) => form.push(pair("customer", customer.as_str())),
        None => form.push(pair("customer_email", req.customer_email.as_str())),
    }
    if req.automatic_tax {
        form.push(pair("automatic_tax[enabled]", "true"));
        // A business customer enters its VAT id at Checkout, so Stripe Tax
        // can apply the reverse charge.
        form.push(pair("tax_id_collection[enabled]", "true"));
        // Stripe computes the tax from the address Checkout collects; an
        // existing customer must let Checkout save it, and the business
        // name that comes with a tax id (`customer_update` is only allowed
        // together with `customer`).
        if req.customer.is_some() {
            form.push(pair("customer_update[address]", "auto"));
            form.push(pair("customer_update[name]", "auto"));
        }
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_keys_round_trip() {
        for plan in [Plan::Starter, Plan::Professional, Plan::Enterprise] {
            for interval in Interval::ALL {
                let key = lookup_key(plan, interval);
                assert_eq!(parse_lookup_key(&key), Some((plan, interval)), "{key}");
            }
        }
        assert_eq!(
            lookup_key(Plan::Starter, Interval::Yearly),
            "lead_dashboard_starter_year"
        );
        assert_eq!(parse_lookup_key("other_starter_month"), None);
        assert_eq!(parse_lookup_key("lead_dashboard_gold_month"), None);
    }
}
