//! Converting requests and responses across the WIT boundary, checking what guests return.

use super::Guest;
use super::bindings::wit;
use crate::error::Error;
use crate::request::{Context, Request, Source, check_header, header_text};
use crate::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use std::time::SystemTime;

/// The one list of sources, both ways across the boundary (the WIT enum mirrors
/// [`Source`] variant for variant).
macro_rules! sources {
    ($($variant:ident),* $(,)?) => {
        impl From<Source> for wit::Source {
            fn from(source: Source) -> Self {
                match source {
                    $(Source::$variant => Self::$variant,)*
                }
            }
        }

        impl From<wit::Source> for Source {
            fn from(source: wit::Source) -> Self {
                match source {
                    $(wit::Source::$variant => Self::$variant,)*
                }
            }
        }
    };
}

sources!(
    ApigwRest,
    ApigwHttpV1,
    ApigwHttpV2,
    FunctionUrl,
    Alb,
    VpcLatticeV1,
    VpcLatticeV2,
    Local,
    Direct,
);

/// What the route gives a component besides the request.
pub(crate) struct RouteInfo<'a> {
    pub(crate) template: &'a str,
    pub(crate) params: Vec<(String, String)>,
}

/// The host request as the guest sees it.
pub(super) fn request_to_wit(request: Request, route: RouteInfo<'_>) -> wit::Request {
    let c = request.context;
    wit::Request {
        method: request.method.as_str().to_owned(),
        path: request.path,
        raw_path: request.raw_path,
        query: request.query,
        raw_query: request.raw_query,
        headers: request.headers,
        cookies: request.cookies,
        body: Vec::from(request.body),
        params: route.params,
        route: route.template.to_owned(),
        context: wit::Context {
            source: c.source.into(),
            request_id: c.request_id,
            stage: c.stage,
            source_ip: c.source_ip,
            user_agent: c.user_agent,
            authorizer: c.authorizer,
            time_epoch_ms: c.time_epoch_ms,
            attributes: c.attributes,
        },
    }
}

/// What the host keeps of a request while a middleware holds it: the fields middleware may
/// not change (the request id, its deadline and trace header, and where it came from), the one the guest never sees, and the path in routing form (the guest sees
/// only the decoded path; while that is unchanged, an encoded slash in it stays encoded).
pub(super) struct Kept {
    pub(super) request_id: String,
    source: Source,
    pub(super) deadline: Option<SystemTime>,
    trace_header: Option<String>,
    path: String,
    route_path: String,
}

impl Kept {
    /// What to keep of `request` while a middleware holds it.
    pub(super) fn of(request: &Request) -> Self {
        Self {
            request_id: request.context.request_id.clone(),
            source: request.context.source,
            deadline: request.context.deadline,
            trace_header: request.context.trace_header.clone(),
            path: request.path.clone(),
            route_path: request.route_path.clone(),
        }
    }
}

impl Guest {
    /// The request a middleware passed on, checked: a valid method, header names that are
    /// HTTP tokens (lowercased), values without control characters. `route` and `params`
    /// are dropped (the host keeps the ones it matched); the request id, deadline and
    /// source are the host's (a component built against a contract without `direct` must
    /// never be handed one because a middleware said so).
    pub(super) fn request_from_wit(
        &self,
        request: wit::Request,
        kept: Kept,
    ) -> Result<Request, Error> {
        let invalid = |problem: String| Error::InvalidRequest {
            component: self.name.clone(),
            problem,
        };
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| invalid(format!("method {:?} is not an HTTP token", request.method)))?;
        let mut headers = request.headers;
        for (name, value) in &mut headers {
            name.make_ascii_lowercase();
            check_header(name, value).map_err(invalid)?;
        }
        let c = request.context;
        // Routing happened before the chain; a `wasi:http` handler reads the path from here.
        let route_path = if request.path == kept.path {
            kept.route_path
        } else {
            crate::event::route_form(&request.path)
        };
        Ok(Request {
            method,
            route_path,
            path: request.path,
            raw_path: request.raw_path,
            query: request.query,
            raw_query: request.raw_query,
            headers,
            cookies: request.cookies,
            body: Bytes::from(request.body),
            context: Context {
                source: kept.source,
                request_id: kept.request_id,
                stage: c.stage,
                source_ip: c.source_ip,
                user_agent: c.user_agent,
                authorizer: c.authorizer,
                time_epoch_ms: c.time_epoch_ms,
                attributes: c.attributes,
                deadline: kept.deadline,
                trace_header: kept.trace_header,
            },
        })
    }

    /// The guest's response, checked: status line + headers + body within `max-response`
    /// (counted as HTTP/1.1 carries them, the same for every front door), headers valid
    /// HTTP, then as [`Guest::checked_response`].
    pub(super) fn response_from_wit(&self, response: wit::Response) -> Result<Response, Error> {
        let size = wire_size(&response);
        if size > self.limits.max_response {
            return Err(self.invalid_response(format!(
                "response of {size} bytes (status line, {} headers, {}-byte body) exceeds \
                 max-response ({} bytes)",
                response.headers.len(),
                response.body.len(),
                self.limits.max_response
            )));
        }
        let mut headers = HeaderMap::with_capacity(response.headers.len());
        for (name, value) in response.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                self.invalid_response(format!("header name {name:?} is not a valid HTTP token"))
            })?;
            let value = HeaderValue::from_str(&value).map_err(|_| {
                self.invalid_response(format!(
                    "header {name:?} has a value with control characters (CR, LF, NUL, ...)"
                ))
            })?;
            headers.append(header, value);
        }
        self.checked_response(response.status, headers, Bytes::from(response.body))
    }

    /// A response from a guest of any world, checked: status in 100..=599, `set-cookie`
    /// values that start with a cookie name. (Its size is checked by the caller, which
    /// knows it first.)
    pub(super) fn checked_response(
        &self,
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Response, Error> {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| (100..=599).contains(&s.as_u16()))
            .ok_or_else(|| self.invalid_response(format!("status {status} is not in 100..=599")))?;
        if let Some(value) = headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .find(|value| !is_valid_set_cookie(value))
        {
            return Err(self.invalid_response(format!(
                "set-cookie {value:?} does not start with a cookie name and '='"
            )));
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// [`Error::InvalidResponse`] from this guest.
    pub(super) fn invalid_response(&self, problem: String) -> Error {
        Error::InvalidResponse {
            component: self.name.clone(),
            problem,
        }
    }

    /// A guest's typed error as a host error: status forced into 4xx/5xx, details dropped
    /// (and logged) when they are not JSON.
    pub(super) fn typed_error(&self, error: wit::Error) -> Error {
        let status = StatusCode::from_u16(error.status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or_else(|| {
                tracing::warn!(
                    component = &*self.name,
                    status = error.status,
                    "guest error status is not 4xx/5xx; sending 500"
                );
                StatusCode::INTERNAL_SERVER_ERROR
            });
        let details = error.details.and_then(|text| match serde_json::from_str(&text) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(component = &*self.name, error = %e, "guest error details are not JSON; dropped");
                None
            }
        });
        Error::Typed {
            status,
            code: error.code,
            message: error.message,
            details,
        }
    }
}

/// The size of `response` as HTTP/1.1 would carry it: `HTTP/1.1 200 OK\r\n` (counted as
/// 17 bytes), each header as `name: value\r\n`, the blank line, the body.
fn wire_size(response: &wit::Response) -> usize {
    let headers: usize = response
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len() + 4)
        .sum();
    HEAD_FRAMING + headers + response.body.len()
}

/// The status line and the blank line after the headers, as [`wire_size`] counts them.
const HEAD_FRAMING: usize = 17 + 2;

/// The status line, `headers` and the blank line as HTTP/1.1 would carry them, counted
/// as [`wire_size`] counts a WIT response's.
pub(super) fn head_size(headers: &HeaderMap) -> usize {
    HEAD_FRAMING
        + headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>()
}

/// A host response as a middleware's `on-response` sees it.
pub(super) fn response_to_wit(response: Response) -> wit::Response {
    let headers = response
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), header_text(value)))
        .collect();
    wit::Response {
        status: response.status.as_u16(),
        headers,
        body: Vec::from(response.body),
    }
}

/// A `Set-Cookie` value starts with `name=`, the name an RFC 6265 token.
fn is_valid_set_cookie(value: &HeaderValue) -> bool {
    let pair = value
        .as_bytes()
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default();
    let Some(eq) = pair.iter().position(|&b| b == b'=') else {
        return false;
    };
    let name = pair[..eq].trim_ascii();
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_values_need_a_token_name() {
        let cases = [
            ("a=1", true),
            ("session=abc; Path=/; HttpOnly", true),
            ("__Host-x=; Max-Age=0", true),
            ("no-equals-sign", false),
            ("=value", false),
            ("bad name=1", false),
            ("a;b=1", false),
        ];
        for (value, valid) in cases {
            let value = HeaderValue::from_static(value);
            assert_eq!(is_valid_set_cookie(&value), valid, "{value:?}");
        }
    }
}
