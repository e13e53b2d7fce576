//! Response compression: `Accept-Encoding` negotiation (RFC 9110 §12.5.3) and the codecs.
//!
//! Unlike substring matching, negotiation honours q-values: `gzip;q=0` excludes gzip,
//! `*` covers codings not named, and `identity;q=0` alone does not force compression of
//! what should not be compressed. Already-compressed media (images, video, archives) and
//! event streams are left alone, as are responses the handler marked `Cache-Control:
//! no-transform` or encoded itself.

use crate::response::{Response, media_essence};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use serde::Deserialize;
use std::io::Write as _;

/// Bodies smaller than this are not worth compressing unless configured otherwise.
pub const DEFAULT_MIN_SIZE: usize = 1024;

/// A content coding the host can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Brotli (quality 5: a good ratio at request-path speed).
    Br,
    /// gzip (level 6).
    Gzip,
    /// Zstandard (level 3).
    Zstd,
    /// deflate (zlib wrapper, level 6).
    Deflate,
}

impl Encoding {
    /// The token in `Accept-Encoding` / `Content-Encoding`.
    #[must_use]
    pub fn token(self) -> &'static str {
        match self {
            Self::Br => "br",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::Deflate => "deflate",
        }
    }

    /// Picks the coding to use: among `offered` (server preference order), the one the
    /// client weights highest, ties going to the server's order; `None` when the client
    /// accepts none of them (or sent no `Accept-Encoding`).
    #[must_use]
    pub fn negotiate(accept_encoding: Option<&str>, offered: &[Encoding]) -> Option<Encoding> {
        let accept = accept_encoding?;
        let mut star: Option<f32> = None;
        let mut weights: Vec<(String, f32)> = Vec::new();
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            if coding.is_empty() {
                continue;
            }
            let mut q = 1.0_f32;
            for param in parts {
                if let Some((k, v)) = param.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    // An unparsable weight is treated as 0: the client said something odd
                    // about this coding, so do not use it.
                    q = v.trim().parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0);
                }
            }
            if coding == "*" {
                star = Some(q);
            } else {
                // `x-gzip` is an alias (RFC 9110 §8.4.1.3).
                let coding = if coding == "x-gzip" {
                    "gzip".to_owned()
                } else {
                    coding
                };
                weights.push((coding, q));
            }
        }
        let weight = |e: Encoding| {
            weights
                .iter()
                .find(|(c, _)| c == e.token())
                .map(|(_, q)| *q)
                .or(star)
                .unwrap_or(0.0)
        };
        let mut best: Option<(Encoding, f32)> = None;
        for &encoding in offered {
            let q = weight(encoding);
            if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
                best = Some((encoding, q));
            }
        }
        best.map(|(e, _)| e)
    }

    /// Compresses `body`.
    ///
    /// # Errors
    ///
    /// Only if the codec fails writing to memory, which does not happen in practice.
    pub fn compress(self, body: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                e.write_all(body)?;
                e.finish()
            }
            Self::Deflate => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
                e.write_all(body)?;
                e.finish()
            }
            Self::Br => {
                let mut out = Vec::with_capacity(body.len() / 4);
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 5,
                    lgwin: 22,
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut &body[..], &mut out, &params)?;
                Ok(out)
            }
            Self::Zstd => zstd::bulk::compress(body, 3),
        }
    }
}

/// `[compression]` in the config.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CompressionConfig {
    /// Codings offered, in the server's order of preference.
    #[serde(default = "default_encodings")]
    pub encodings: Vec<Encoding>,
    /// Smallest body worth compressing, in bytes.
    #[serde(default = "default_min_size")]
    pub min_size: usize,
}

/// zstd first: on a 100 KB JSON body it compresses about 13× faster than brotli at a
/// similar ratio (docs/BENCHMARKS.md); brotli next, then gzip, which every client has.
fn default_encodings() -> Vec<Encoding> {
    vec![Encoding::Zstd, Encoding::Br, Encoding::Gzip]
}

fn default_min_size() -> usize {
    DEFAULT_MIN_SIZE
}

/// Media types whose bodies are already compressed, or that must stream unbuffered.
fn is_incompressible(content_type: &str) -> bool {
    let essence = media_essence(content_type);
    if essence == "image/svg+xml" {
        return false;
    }
    essence.starts_with("image/")
        || essence.starts_with("video/")
        || essence.starts_with("audio/")
        || essence.starts_with("font/woff")
        || matches!(
            essence.as_str(),
            "application/zip"
                | "application/gzip"
                | "application/x-gzip"
                | "application/zstd"
                | "application/x-brotli"
                | "application/x-7z-compressed"
                | "application/x-rar-compressed"
                | "application/x-bzip2"
                | "application/x-xz"
                | "application/pdf"
                | "application/wasm"
                | "text/event-stream"
        )
}

/// Whether a response may be compressed at all, whatever the client accepts: the answer
/// then depends on `Accept-Encoding`, so it also decides `Vary`.
fn is_candidate(response: &Response) -> bool {
    let h = &response.headers;
    if h.contains_key(header::CONTENT_ENCODING) || h.contains_key(header::CONTENT_RANGE) {
        return false;
    }
    let no_transform = h.get_all(header::CACHE_CONTROL).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-transform"))
        })
    });
    let media_ok = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| !is_incompressible(ct));
    !no_transform
        && media_ok
        && !response.status.is_informational()
        && response.status != http::StatusCode::NO_CONTENT
        && response.status != http::StatusCode::NOT_MODIFIED
}

/// Compresses `response` with `encoding` in place, if that makes it smaller.
fn apply(response: &mut Response, encoding: Encoding) {
    match encoding.compress(&response.body) {
        Ok(compressed) if compressed.len() < response.body.len() => {
            response.body = Bytes::from(compressed);
            response.headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(encoding.token()),
            );
            response.headers.remove(header::CONTENT_LENGTH);
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(encoding = encoding.token(), error = %e, "compression failed; sending identity")
        }
    }
}

/// Compresses a response per `config` for a client that sent `accept_encoding`, and adds
/// `Vary: Accept-Encoding` whenever the result depends on it.
pub fn compress(
    response: &mut Response,
    accept_encoding: Option<&str>,
    config: &CompressionConfig,
) {
    if !is_candidate(response) {
        return;
    }
    crate::cors::append_vary(&mut response.headers, "accept-encoding");
    if response.body.len() < config.min_size {
        return;
    }
    if let Some(encoding) = Encoding::negotiate(accept_encoding, &config.encodings) {
        apply(response, encoding);
    }
}

/// Compresses with whatever the client accepts, ignoring the minimum size and whether
/// compression is configured: used to fit a response under a source's payload limit.
/// Returns whether the body changed.
pub fn compress_to_fit(response: &mut Response, accept_encoding: Option<&str>) -> bool {
    if !is_candidate(response) {
        return false;
    }
    let Some(encoding) = Encoding::negotiate(accept_encoding, &default_encodings()) else {
        return false;
    };
    apply(response, encoding);
    crate::cors::append_vary(&mut response.headers, "accept-encoding");
    response.headers.contains_key(header::CONTENT_ENCODING)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    const ALL: [Encoding; 3] = [Encoding::Br, Encoding::Zstd, Encoding::Gzip];

    #[test]
    fn negotiation_honours_q_values_and_server_order() {
        let cases: &[(Option<&str>, Option<Encoding>)] = &[
            (None, None),
            (Some(""), None),
            (Some("gzip"), Some(Encoding::Gzip)),
            (Some("gzip, br"), Some(Encoding::Br)),
            (Some("gzip;q=0, br;q=0"), None),
            (Some("gzip;q=0"), None),
            (Some("gzip;q=0.5, zstd;q=0.8"), Some(Encoding::Zstd)),
            (Some("*"), Some(Encoding::Br)),
            (Some("*;q=0.1, br;q=0"), Some(Encoding::Zstd)),
            (Some("identity"), None),
            (Some("identity;q=0"), None),
            (Some("x-gzip"), Some(Encoding::Gzip)),
            (Some("GZIP;Q=1.0"), Some(Encoding::Gzip)),
            (Some("gzip;q=bogus, br"), Some(Encoding::Br)),
            (Some("deflate"), None),
        ];
        for (accept, expected) in cases {
            assert_eq!(Encoding::negotiate(*accept, &ALL), *expected, "{accept:?}");
        }
    }

    fn decompress(encoding: Encoding, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            Encoding::Gzip => {
                flate2::read::GzDecoder::new(data)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Encoding::Deflate => {
                flate2::read::ZlibDecoder::new(data)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Encoding::Br => {
                brotli::BrotliDecompress(&mut &data[..], &mut out).unwrap();
            }
            Encoding::Zstd => out = zstd::decode_all(data).unwrap(),
        }
        out
    }

    #[test]
    fn every_codec_round_trips() {
        let body = br#"{"items":[1,2,3],"text":"lorem ipsum dolor sit amet"}"#.repeat(200);
        for encoding in [
            Encoding::Br,
            Encoding::Gzip,
            Encoding::Zstd,
            Encoding::Deflate,
        ] {
            let compressed = encoding.compress(&body).unwrap();
            assert!(compressed.len() < body.len() / 5, "{encoding:?}");
            assert_eq!(decompress(encoding, &compressed), body, "{encoding:?}");
        }
    }

    fn response(content_type: &str, len: usize) -> Response {
        let mut res = Response::new(http::StatusCode::OK);
        res.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        res.body = Bytes::from(vec![b'a'; len]);
        res
    }

    #[test]
    fn only_worthwhile_compressible_responses_are_compressed() {
        let config = CompressionConfig {
            encodings: ALL.to_vec(),
            min_size: 1024,
        };
        let cases: &[(&str, usize, Option<&str>, bool, bool)] = &[
            // content type, size, accept-encoding, compressed, vary
            ("application/json", 4096, Some("gzip"), true, true),
            ("application/json", 100, Some("gzip"), false, true),
            ("application/json", 4096, None, false, true),
            ("application/json", 4096, Some("gzip;q=0"), false, true),
            ("image/png", 4096, Some("gzip"), false, false),
            ("image/svg+xml", 4096, Some("gzip"), true, true),
            ("text/event-stream", 4096, Some("gzip"), false, false),
            ("application/zip", 4096, Some("br"), false, false),
        ];
        for (content_type, len, accept, compressed, vary) in cases {
            let mut res = response(content_type, *len);
            compress(&mut res, *accept, &config);
            assert_eq!(
                res.headers.contains_key(header::CONTENT_ENCODING),
                *compressed,
                "{content_type} {len} {accept:?}"
            );
            assert_eq!(
                res.headers.contains_key(header::VARY),
                *vary,
                "{content_type} {len} {accept:?}"
            );
        }
        let mut res = response("text/plain", 4096);
        res.headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, no-transform"),
        );
        compress(&mut res, Some("gzip"), &config);
        assert!(
            !res.headers.contains_key(header::CONTENT_ENCODING),
            "no-transform opts a response out"
        );
    }
}
