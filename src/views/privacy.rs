//! The privacy page around the rendered `docs/privacy.md`.

use maud::{html, Markup, PreEscaped};

use crate::views::layout::public_page;

pub fn page(document_html: &str) -> Markup {
    public_page(
        "Privacy",
        None,
        html! { article.card.prose { (PreEscaped(document_html)) } },
    )
}
