//! Stripe's REST API, the two calls the app needs: a Checkout Session for an
//! upgrade and a customer-portal session for payment methods. Requests are
//! form-encoded as Stripe documents; the base URL is configurable so tests
//! point it at a local stub that records what was sent.

use secrecy::ExposeSecret;
use serde_json::Value;

use crate::config::Config;
use crate::domain::plans::Plan;
use crate::ids::OrgId;

/// Credentials and base URL, present when Stripe is configured.
#[derive(Debug, Clone)]
pub struct StripeClient {
    base: String,
    secret_key: String,
}

/// What to sell in a Checkout Session.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub org: OrgId,
    pub plan: Plan,
    /// "month" or "year".
    pub interval: String,
    pub customer: Option<String>,
    pub customer_email: String,
    pub success_url: String,
    pub cancel_url: String,
}

impl StripeClient {
    /// Stripe is used only when both the secret key and webhook secret are set.
    pub fn from_config(config: &Config) -> Option<StripeClient> {
        match (&config.stripe_secret_key, &config.stripe_webhook_secret) {
            (Some(key), Some(_)) => Some(StripeClient {
                base: config.stripe_api_base.trim_end_matches('/').to_string(),
                secret_key: key.expose_secret().to_owned(),
            }),
            _ => None,
        }
    }

    /// Creates a Checkout Session and returns the URL to send the owner to.
    pub fn create_checkout_session(&self, req: &CheckoutRequest) -> Result<String, String> {
        let response = self.post("/v1/checkout/sessions", &checkout_form(req))?;
        url_of(&response)
    }

    /// Creates a customer-portal session (payment methods, invoices).
    pub fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, String> {
        let form = vec![
            ("customer".to_string(), customer.to_string()),
            ("return_url".to_string(), return_url.to_string()),
        ];
        let response = self.post("/v1/billing_portal/sessions", &form)?;
        url_of(&response)
    }

    fn post(&self, path: &str, form: &[(String, String)]) -> Result<Value, String> {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let response = ureq::post(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.secret_key))
            .timeout(std::time::Duration::from_secs(15))
            .send_form(&pairs)
            .map_err(|e| format!("Stripe request to {path} failed: {e}"))?;
        let body = response
            .into_string()
            .map_err(|e| format!("Stripe answer unreadable: {e}"))?;
        serde_json::from_str(&body).map_err(|e| format!("Stripe answered with invalid JSON: {e}"))
    }
}

fn url_of(response: &Value) -> Result<String, String> {
    response
        .get("url")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "Stripe's answer has no url".to_string())
}

/// The exact form body of a Checkout Session request.
pub fn checkout_form(req: &CheckoutRequest) -> Vec<(String, String)> {
    let spec = req.plan.spec();
    let amount = if req.interval == "year" {
        spec.yearly_cents
    } else {
        spec.monthly_cents
    };
    let org = req.org.to_string();
    let mut form: Vec<(&str, String)> = vec![
        ("mode", "subscription".into()),
        ("client_reference_id", org.clone()),
        ("success_url", req.success_url.clone()),
        ("cancel_url", req.cancel_url.clone()),
        ("line_items[0][quantity]", "1".into()),
        ("line_items[0][price_data][currency]", "eur".into()),
        ("line_items[0][price_data][unit_amount]", amount.to_string()),
        (
            "line_items[0][price_data][recurring][interval]",
            req.interval.clone(),
        ),
        (
            "line_items[0][price_data][product_data][name]",
            format!("Lead Dashboard {}", req.plan.name()),
        ),
        ("metadata[organization_id]", org.clone()),
        ("metadata[plan]", req.plan.as_str().into()),
        ("metadata[interval]", req.interval.clone()),
        ("subscription_data[metadata][organization_id]", org),
        (
            "subscription_data[metadata][plan]",
            req.plan.as_str().into(),
        ),
        (
            "subscription_data[metadata][interval]",
            req.interval.clone(),
        ),
    ];
    match &req.customer {
        Some(customer) => form.push(("customer", customer.clone())),
        None => form.push(("customer_email", req.customer_email.clone())),
    }
    form.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
