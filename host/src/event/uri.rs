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
    fn path_decoding_rejects_invalid_utf8() {
        assert_eq!(decode_path("/a%20b/%E2%9C%93").unwrap(), "/a b/✓");
        assert!(decode_path("/bad%FF").unwrap_err().contains("/bad%FF"));
    }
}
