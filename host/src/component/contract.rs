//! The versions of the `lamina:http` contract the host serves, and how a call reaches a
//! component of each.
//!
//! The host works in the current version's types (`bindings::wit`). A component built
//! against an earlier version that is still served is called through that version's
//! bindings, converting at the boundary: what the earlier version cannot express is refused
//! where the config is loaded ([`Contract::sees_direct`]) and, should it reach a call
//! anyway, fails that call with a message rather than being guessed at. The policy is in
//! docs/WIT-VERSIONS.md.

use super::bindings::{self, Action, v0_1, wit};
use super::session::{CallFuture, World};
use super::state::State;
use wasmtime::Store;

/// The contracts the host serves, newest first, as a literal (`lamina --version` builds its
/// text with `concat!`).
#[macro_export]
macro_rules! served_contracts {
    () => {
        "lamina:http@0.2.0, lamina:http@0.1.0, wasi:http/proxy@0.2"
    };
}

/// What `lamina --version` and `lamina check` say the host serves, newest first.
pub const SERVED: &str = served_contracts!();

/// The contract a loaded component was built against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contract {
    /// `lamina:http@0.2.0`, the current one.
    V0_2,
    /// `lamina:http@0.1.0`.
    V0_1,
    /// The standard `wasi:http/proxy` world (0.2.x).
    WasiHttp,
}

impl Contract {
    /// The package and version, as `lamina check` prints it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_2 => "lamina:http@0.2.0",
            Self::V0_1 => "lamina:http@0.1.0",
            Self::WasiHttp => "wasi:http/proxy@0.2",
        }
    }

    /// The cases of `source` in this version, in order (none for `wasi:http`).
    fn sources(self) -> &'static [&'static str] {
        // 0.2.0 appended `direct`; the cases before it are 0.1.0's, in order.
        const SOURCES: [&str; 9] = [
            "apigw-rest",
            "apigw-http-v1",
            "apigw-http-v2",
            "function-url",
            "alb",
            "vpc-lattice-v1",
            "vpc-lattice-v2",
            "local",
            "direct",
        ];
        match self {
            Self::V0_2 => &SOURCES,
            Self::V0_1 => &SOURCES[..8],
            Self::WasiHttp => &[],
        }
    }

    /// Whether a direct invocation (`source = direct`, new in 0.2.0) can be handed to it.
    #[must_use]
    pub fn sees_direct(self) -> bool {
        !matches!(self, Self::V0_1)
    }
}

/// Checks, at load, that `component`'s `export` (an interface of `contract`) takes a
/// request whose `source` has that version's cases — the type that differs between
/// versions. A component built against an edited or unreleased copy of the contract
/// names a version whose types it does not have; without this check it would load and
/// then fail every call.
///
/// # Errors
///
/// When the cases differ or the export does not have the contract's shape, naming both.
pub(crate) fn check_types(
    component: &wasmtime::component::Component,
    contract: Contract,
    export: &str,
    func: &str,
) -> anyhow::Result<()> {
    use wasmtime::component::types::{ComponentItem, Type};
    let engine = component.engine();
    let ty = component.component_type();
    let cases = (|| {
        let ComponentItem::ComponentInstance(instance) = ty.get_export(engine, export)?.ty else {
            return None;
        };
        let ComponentItem::ComponentFunc(func) = instance.get_export(engine, func)?.ty else {
            return None;
        };
        let (_, Type::Record(request)) = func.params().next()? else {
            return None;
        };
        let Type::Record(context) = request.fields().find(|f| f.name == "context")?.ty else {
            return None;
        };
        let Type::Enum(source) = context.fields().find(|f| f.name == "source")?.ty else {
            return None;
        };
        Some(source.names().map(str::to_owned).collect::<Vec<_>>())
    })();
    match cases {
        Some(cases) if cases == contract.sources() => Ok(()),
        Some(cases) => anyhow::bail!(
            "component exports {export}, but its request's `source` has the cases [{}] where {} \
             has [{}]: it was built against an edited or unreleased copy of the contract; \
             rebuild it with a released SDK",
            cases.join(", "),
            contract.as_str(),
            contract.sources().join(", ")
        ),
        None => anyhow::bail!(
            "component exports {export}, but its `{func}` does not take {}'s request",
            contract.as_str()
        ),
    }
}

/// A world whose component answers requests.
pub(crate) trait HandlerWorld: World {
    /// Calls `handle` with `request`.
    fn handle<'a>(
        &'a self,
        store: &'a mut Store<State>,
        request: wit::Request,
    ) -> CallFuture<'a, Result<wit::Response, wit::Error>>;
}

/// A world whose component sits in a middleware chain.
pub(crate) trait MiddlewareWorld: World {
    /// Calls `on-request` with `request`.
    fn on_request<'a>(
        &'a self,
        store: &'a mut Store<State>,
        request: wit::Request,
    ) -> CallFuture<'a, Result<Action, wit::Error>>;

    /// Calls `on-response` with `response`.
    fn on_response<'a>(
        &'a self,
        store: &'a mut Store<State>,
        response: wit::Response,
    ) -> CallFuture<'a, Result<wit::Response, wit::Error>>;
}

impl HandlerWorld for bindings::Handler {
    fn handle<'a>(
        &'a self,
        store: &'a mut Store<State>,
        request: wit::Request,
    ) -> CallFuture<'a, Result<wit::Response, wit::Error>> {
        Box::pin(async move {
            self.lamina_http_request_handler()
                .call_handle(store, &request)
                .await
        })
    }
}

impl MiddlewareWorld for bindings::Middleware {
    fn on_request<'a>(
        &'a self,
        store: &'a mut Store<State>,
        request: wit::Request,
    ) -> CallFuture<'a, Result<Action, wit::Error>> {
        Box::pin(async move {
            self.lamina_http_request_middleware()
                .call_on_request(store, &request)
                .await
        })
    }

    fn on_response<'a>(
        &'a self,
        store: &'a mut Store<State>,
        response: wit::Response,
    ) -> CallFuture<'a, Result<wit::Response, wit::Error>> {
        Box::pin(async move {
            self.lamina_http_request_middleware()
                .call_on_response(store, &response)
                .await
        })
    }
}

/// Each version's worlds are instantiated the same way, from their pre-instantiated
/// component.
macro_rules! world {
    ($($world:ty => $pre:ty),* $(,)?) => {$(
        impl World for $world {
            type Pre = $pre;

            fn instantiate<'a>(
                pre: &'a Self::Pre,
                store: &'a mut Store<State>,
            ) -> CallFuture<'a, Self> {
                Box::pin(pre.instantiate_async(store))
            }
        }
    )*};
}

world!(
    bindings::Handler => bindings::HandlerPre<State>,
    bindings::Middleware => bindings::MiddlewarePre<State>,
    v0_1::Handler => v0_1::HandlerPre<State>,
    v0_1::Middleware => v0_1::MiddlewarePre<State>,
);

impl HandlerWorld for v0_1::Handler {
    fn handle<'a>(
        &'a self,
        store: &'a mut Store<State>,
        request: wit::Request,
    ) -> CallFuture<'a, Result<wit::Response, wit::Error>> {
        Box::pin(async move {
            let request = to_v0_1::request(request)?;
            let output = self
                .lamina_http_request_handler()
                .call_handle(store, &request)
                .await?;
            Ok(output.map(from_v0_1::response).map_err(from_v0_1::error))
        })
    }
}

impl MiddlewareWorld for v0_1::Middleware {
    fn on_request<'a>(
        &'a self,
        store: &'a mut Store<State>,
        request: wit::Request,
    ) -> CallFuture<'a, Result<Action, wit::Error>> {
        Box::pin(async move {
            let request = to_v0_1::request(request)?;
            let output = self
                .lamina_http_request_middleware()
                .call_on_request(store, &request)
                .await?;
            Ok(output.map(from_v0_1::action).map_err(from_v0_1::error))
        })
    }

    fn on_response<'a>(
        &'a self,
        store: &'a mut Store<State>,
        response: wit::Response,
    ) -> CallFuture<'a, Result<wit::Response, wit::Error>> {
        Box::pin(async move {
            let response = to_v0_1::response(response);
            let output = self
                .lamina_http_request_middleware()
                .call_on_response(store, &response)
                .await?;
            Ok(output.map(from_v0_1::response).map_err(from_v0_1::error))
        })
    }
}

/// Moves a record between two versions' bindings whose fields have the same names, each
/// field converted with `Into` (itself where the types are equal).
macro_rules! move_fields {
    ($value:ident => $($to:ident)::+ { $($field:ident),* $(,)? } $(, $name:ident: $set:expr)*) => {
        $($to)::+ { $($field: $value.$field.into(),)* $($name: $set),* }
    };
}

/// The current types as 0.1.0's.
mod to_v0_1 {
    use super::{v0_1, wit};

    /// Fails only for a direct invocation, which 0.1.0 has no `source` for (the config
    /// check keeps such components out of `[direct]`'s chain).
    pub(super) fn request(request: wit::Request) -> wasmtime::Result<v0_1::wit::Request> {
        let c = request.context;
        let source = source(c.source).ok_or_else(|| {
            wasmtime::Error::msg(
                "this component is built against lamina:http@0.1.0, which has no `direct` \
                 source: rebuild it with a 0.2 SDK to serve direct invocations",
            )
        })?;
        let context = move_fields!(c => v0_1::wit::Context {
            request_id, stage, source_ip, user_agent, authorizer, time_epoch_ms, attributes,
        }, source: source);
        Ok(move_fields!(request => v0_1::wit::Request {
            method, path, raw_path, query, raw_query, headers, cookies, body, params, route,
        }, context: context))
    }

    pub(super) fn response(response: wit::Response) -> v0_1::wit::Response {
        move_fields!(response => v0_1::wit::Response { status, headers, body })
    }

    pub(super) fn source(source: wit::Source) -> Option<v0_1::wit::Source> {
        use v0_1::wit::Source as Old;
        Some(match source {
            wit::Source::ApigwRest => Old::ApigwRest,
            wit::Source::ApigwHttpV1 => Old::ApigwHttpV1,
            wit::Source::ApigwHttpV2 => Old::ApigwHttpV2,
            wit::Source::FunctionUrl => Old::FunctionUrl,
            wit::Source::Alb => Old::Alb,
            wit::Source::VpcLatticeV1 => Old::VpcLatticeV1,
            wit::Source::VpcLatticeV2 => Old::VpcLatticeV2,
            wit::Source::Local => Old::Local,
            wit::Source::Direct => return None,
        })
    }
}

/// 0.1.0's types as the current ones.
mod from_v0_1 {
    use super::{Action, v0_1, wit};

    pub(super) fn action(action: v0_1::Action) -> Action {
        match action {
            v0_1::Action::Next(request) => Action::Next(self::request(request)),
            v0_1::Action::Pass(request) => Action::Pass(self::request(request)),
            v0_1::Action::Respond(response) => Action::Respond(self::response(response)),
        }
    }

    fn request(request: v0_1::wit::Request) -> wit::Request {
        let c = request.context;
        let context = move_fields!(c => wit::Context {
            source, request_id, stage, source_ip, user_agent, authorizer, time_epoch_ms,
            attributes,
        });
        move_fields!(request => wit::Request {
            method, path, raw_path, query, raw_query, headers, cookies, body, params, route,
        }, context: context)
    }

    pub(super) fn response(response: v0_1::wit::Response) -> wit::Response {
        move_fields!(response => wit::Response { status, headers, body })
    }

    pub(super) fn error(error: v0_1::wit::Error) -> wit::Error {
        move_fields!(error => wit::Error { status, code, message, details })
    }

    impl From<v0_1::wit::Source> for wit::Source {
        fn from(source: v0_1::wit::Source) -> Self {
            use v0_1::wit::Source as Old;
            match source {
                Old::ApigwRest => Self::ApigwRest,
                Old::ApigwHttpV1 => Self::ApigwHttpV1,
                Old::ApigwHttpV2 => Self::ApigwHttpV2,
                Old::FunctionUrl => Self::FunctionUrl,
                Old::Alb => Self::Alb,
                Old::VpcLatticeV1 => Self::VpcLatticeV1,
                Old::VpcLatticeV2 => Self::VpcLatticeV2,
                Old::Local => Self::Local,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frozen copy is 0.1.0 as it was released (f3db97c's `wit/http.wit`): a released
    /// version is never edited, or components built against it stop matching.
    #[test]
    fn the_frozen_0_1_0_contract_is_unchanged() {
        let frozen = include_bytes!("../../wit-compat/0.1.0/http.wit");
        assert_eq!(
            super::super::sha256_hex(frozen),
            "8b8ecf92a4be2a7500295f2e0187e9262befc9e18751fd776c5eb3cfcf25e4dd"
        );
    }

    /// `SERVED` names the current contract first, as `wit/http.wit` declares it.
    #[test]
    fn served_starts_with_the_current_contract() {
        let current = include_str!("../../wit/http.wit");
        let package = current
            .lines()
            .find_map(|line| line.strip_prefix("package "))
            .and_then(|rest| rest.strip_suffix(';'))
            .expect("a package line");
        assert!(SERVED.starts_with(package), "{SERVED} vs {package}");
        assert_eq!(Contract::V0_2.as_str(), package);
    }

    #[test]
    fn every_source_but_direct_reaches_0_1_0() {
        use wit::Source;
        for source in [
            Source::ApigwRest,
            Source::ApigwHttpV1,
            Source::ApigwHttpV2,
            Source::FunctionUrl,
            Source::Alb,
            Source::VpcLatticeV1,
            Source::VpcLatticeV2,
            Source::Local,
        ] {
            let old = to_v0_1::source(source).expect("0.1.0 has it");
            assert_eq!(wit::Source::from(old), source);
        }
        assert!(to_v0_1::source(Source::Direct).is_none());
    }
}
