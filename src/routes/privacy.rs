//! The privacy page: `docs/privacy.md` (what personal data is kept, why,
//! for how long, and what people can do), rendered once into HTML and shown
//! to anyone, signed in or not. Every page's footer links to it, so the
//! page and the document can never say different things.

use std::sync::LazyLock;

use actix_web::{HttpRequest, HttpResponse};
use pulldown_cmark::{html, Options, Parser};

use crate::error::AppResult;
use crate::routes::html_response;

route_table! {
    GET "/privacy" => privacy,
}

/// The document, as HTML (it is the project's own file, not user input).
static PRIVACY_HTML: LazyLock<String> =
    LazyLock::new(|| to_html(include_str!("../../docs/privacy.md")));

fn to_html(markdown: &str) -> String {
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(markdown, Options::ENABLE_TABLES));
    out
}

async fn privacy(req: HttpRequest) -> AppResult<HttpResponse> {
    Ok(html_response(
        &req,
        crate::views::privacy::page(&PRIVACY_HTML),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_renders_with_its_tables() {
        let html = super::to_html("# T\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h1>T</h1>"));
        assert!(html.contains("<table>") && html.contains("<td>2</td>"));
    }
}
