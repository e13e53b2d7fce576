//! Config errors that never show a secret.
//!
//! A TOML error normally quotes the offending source line, and serde's messages quote
//! offending values: with `secrets = { api-key = "…" }` on that line, `lamina check` — or a
//! rejected hot-swap reload, straight into CloudWatch — would print the secret. Here the
//! error is rebuilt from its message and position: the source line is quoted only when it is
//! not part of a `secrets` table, and every value written under `secrets` is replaced by
//! `<redacted>` wherever it appears. The values are found by reading the text line by line,
//! so this works when the file does not parse at all.

/// What is shown instead of a secret value.
pub(crate) const REDACTED: &str = "<redacted>";

/// Values shorter than this are not searched for (replacing every `a` in a message would
/// garble it, and a one- or two-character secret protects nothing).
const MIN_SECRET: usize = 3;

/// The lines of `text` (0-based) that hold secrets, and every value written on them.
struct Secrets {
    lines: Vec<bool>,
    values: Vec<String>,
}

/// Whether a key path (`secrets`, `components.a.secrets`, `secrets.api-key`) is or is under
/// a `secrets` table.
fn names_secrets(key: &str) -> bool {
    key.split('.')
        .any(|part| part.trim().trim_matches(|c| c == '"' || c == '\'') == "secrets")
}

fn find_secrets(text: &str) -> Secrets {
    let mut lines = Vec::new();
    let mut values = Vec::new();
    let mut in_table = false;
    // Open braces of a `secrets = { ... }` inline table that spans lines (TOML 1.1).
    let mut open = 0usize;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let secret = if open > 0 {
            true
        } else if trimmed.starts_with('[') {
            in_table = names_secrets(trimmed.trim_matches(|c| c == '[' || c == ']' || c == ' '));
            false
        } else {
            in_table
                || trimmed
                    .split_once('=')
                    .is_some_and(|(key, _)| names_secrets(key))
        };
        if secret {
            if open > 0 || trimmed.contains('{') {
                open = (open + line.matches('{').count()).saturating_sub(line.matches('}').count());
            }
            collect_values(line, &mut values);
        }
        lines.push(secret);
    }
    values.retain(|v| v.len() >= MIN_SECRET);
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    Secrets { lines, values }
}

/// Every value on a secrets line: the contents of each quoted string, and each bare token
/// after an `=` (a number, a value missing its quotes).
fn collect_values(line: &str, out: &mut Vec<String>) {
    let mut rest = line;
    while let Some(start) = rest.find(['"', '\'']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let after = &rest[start + 1..];
        let end = after.find(quote).unwrap_or(after.len());
        out.push(after[..end].to_owned());
        rest = after.get(end + 1..).unwrap_or_default();
    }
    for (i, part) in line.split('=').enumerate() {
        if i == 0 {
            continue;
        }
        let token = part
            .split([',', '}', '#'])
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches(|c| c == '"' || c == '\'' || c == '{');
        if !token.is_empty() {
            out.push(token.to_owned());
        }
    }
}

/// `message` with every secret value of `text` replaced by [`REDACTED`].
pub(crate) fn scrub(text: &str, message: &str) -> String {
    let mut out = message.to_owned();
    for value in find_secrets(text).values {
        out = out.replace(&value, REDACTED);
    }
    out
}

/// A TOML error in `text`, with its line, column and message, quoting the line only if it
/// holds no secret, and with every secret value redacted.
pub(crate) fn toml_error(text: &str, error: &toml::de::Error) -> anyhow::Error {
    let secrets = find_secrets(text);
    let mut message = match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count();
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            let mut message = format!(
                "TOML parse error at line {}, column {column}: {}",
                line + 1,
                error.message().trim_end()
            );
            if secrets.lines.get(line) == Some(&false)
                && let Some(source) = text.lines().nth(line)
            {
                message.push_str(&format!("\n  {} | {source}", line + 1));
            }
            message
        }
        None => format!("TOML parse error: {}", error.message().trim_end()),
    };
    for value in &secrets.values {
        message = message.replace(value.as_str(), REDACTED);
    }
    anyhow::Error::msg(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_lines_and_values_are_found_without_parsing() {
        let text = "[components.a]\nsource = \"a.wasm\"\nsecrets = { api-key = \"k-123\", n = 98765 }\n\
                    [components.b.secrets]\ntoken = \"t-456\"\nbare = unquoted-789\n[components.c]\n\
                    secrets.dotted = \"d-000\"\nconfig = { x = \"visible\" }\n";
        let found = find_secrets(text);
        for value in ["k-123", "98765", "t-456", "unquoted-789", "d-000"] {
            assert!(
                found.values.contains(&value.to_owned()),
                "{value}: {:?}",
                found.values
            );
        }
        assert!(!found.values.iter().any(|v| v == "visible" || v == "a.wasm"));
        assert_eq!(
            found.lines,
            [false, false, true, false, true, true, false, true, false]
        );
    }
}
