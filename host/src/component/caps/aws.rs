//! AWS calls signed by the host: a component granted `aws` sends plain HTTP requests to an
//! AWS service, and the host adds SigV4 with the function's own credentials. No credential
//! ever enters the sandbox.
//!
//! ```toml
//! [components.orders]
//! aws = { services = ["dynamodb", "sqs"], region = "eu-west-1" }   # region: else $AWS_REGION
//! ```
//!
//! A request from the component to `https://{service}.{region}.amazonaws.com` — or to the
//! region-less `https://{service}.amazonaws.com`, which the host points at the configured
//! region — for a granted service is sent to that service's endpoint (`$AWS_ENDPOINT_URL_<SERVICE>`
//! or `$AWS_ENDPOINT_URL` when set, for tests and local stacks) and signed for it with the
//! credentials Lambda gives the function (`$AWS_ACCESS_KEY_ID`, `$AWS_SECRET_ACCESS_KEY`,
//! `$AWS_SESSION_TOKEN`). Signed calls need no `allowed-outbound-hosts` entry and count
//! against the same per-request limits as any outbound call. Whatever the guest put in
//! `Authorization`, `X-Amz-Date`, `X-Amz-Security-Token` or `X-Amz-Content-Sha256` is
//! replaced.

use super::super::state::State;
use super::{Capability, KeyList, Scope};
use anyhow::{Context as _, bail};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4::SigningParams;
use http::Uri;
use serde::Deserialize;
use std::sync::Arc;
use std::time::SystemTime;
use wasmtime::component::Linker;

/// The capability.
pub(crate) struct Aws;

/// Its key in `[components.NAME]`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct AwsKey {
    aws: Option<AwsConfig>,
}

/// `aws = { services = [...], region = "..." }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AwsConfig {
    services: Vec<String>,
    region: Option<String>,
}

/// What a component may call: each granted service's endpoint, and the region.
#[derive(Clone, Debug, Default)]
pub(crate) struct AwsGrant(Option<Arc<AwsAccess>>);

/// The services, where each is reached, and the region to sign for.
#[derive(Debug)]
pub(crate) struct AwsAccess {
    region: String,
    services: Vec<Service>,
}

#[derive(Debug)]
struct Service {
    /// The signing name and host prefix (`dynamodb`).
    name: String,
    /// Where requests for it go: `https://dynamodb.eu-west-1.amazonaws.com` or an
    /// endpoint override.
    endpoint: Uri,
}

impl KeyList for Aws {
    const KEYS: &'static [&'static str] = &["aws"];
}

impl Capability for Aws {
    const NAME: &'static str = "aws";
    type Config = AwsKey;
    type Grant = AwsGrant;
    type Instance = AwsGrant;

    fn grant(config: &AwsKey, scope: &Scope<'_>) -> anyhow::Result<AwsGrant> {
        let Some(config) = &config.aws else {
            return Ok(AwsGrant(None));
        };
        let at = format!("components.{}.aws", scope.component);
        let region = config
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .with_context(|| format!("{at}.region: no region set, and $AWS_REGION is empty"))?;
        if config.services.is_empty() {
            bail!("{at}.services: name at least one service, e.g. [\"dynamodb\"]");
        }
        let mut services = Vec::new();
        for (i, name) in config.services.iter().enumerate() {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                bail!(
                    "{at}.services[{i}]: {name:?} is not an AWS service name such as \"dynamodb\""
                );
            }
            services.push(Service {
                name: name.clone(),
                endpoint: endpoint(name, &region).with_context(|| format!("{at}.services[{i}]"))?,
            });
        }
        Ok(AwsGrant(Some(Arc::new(AwsAccess { region, services }))))
    }

    fn link(
        _linker: &mut Linker<State>,
        _get: fn(&mut State) -> &mut AwsGrant,
    ) -> wasmtime::Result<()> {
        // Nothing of its own: it acts on the outbound capability's requests.
        Ok(())
    }

    fn instance(grant: &AwsGrant) -> anyhow::Result<AwsGrant> {
        Ok(grant.clone())
    }

    fn describe(grant: &AwsGrant) -> Option<String> {
        grant.0.as_ref().map(|access| {
            let services: Vec<String> = access
                .services
                .iter()
                .map(|s| format!("{} at {}", s.name, s.endpoint))
                .collect();
            format!(
                "[{}], region {}, signed by the host (no credentials in the guest)",
                services.join(", "),
                access.region
            )
        })
    }
}

/// Where `service` is reached: `$AWS_ENDPOINT_URL_<SERVICE>`, `$AWS_ENDPOINT_URL`, or the
/// public regional endpoint.
///
/// # Errors
///
/// When the endpoint set in the environment is not a URL with a scheme and a host.
pub(crate) fn endpoint(service: &str, region: &str) -> anyhow::Result<Uri> {
    let variable = format!(
        "AWS_ENDPOINT_URL_{}",
        service.to_ascii_uppercase().replace('-', "_")
    );
    let text = std::env::var(&variable)
        .ok()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .unwrap_or_else(|| format!("https://{service}.{region}.amazonaws.com"));
    let uri: Uri = text
        .parse()
        .with_context(|| format!("the endpoint {text:?} is not a URL"))?;
    if uri.scheme().is_none() || uri.authority().is_none() {
        bail!("the endpoint {text:?} needs a scheme and a host");
    }
    Ok(uri)
}

impl AwsGrant {
    /// The service a request to `uri` is for, if it is an AWS endpoint of a granted
    /// service: `{service}.amazonaws.com`, `{service}.{region}.amazonaws.com`, or the
    /// service's configured endpoint.
    pub(crate) fn service_for(&self, uri: &Uri) -> Option<(&str, &Uri)> {
        let access = self.0.as_ref()?;
        let host = uri.host()?.to_ascii_lowercase();
        access
            .services
            .iter()
            .find(|s| {
                host == format!("{}.amazonaws.com", s.name)
                    || host == format!("{}.{}.amazonaws.com", s.name, access.region)
                    || (s.endpoint.authority() == uri.authority()
                        && s.endpoint.scheme() == uri.scheme())
            })
            .map(|s| (s.name.as_str(), &s.endpoint))
    }

    /// Points `request` at `service`'s endpoint and signs it for `service`, with the
    /// function's credentials.
    ///
    /// # Errors
    ///
    /// When the function has no credentials in its environment or signing fails.
    pub(crate) fn sign(
        &self,
        service: &str,
        endpoint: &Uri,
        request: &mut http::Request<bytes::Bytes>,
    ) -> anyhow::Result<()> {
        let access = self.0.as_ref().context("no AWS grant")?;
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let base = endpoint.path().trim_end_matches('/');
        let target: Uri = format!(
            "{}://{}{}{path}",
            endpoint.scheme_str().unwrap_or("https"),
            endpoint.authority().map_or("", |a| a.as_str()),
            base
        )
        .parse()?;
        *request.uri_mut() = target;
        let headers = request.headers_mut();
        for name in [
            "authorization",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-content-sha256",
        ] {
            headers.remove(name);
        }
        if let Some(authority) = request.uri().authority().cloned()
            && let Ok(host) = http::HeaderValue::from_str(authority.as_str())
        {
            request.headers_mut().insert(http::header::HOST, host);
        }
        sign_request(&access.region, service, request)
    }
}

/// Signs `request` (already addressed to its endpoint, `Host` set) for `service` in `region`
/// with SigV4 and the function's credentials (`$AWS_ACCESS_KEY_ID`, `$AWS_SECRET_ACCESS_KEY`,
/// `$AWS_SESSION_TOKEN`): the one signer of every AWS call the host makes for a component.
///
/// # Errors
///
/// When the function has no credentials in its environment or signing fails.
pub(crate) fn sign_request(
    region: &str,
    service: &str,
    request: &mut http::Request<bytes::Bytes>,
) -> anyhow::Result<()> {
    if request.headers().get(http::header::HOST).is_none()
        && let Some(authority) = request.uri().authority().cloned()
        && let Ok(host) = http::HeaderValue::from_str(authority.as_str())
    {
        request.headers_mut().insert(http::header::HOST, host);
    }
    let key = std::env::var("AWS_ACCESS_KEY_ID")
        .context("$AWS_ACCESS_KEY_ID is not set: the function has no AWS credentials")?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
        .context("$AWS_SECRET_ACCESS_KEY is not set: the function has no AWS credentials")?;
    let token = std::env::var("AWS_SESSION_TOKEN").ok();
    let identity = Credentials::new(key, secret, token, None, "lamina").into();
    let mut settings = SigningSettings::default();
    if service == "s3" {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()?
        .into();
    let uri = request.uri().to_string();
    let header_pairs: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        header_pairs.into_iter(),
        SignableBody::Bytes(request.body()),
    )?;
    let (instructions, _signature) = sign(signable, &params)?.into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> anyhow::Result<AwsGrant> {
        let config: AwsKey = toml::from_str(text).unwrap();
        let scope = Scope {
            component: "c",
            base_dir: std::path::Path::new("/"),
            stores: &Default::default(),
            secrets: &Default::default(),
            metrics: None,
        };
        Aws::grant(&config, &scope)
    }

    #[test]
    fn grants_services_and_recognizes_their_endpoints() {
        let granted = grant("aws = { services = [\"dynamodb\"], region = \"eu-west-1\" }").unwrap();
        let uri = |u: &str| u.parse::<Uri>().unwrap();
        assert!(
            granted
                .service_for(&uri("https://dynamodb.amazonaws.com/"))
                .is_some()
        );
        assert!(
            granted
                .service_for(&uri("https://dynamodb.eu-west-1.amazonaws.com/"))
                .is_some()
        );
        assert!(
            granted
                .service_for(&uri("https://sqs.eu-west-1.amazonaws.com/"))
                .is_none()
        );
        assert!(
            granted
                .service_for(&uri("https://dynamodb.us-east-1.amazonaws.com/"))
                .is_none()
        );
        assert!(
            Aws::describe(&granted)
                .unwrap()
                .contains("dynamodb at https://dynamodb.eu-west-1.amazonaws.com")
        );
        assert!(
            Aws::describe(&AwsGrant::default()).is_none(),
            "nothing without the key"
        );
    }

    #[test]
    fn denies_bad_services_naming_the_key() {
        let error = grant("aws = { services = [], region = \"r\" }")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("components.c.aws.services"), "{error}");
        let error = grant("aws = { services = [\"dynamo db\"], region = \"r\" }")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("components.c.aws.services[0]"), "{error}");
    }
}
