//! Template placeholders: `{{first_name}}` and friends. `parse` is the one
//! place that decides what a template may contain; an unknown or unclosed
//! placeholder is an error at save time, so rendering a saved template never fails.

use std::fmt;

/// The placeholders a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    FirstName,
    LastName,
    Company,
    Title,
    SenderName,
    Organization,
}

impl Placeholder {
    pub const ALL: [Placeholder; 6] = [
        Placeholder::FirstName,
        Placeholder::LastName,
        Placeholder::Company,
        Placeholder::Title,
        Placeholder::SenderName,
        Placeholder::Organization,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::FirstName => "first_name",
            Placeholder::LastName => "last_name",
            Placeholder::Company => "company",
            Placeholder::Title => "title",
            Placeholder::SenderName => "sender_name",
            Placeholder::Organization => "organization",
        }
    }

    fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Field(Placeholder),
}

/// Why a template cannot be saved. `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceholderError {
    Unknown { name: String, line: usize },
    Unclosed { line: usize },
}

impl fmt::Display for PlaceholderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlaceholderError::Unknown { name, line } => write!(
                f,
                "Unknown placeholder {{{{{name}}}}} on line {line}. Use one of: {}.",
                known_list()
            ),
            PlaceholderError::Unclosed { line } => write!(
                f,
                "A placeholder on line {line} is not closed: write it as {{{{first_name}}}}."
            ),
        }
    }
}

impl std::error::Error for PlaceholderError {}

/// "{{first_name}}, {{last_name}}, …" for help texts and messages.
pub fn known_list() -> String {
    Placeholder::ALL
        .iter()
        .map(|p| format!("{{{{{}}}}}", p.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn line_of(text: &str, byte_index: usize) -> usize {
    text[..byte_index].matches('\n').count() + 1
}

/// Splits `text` into literal text and placeholders. Spaces inside the
/// braces are allowed (`{{ company }}`); a lone `}}` is plain text.
pub fn parse(text: &str) -> Result<Vec<Segment<'_>>, PlaceholderError> {
    let mut segments = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find("{{").map(|i| rest + i) {
        if open > rest {
            segments.push(Segment::Text(&text[rest..open]));
        }
        let inner_start = open + 2;
        let close = text[inner_start..]
            .find("}}")
            .map(|i| inner_start + i)
            .ok_or(PlaceholderError::Unclosed {
                line: line_of(text, open),
            })?;
        let inner = &text[inner_start..close];
        let name = inner.trim();
        if inner.contains("{{") || inner.contains('\n') {
            return Err(PlaceholderError::Unclosed {
                line: line_of(text, open),
            });
        }
        let field = Placeholder::from_name(name).ok_or_else(|| PlaceholderError::Unknown {
            name: name.to_string(),
            line: line_of(text, open),
        })?;
        segments.push(Segment::Field(field));
        rest = close + 2;
    }
    if rest < text.len() {
        segments.push(Segment::Text(&text[rest..]));
    }
    Ok(segments)
}

/// The values placeholders are replaced with.
#[derive(Debug, Clone, Default)]
pub struct Values<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub company: &'a str,
    pub title: &'a str,
    pub sender_name: &'a str,
    pub organization: &'a str,
}

impl Values<'_> {
    fn get(&self, p: Placeholder) -> &str {
        match p {
            Placeholder::FirstName => self.first_name,
            Placeholder::LastName => self.last_name,
            Placeholder::Company => self.company,
            Placeholder::Title => self.title,
            Placeholder::SenderName => self.sender_name,
            Placeholder::Organization => self.organization,
        }
    }
}

/// Renders `text` with `values` (plain text; the caller escapes for HTML).
pub fn render(text: &str, values: &Values) -> Result<String, PlaceholderError> {
    let mut out = String::with_capacity(text.len() + 64);
    for segment in parse(text)? {
        match segment {
            Segment::Text(t) => out.push_str(t),
            Segment::Field(p) => out.push_str(values.get(p)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values<'static> {
        Values {
            first_name: "Anna",
            last_name: "Berger",
            company: "Northwind",
            title: "CTO",
            sender_name: "Behar",
            organization: "Behar's Organization",
        }
    }

    #[test]
    fn renders_every_placeholder() {
        let text = "Hi {{first_name}} {{ last_name }} of {{company}} ({{title}}) — {{sender_name}}, {{organization}}";
        assert_eq!(
            render(text, &values()).unwrap(),
            "Hi Anna Berger of Northwind (CTO) — Behar, Behar's Organization"
        );
    }

    #[test]
    fn plain_text_and_stray_braces_pass_through() {
        assert_eq!(render("no fields", &values()).unwrap(), "no fields");
        assert_eq!(render("a }} b { c }", &values()).unwrap(), "a }} b { c }");
        assert_eq!(render("", &values()).unwrap(), "");
    }

    #[test]
    fn unknown_placeholder_is_an_error_with_its_line() {
        let err = parse("Hello\n{{firstname}}").unwrap_err();
        assert_eq!(
            err,
            PlaceholderError::Unknown {
                name: "firstname".into(),
                line: 2
            }
        );
        assert!(err.to_string().contains("{{firstname}}"));
        assert!(err.to_string().contains("{{first_name}}"));
        assert!(parse("{{}}").is_err());
    }

    #[test]
    fn unclosed_placeholder_is_an_error() {
        assert_eq!(
            parse("Hi {{first_name").unwrap_err(),
            PlaceholderError::Unclosed { line: 1 }
        );
        assert_eq!(
            parse("a\nb {{first_name\n}}").unwrap_err(),
            PlaceholderError::Unclosed { line: 2 }
        );
        assert!(matches!(
            parse("{{ {{first_name}}"),
            Err(PlaceholderError::Unclosed { .. })
        ));
    }

    #[test]
    fn values_are_inserted_verbatim_for_the_caller_to_escape() {
        let v = Values {
            company: "<b>Acme</b>",
            ..values()
        };
        assert_eq!(render("{{company}}", &v).unwrap(), "<b>Acme</b>");
        // A value that looks like a placeholder is not expanded again.
        let v = Values {
            first_name: "{{company}}",
            ..values()
        };
        assert_eq!(render("{{first_name}}", &v).unwrap(), "{{company}}");
    }
}
