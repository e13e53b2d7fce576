//! Percent-decoding of paths and query strings, done once, the same way for every source.

use crate::request::Fields;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use std::borrow::Cow;

/// Characters left as they are when a query string is rebuilt from decoded pairs
/// (the `application/x-www-form-urlencoded` unreserved set).
const QUERY_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'*');

/// Characters a path in routing form must have encoded to be a URI path again (RFC 3986
/// `pchar` and `/` are kept; `%` is handled apart, see [`uri_path`]).
const PATH_ENCODE: &AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A path in routing form ([`crate::Request::route_path`]) as a URI path: what a
/// `wasi:http` component reads as its request's path, encoded slashes still encoded.
pub(crate) fn uri_path(route_path: &str) -> String {
    let mut out = String::with_capacity(route_path.len());
    // A `%` that starts an escape (`%2F`, `%25`) stays; a stray one (`/bad%zz`, delivered as
    // sent) is encoded, so the result always parses as a URI.
    let mut pieces = route_path.split('%');
    out.extend(utf8_percent_encode(
        pieces.next().unwrap_or_default(),
        PATH_ENCODE,
    ));
    for piece in pieces {
        let escape = piece.len() >= 2 && piece.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit);
        out.push_str(if escape { "%" } else { "%25" });
        out.extend(utf8_percent_encode(piece, PATH_ENCODE));
    }
    out
}

/// Percent-decodes a path.
///
/// # Errors
///
/// A message naming the path when the decoded bytes are not UTF-8.
pub(crate) fn decode_path(raw: &str) -> Result<String, String> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| format!("path {raw:?} is not valid UTF-8 once percent-decoded"))
}

/// A request path two ways: decoded, as handlers see it, and in the form routing matches
/// (see [`crate::Request::route_path`]).
pub(crate) struct Paths {
    pub(crate) path: String,
    pub(crate) route_path: String,
}

impl Paths {
    /// From a path as the client sent it (REST, Function URL, ALB, VPC Lattice, `lamina
    /// serve`): decoded once, and for routing decoded except `%2F` and `%25`, so an encoded
    /// slash stays inside its segment (`/files/a%2Fb` matches `/files/{name}`).
    ///
    /// # Errors
    ///
    /// As [`decode_path`].
    pub(crate) fn from_encoded(raw: &str) -> Result<Self, String> {
        let path = decode_path(raw)?;
        let mut bytes = Vec::with_capacity(raw.len());
        let mut rest = raw.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            let escape = (first == b'%' && tail.len() >= 2)
                .then(|| std::str::from_utf8(&tail[..2]).ok())
                .flatten()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            match escape {
                Some(b'/') => {
                    bytes.extend_from_slice(b"%2F");
                    rest = &tail[2..];
                }
                Some(b'%') => {
                    bytes.extend_from_slice(b"%25");
                    rest = &tail[2..];
                }
                Some(byte) => {
                    bytes.push(byte);
                    rest = &tail[2..];
                }
                None => {
                    bytes.push(first);
                    rest = tail;
                }
            }
        }
        let route_path = String::from_utf8(bytes)
            .map_err(|_| format!("path {raw:?} is not valid UTF-8 once percent-decoded"))?;
        Ok(Self { path, route_path })
    }

    /// From a path the source already decoded (HTTP APIs): an encoded slash was decoded
    /// before Lamina saw it and cannot be told from a real one.
    pub(crate) fn from_decoded(path: String) -> Self {
        Self {
            route_path: route_form(&path),
            path,
        }
    }
}

/// A decoded path in routing form: `%` written `%25`, so decoding a matched parameter
/// gives back exactly what was there.
pub(crate) fn route_form(path: &str) -> String {
    if path.contains('%') {
        path.replace('%', "%25")
    } else {
        path.to_owned()
    }
}

/// A route parameter matched on a routing-form path, decoded (`a%2Fb` → `a/b`).
pub(crate) fn decode_param(value: &str) -> String {
    percent_decode_str(value).decode_utf8_lossy().into_owned()
}

/// Decodes one query component: `+` is a space, then percent-decoding. Bytes that are not
/// UTF-8 once decoded are replaced (U+FFFD) rather than failing the whole request.
fn decode_component(raw: &str) -> String {
    let spaced: Cow<'_, str> = if raw.contains('+') {
        Cow::Owned(raw.replace('+', " "))
    } else {
        Cow::Borrowed(raw)
    };
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Splits a raw query string (`a=1&b=%20x&a=2`) into decoded pairs, in order.
/// A parameter without `=` gets an empty value; empty segments are skipped.
pub(crate) fn parse_query(raw: &str) -> Fields {
    raw.split('&')
        .filter(|s| !s.is_empty())
        .map(|segment| {
            let (k, v) = segment.split_once('=').unwrap_or((segment, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

/// Rebuilds a query string from decoded pairs, for sources that deliver only those.
pub(crate) fn encode_query(pairs: &Fields) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.extend(utf8_percent_encode(k, QUERY_KEEP));
        out.push('=');
        out.extend(utf8_percent_encode(v, QUERY_KEEP));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_decoded_once_in_order() {
        let q = parse_query("a=1&b=hello+world&a=%32&c&&d=%2541&e=caf%C3%A9");
        let expected = [
            ("a", "1"),
            ("b", "hello world"),
            ("a", "2"),
            ("c", ""),
            ("d", "%41"),
            ("e", "café"),
        ];
        assert_eq!(q.len(), expected.len());
        for ((k, v), (ek, ev)) in q.iter().zip(expected) {
            assert_eq!((k.as_str(), v.as_str()), (ek, ev));
        }
    }

    #[test]
    fn encode_then_parse_round_trips() {
        let pairs: Fields = vec![("q".into(), "a b&c=d".into()), ("ü".into(), "100%".into())];
        assert_eq!(parse_query(&encode_query(&pairs)), pairs);
    }

    #[test]
    fn encoded_slashes_and_percents_stay_encoded_for_routing() {
        let cases = [
            (
                "/files/reports%2F2024.csv",
                "/files/reports/2024.csv",
                "/files/reports%2F2024.csv",
            ),
            ("/files/a%2fb", "/files/a/b", "/files/a%2Fb"),
            ("/hell%6F/caf%C3%A9", "/hello/café", "/hello/café"),
            ("/100%25/x", "/100%/x", "/100%25/x"),
            ("/bad%zz/%", "/bad%zz/%", "/bad%zz/%"),
        ];
        for (raw, path, route) in cases {
            let paths = Paths::from_encoded(raw).unwrap();
            assert_eq!(
                (paths.path.as_str(), paths.route_path.as_str()),
                (path, route),
                "{raw}"
            );
        }
        let decoded = Paths::from_decoded("/100%/a".to_owned());
        assert_eq!(decoded.route_path, "/100%25/a");
        assert_eq!(decode_param("reports%2F2024.csv"), "reports/2024.csv");
        assert_eq!(decode_param("100%25"), "100%");
    }

    #[test]
    fn routing_form_paths_become_uri_paths() {
        let cases = [
            ("/files/reports%2F2024.csv", "/files/reports%2F2024.csv"),
            ("/hello/café", "/hello/caf%C3%A9"),
            ("/a b/q?x#y", "/a%20b/q%3Fx%23y"),
            ("/100%25/x", "/100%25/x"),
            ("/bad%zz/%", "/bad%25zz/%25"),
            ("/users/{id}|x", "/users/%7Bid%7D%7Cx"),
        ];
        for (route, uri) in cases {
            assert_eq!(uri_path(route), uri, "{route}");
            assert!(uri.parse::<http::Uri>().is_ok(), "{uri}");
        }
        // What the decoders make, back to what the client sent (where the client encoded
        // only what it had to).
        for raw in ["/files/a%2Fb", "/caf%C3%A9/x%20y", "/100%25"] {
            let paths = Paths::from_encoded(raw).unwrap();
            assert_eq!(uri_path(&paths.route_path), raw);
        }
    }

    #[test]
    fn path_decoding_rejects_invalid_utf8() {
        assert_eq!(decode_path("/a%20b/%E2%9C%93").unwrap(), "/a b/✓");
        assert!(decode_path("/bad%FF").unwrap_err().contains("/bad%FF"));
    }
}
