//! `strip-prefixes`: path prefixes removed before routing (a custom domain's base path
//! mapping, an API version), written literally or as a regular expression, always matched
//! at segment boundaries.
//!
//! ```toml
//! strip-prefixes = ["/api", { regex = "/v[0-9]+" }]   # /api/todos → /todos, /v2/todos → /todos
//! ```
//!
//! The first that matches wins. Matching runs on the routing form of the path
//! ([`crate::Request::route_path`]), so an encoded slash never counts as a boundary.

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// One entry of `strip-prefixes`, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum PrefixConfig {
    /// A literal prefix such as `"/api"`: whole segments, no trailing slash.
    Literal(String),
    /// `{ regex = "/v[0-9]+" }`: a pattern matched at the start of the path; the match must
    /// end at a segment boundary.
    Pattern(PatternConfig),
}

/// The table form of a prefix.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    /// The regular expression (Rust `regex` syntax), anchored at the start of the path.
    pub regex: String,
}

/// A prefix compiled at load.
#[derive(Clone, Debug)]
pub(crate) enum Prefix {
    Literal(String),
    /// `^(PATTERN)(?:/|$)`: group 1 is the prefix.
    Pattern(regex::Regex),
}

impl Prefix {
    /// Compiles `strip-prefixes[index]`.
    ///
    /// # Errors
    ///
    /// A literal that does not start with `/` or ends with one, or a pattern that is not a
    /// valid regular expression, naming the setting.
    pub(crate) fn compile(config: &PrefixConfig, index: usize) -> anyhow::Result<Self> {
        match config {
            PrefixConfig::Literal(prefix) => {
                if !prefix.starts_with('/') || prefix.ends_with('/') {
                    bail!(
                        "strip-prefixes[{index}]: {prefix:?} must start with '/' and not end with one (e.g. \"/api\")"
                    );
                }
                Ok(Self::Literal(prefix.clone()))
            }
            PrefixConfig::Pattern(PatternConfig { regex }) => {
                let compiled = regex::Regex::new(&format!("^({regex})(?:/|$)"))
                    .with_context(|| format!("strip-prefixes[{index}].regex: {regex:?} is not a valid regular expression"))?;
                Ok(Self::Pattern(compiled))
            }
        }
    }

    /// The length in bytes of the prefix this removes from `route_path`, when it matches
    /// whole segments (`/api` matches `/api` and `/api/x`, not `/apix`).
    pub(crate) fn matched_len(&self, route_path: &str) -> Option<usize> {
        match self {
            Self::Literal(prefix) => match route_path.strip_prefix(prefix.as_str())? {
                "" => Some(prefix.len()),
                rest if rest.starts_with('/') => Some(prefix.len()),
                _ => None,
            },
            Self::Pattern(regex) => regex
                .captures(route_path)
                .and_then(|c| c.get(1))
                .map(|m| m.end())
                .filter(|&end| end > 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> anyhow::Result<Prefix> {
        let config: PrefixConfig = toml::from_str::<toml::Table>(&format!("p = {text}"))
            .map(|t| t["p"].clone().try_into().unwrap())?;
        Prefix::compile(&config, 0)
    }

    #[test]
    fn prefixes_match_whole_segments_literal_or_pattern() {
        let cases: &[(&str, &str, Option<usize>)] = &[
            ("\"/api\"", "/api/todos", Some(4)),
            ("\"/api\"", "/api", Some(4)),
            ("\"/api\"", "/apix/todos", None),
            ("{ regex = \"/v[0-9]+\" }", "/v2/todos", Some(3)),
            ("{ regex = \"/v[0-9]+\" }", "/v12", Some(4)),
            ("{ regex = \"/v[0-9]+\" }", "/v12x/todos", None),
            ("{ regex = \"/v[0-9]+\" }", "/todos/v1", None),
            (
                "{ regex = \"/(api|svc)/v[0-9]+\" }",
                "/svc/v3/a%2Fb",
                Some(7),
            ),
            ("{ regex = \"/[^/]+\" }", "/a%2Fb/c", Some(6)),
        ];
        for (prefix, path, expected) in cases {
            assert_eq!(
                compile(prefix).unwrap().matched_len(path),
                *expected,
                "{prefix} on {path}"
            );
        }
    }

    #[test]
    fn bad_prefixes_name_the_setting() {
        let error = format!("{:#}", compile("{ regex = \"/v[0-9\" }").unwrap_err());
        assert!(
            error.contains("strip-prefixes[0].regex: \"/v[0-9\" is not a valid regular expression"),
            "{error}"
        );
        let error = format!("{:#}", compile("\"api\"").unwrap_err());
        assert!(
            error.contains("strip-prefixes[0]: \"api\" must start with '/'"),
            "{error}"
        );
    }
}
