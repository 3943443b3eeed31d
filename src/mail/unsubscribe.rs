//! The unsubscribe part of every message mail (docs/product.md, "Data rights"): a footer with the
//! link to `/u/{token}` and the RFC 8058 one-click headers, added by the
//! delivery worker from the token stored with the outbox row.

/// The absolute link of an unsubscribe token.
pub fn link(public_url: &str, token: &str) -> String {
    super::link(public_url, &format!("/u/{token}"))
}

/// The plain-text body with the unsubscribe footer after it (the link on
/// a line of its own, so mail clients keep it whole).
pub fn with_footer(body: &str, link: &str) -> String {
    format!(
        "{}\n\n--\nTo stop receiving these emails, unsubscribe here:\n{link}\n",
        body.trim_end()
    )
}

/// `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 2369, RFC 8058):
/// mail providers show an unsubscribe button that POSTs to the link.
pub fn headers(link: &str) -> [(&'static str, String); 2] {
    [
        ("List-Unsubscribe", format!("<{link}>")),
        (
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_string(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_and_headers_carry_the_link() {
        let l = link("https://app.example.com/", "tok");
        assert_eq!(l, "https://app.example.com/u/tok");
        assert!(with_footer("Hi\n\n", &l)
            .ends_with("unsubscribe here:\nhttps://app.example.com/u/tok\n"));
        let [(name, value), (post, one_click)] = headers(&l);
        assert_eq!(
            (name, value.as_str()),
            ("List-Unsubscribe", "<https://app.example.com/u/tok>")
        );
        assert_eq!(post, "List-Unsubscribe-Post");
        assert_eq!(one_click, "List-Unsubscribe=One-Click");
    }
}
