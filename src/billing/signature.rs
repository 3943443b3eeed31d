//! Stripe webhook signatures: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`,
//! where each v1 is HMAC-SHA256 over `"<t>.<payload>"` with the endpoint
//! secret. Verified in constant time, any v1 may match, and the timestamp
//! must be within the tolerance of now (replays are refused).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Stripe's default tolerance.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing Stripe-Signature header")]
    Missing,
    #[error("malformed Stripe-Signature header")]
    Malformed,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("no matching signature")]
    Mismatch,
}

/// Checks `header` for `payload` at time `now` (unix seconds).
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => {
                signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let matches = signatures.iter().any(|sig| {
        let mac = mac_for(secret, timestamp, payload);
        mac.verify_slice(sig).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn mac_for(secret: &str, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// The header Stripe would send (used by tests and the local stub).
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let sig = mac_for(secret, timestamp, payload).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    #[test]
    fn a_valid_signature_passes() {
        assert_eq!(
            verify(Some(&sign(BODY, SECRET, 1000)), BODY, SECRET, 1010),
            Ok(())
        );
    }

    #[test]
    fn wrong_secret_tampered_body_and_stale_time_fail() {
        let header = sign(BODY, SECRET, 1000);
        assert_eq!(
            verify(Some(&header), BODY, "whsec_other", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), br#"{"id":"evt_2"}"#, SECRET, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), BODY, SECRET, 1000 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(Some(&header), BODY, SECRET, 1000 - 301),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn any_of_several_v1_values_may_match() {
        let good = sign(BODY, SECRET, 1000);
        let good_sig = good.split("v1=").nth(1).unwrap();
        let header = format!("t=1000,v1={},v0=abc,v1={good_sig}", "00".repeat(32));
        assert_eq!(verify(Some(&header), BODY, SECRET, 1000), Ok(()));
    }

    #[test]
    fn missing_and_malformed_headers_fail() {
        assert_eq!(
            verify(None, BODY, SECRET, 1000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("v1=00"), BODY, SECRET, 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("t=1000"), BODY, SECRET, 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("t=1000,v1=zz"), BODY, SECRET, 1000),
            Err(SignatureError::Malformed)
        );
    }
}
