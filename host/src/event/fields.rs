//! JSON shapes shared by several event sources: objects of strings and of string lists,
//! read in document order (a `HashMap` would lose the order headers arrived in).

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// A JSON object of `name: "value"`, kept in document order. `null` values are skipped.
#[derive(Debug, Default)]
pub(crate) struct Pairs(pub(crate) Vec<(String, String)>);

/// A JSON object of `name: ["value", ...]`, kept in document order. `null` lists and
/// `null` entries are skipped.
#[derive(Debug, Default)]
pub(crate) struct MultiPairs(pub(crate) Vec<(String, Vec<String>)>);

/// A JSON object whose values are a string or a list of strings (VPC Lattice v2 sends
/// either, depending on the sample), flattened in document order.
#[derive(Debug, Default)]
pub(crate) struct FlexPairs(pub(crate) Vec<(String, String)>);

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<Option<String>>),
}

struct FlexPairsVisitor;

impl<'de> Visitor<'de> for FlexPairsVisitor {
    type Value = FlexPairs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of strings or string lists")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FlexPairs, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((k, v)) = map.next_entry::<String, Option<OneOrMany>>()? {
            match v {
                Some(OneOrMany::One(v)) => out.push((k, v)),
                Some(OneOrMany::Many(vs)) => {
                    out.extend(vs.into_iter().flatten().map(|v| (k.clone(), v)));
                }
                None => {}
            }
        }
        Ok(FlexPairs(out))
    }
}

impl<'de> Deserialize<'de> for FlexPairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FlexPairsVisitor)
    }
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Pairs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((k, v)) = map.next_entry::<String, Option<String>>()? {
            if let Some(v) = v {
                out.push((k, v));
            }
        }
        Ok(Pairs(out))
    }
}

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PairsVisitor)
    }
}

struct MultiPairsVisitor;

impl<'de> Visitor<'de> for MultiPairsVisitor {
    type Value = MultiPairs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string lists")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MultiPairs, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((k, v)) = map.next_entry::<String, Option<Vec<Option<String>>>>()? {
            if let Some(v) = v {
                out.push((k, v.into_iter().flatten().collect()));
            }
        }
        Ok(MultiPairs(out))
    }
}

impl<'de> Deserialize<'de> for MultiPairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MultiPairsVisitor)
    }
}

/// A JSON string that borrows from the payload when it has no escapes (a base64 body
/// never does), so a large body is not copied before its size is checked. serde's own
/// `Cow<str>` only borrows as a direct field, not inside an `Option`.
#[derive(Debug)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// Appends `name: value` headers with the name lowercased.
pub(crate) fn push_header(out: &mut Vec<(String, String)>, mut name: String, value: String) {
    name.make_ascii_lowercase();
    out.push((name, value));
}

/// Merges an event's single-value and multi-value header objects.
///
/// API Gateway REST and HTTP API 1.0 send both; the multi-value object is complete, so it
/// wins, and a name only in the single-value object is still kept (lambda_http lets the
/// single-value object overwrite repeated values).
pub(crate) fn merge_headers(
    single: Option<Pairs>,
    multi: Option<MultiPairs>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let multi = multi.map(|m| m.0).unwrap_or_default();
    // A set, not a scan of the list per name: an event with many names in both objects
    // costs linear time, not quadratic.
    let mut in_multi: HashSet<String> = HashSet::with_capacity(multi.len());
    for (name, values) in multi {
        let name = name.to_ascii_lowercase();
        for value in values {
            out.push((name.clone(), value));
        }
        in_multi.insert(name);
    }
    for (name, value) in single.map(|s| s.0).unwrap_or_default() {
        let name = name.to_ascii_lowercase();
        if !in_multi.contains(&name) {
            out.push((name, value));
        }
    }
    out
}

/// Headers from a single-value object, names lowercased.
pub(crate) fn lowercase_headers(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        push_header(&mut out, name, value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_pairs_accept_strings_and_lists() {
        let p: FlexPairs =
            serde_json::from_str(r#"{"a":"1","b":["2","3"],"c":null,"d":[null,"4"]}"#).unwrap();
        let got: Vec<(&str, &str)> = p.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, [("a", "1"), ("b", "2"), ("b", "3"), ("d", "4")]);
    }

    #[test]
    fn pairs_keep_document_order_and_skip_null() {
        let p: Pairs = serde_json::from_str(r#"{"b":"2","a":"1","n":null,"c":"3"}"#).unwrap();
        let names: Vec<&str> = p.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
    }

    #[test]
    fn multi_value_headers_win_over_single_value() {
        let single: Pairs = serde_json::from_str(r#"{"X-A":"last","Only-Single":"s"}"#).unwrap();
        let multi: MultiPairs = serde_json::from_str(r#"{"x-a":["first","last"]}"#).unwrap();
        let merged = merge_headers(Some(single), Some(multi));
        let expected = [("x-a", "first"), ("x-a", "last"), ("only-single", "s")];
        assert_eq!(merged.len(), expected.len());
        for ((k, v), (ek, ev)) in merged.iter().zip(expected) {
            assert_eq!((k.as_str(), v.as_str()), (ek, ev));
        }
    }
}
