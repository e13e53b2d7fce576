//! `auth`: a middleware that admits requests carrying a valid HS256 JWT
//! (`Authorization: Bearer <token>`) and passes the verified subject on.
//!
//! - No or malformed bearer token, bad signature, expired or not-yet-valid token, wrong
//!   issuer or audience → `401` with `WWW-Authenticate: Bearer`; the handler never runs.
//! - A valid token without the configured `required-scope` → `403`.
//! - Otherwise the request goes on with the attribute `subject` set to the token's `sub`
//!   (handlers read it with `request.attribute("subject")`; clients cannot forge it), and
//!   this middleware does not look at the response ([`Flow::Pass`]).
//!
//! Config values: `secret` (the HMAC key; declare it under `secrets`), and optionally
//! `issuer`, `audience` and `required-scope`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use lamina_sdk::{Error, Flow, Middleware, Request, Response, Result, config, log};
use serde::Deserialize;
use sha2::Sha256;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iss: Option<String>,
    #[serde(default)]
    aud: Audience,
    #[serde(default)]
    scope: String,
}

/// `aud` is a string or a list of strings.
#[derive(Default, Deserialize)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Self::None => false,
            Self::One(aud) => aud == wanted,
            Self::Many(auds) => auds.iter().any(|a| a == wanted),
        }
    }
}

/// Why a request is refused: 401 (who are you?) or 403 (not allowed).
enum Refusal {
    Unauthenticated(&'static str),
    Forbidden(String),
}

/// A refusal as a JSON response; 401s carry the `WWW-Authenticate` challenge RFC 6750 asks for.
fn refuse(refusal: Refusal, request_id: &str) -> Response {
    let (status, code, message) = match refusal {
        Refusal::Unauthenticated(why) => (401, "unauthorized", why.to_owned()),
        Refusal::Forbidden(why) => (403, "forbidden", why),
    };
    log::log(
        log::Level::Info,
        "request refused",
        &[("status", &status.to_string()), ("reason", &message)],
    );
    let body = serde_json::json!({
        "error": { "code": code, "message": message, "request-id": request_id }
    });
    let response = Response::json(&body).with_status(status);
    if status == 401 {
        response.with_header("www-authenticate", "Bearer realm=\"lamina\"")
    } else {
        response
    }
}

/// Verifies `token` against `secret` and the configured claims; returns its subject.
fn verify(token: &str, secret: &[u8], now: u64) -> std::result::Result<String, Refusal> {
    let malformed = Refusal::Unauthenticated("malformed token");
    let mut parts = token.split('.');
    let (Some(header64), Some(payload64), Some(signature64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let header: Header = decode(header64)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(Refusal::Unauthenticated("malformed token header"))?;
    // Only HS256: accepting the token's own choice of algorithm ("none", say) is the classic
    // JWT mistake.
    if header.alg != "HS256" {
        return Err(Refusal::Unauthenticated("token algorithm must be HS256"));
    }
    let signature = decode(signature64).ok_or(Refusal::Unauthenticated("malformed signature"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|_| Refusal::Unauthenticated("unusable secret"))?;
    // The signing input is the first two parts as sent, with their dot.
    mac.update(&token.as_bytes()[..header64.len() + 1 + payload64.len()]);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature)
        .map_err(|_| Refusal::Unauthenticated("bad token signature"))?;
    let claims: Claims = decode(payload64)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(Refusal::Unauthenticated("malformed token claims"))?;
    if claims.exp.is_some_and(|exp| now >= exp) {
        return Err(Refusal::Unauthenticated("token expired"));
    }
    if claims.nbf.is_some_and(|nbf| now < nbf) {
        return Err(Refusal::Unauthenticated("token not valid yet"));
    }
    if let Some(issuer) = config::get("issuer")
        && claims.iss.as_deref() != Some(issuer.as_str())
    {
        return Err(Refusal::Unauthenticated("token has the wrong issuer"));
    }
    if let Some(audience) = config::get("audience")
        && !claims.aud.contains(&audience)
    {
        return Err(Refusal::Unauthenticated("token is not for this audience"));
    }
    if let Some(scope) = config::get("required-scope")
        && !claims.scope.split_whitespace().any(|s| s == scope)
    {
        return Err(Refusal::Forbidden(format!("token lacks scope {scope:?}")));
    }
    claims
        .sub
        .ok_or(Refusal::Unauthenticated("token has no subject"))
}

struct Auth;

impl Middleware for Auth {
    fn on_request(mut request: Request) -> Result<Flow<Self>> {
        let secret = config::get("secret").ok_or_else(|| {
            log::error("auth: no `secret` configured for this component");
            Error::internal("internal error")
        })?;
        let request_id = request.context().request_id.clone();
        let Some(token) = request
            .header("authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
        else {
            let refusal = Refusal::Unauthenticated("missing bearer token");
            return Ok(Flow::Respond(refuse(refusal, &request_id)));
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match verify(token.trim(), secret.as_bytes(), now) {
            Ok(subject) => {
                request.set_attribute("subject", &subject);
                Ok(Flow::Pass(request))
            }
            Err(refusal) => Ok(Flow::Respond(refuse(refusal, &request_id))),
        }
    }
}

lamina_sdk::export_middleware!(Auth);
