//! The route table: path templates and methods to targets, built once per config.
//!
//! Templates use `{name}` for one segment and `{*name}` for the rest of the path; API
//! Gateway's `{name+}` is accepted as a spelling of `{*name}`. Matching is exact: a
//! trailing slash is part of the path (`/todos/` does not match `/todos`). Paths are
//! matched in routing form (decoded except `%2F` and `%25`), so `/files/a%2Fb` matches
//! `/files/{name}` with `name = "a/b"`.

use crate::request::Fields;
use http::Method;
use std::sync::Arc;

/// Which methods a binding answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MethodFilter {
    /// Every method.
    Any,
    /// One method.
    One(Method),
}

impl MethodFilter {
    /// Parses `GET`, `post`, `ANY`, ...
    ///
    /// # Errors
    ///
    /// A message naming the text when it is not an HTTP method token.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("any") || text == "*" {
            return Ok(Self::Any);
        }
        Method::from_bytes(text.to_ascii_uppercase().as_bytes())
            .map(Self::One)
            .map_err(|_| format!("{text:?} is not an HTTP method (or ANY)"))
    }

    fn matches(&self, method: &Method) -> bool {
        match self {
            Self::Any => true,
            Self::One(m) => m == method,
        }
    }
}

impl std::fmt::Display for MethodFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any => f.write_str("ANY"),
            Self::One(method) => f.write_str(method.as_str()),
        }
    }
}

struct Binding<T> {
    method: MethodFilter,
    target: T,
    /// Where the binding came from, for error messages (e.g. `routes[3]`).
    origin: String,
}

struct PathEntry<T> {
    template: Arc<str>,
    bindings: Vec<Binding<T>>,
}

/// A route table from path templates and methods to targets of type `T`.
pub struct Routes<T> {
    router: matchit::Router<usize>,
    paths: Vec<PathEntry<T>>,
}

/// A matched route.
#[derive(Debug)]
pub struct Hit<'a, T> {
    /// The bound target.
    pub target: &'a T,
    /// The template as written in the config.
    pub template: &'a Arc<str>,
    /// Parameters in template order, percent-decoded after matching (routing runs on the
    /// routing form of the path, [`crate::Request::route_path`], where an encoded slash is
    /// still one segment).
    pub params: Fields,
}

/// Why no route matched.
#[derive(Debug, PartialEq, Eq)]
pub enum Miss {
    /// No template matches the path.
    NotFound,
    /// The path exists but not for this method; `allow` lists what it does answer.
    MethodNotAllowed {
        /// Methods bound for this path, for the `Allow` header.
        allow: Vec<Method>,
    },
}

/// Converts a config template to matchit's syntax: `{proxy+}` → `{*proxy}`.
fn to_matchit(template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 1);
    for (i, segment) in template.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            Some(name) => {
                out.push_str("{*");
                out.push_str(name);
                out.push('}');
            }
            None => out.push_str(segment),
        }
    }
    out
}

impl<T> Default for Routes<T> {
    fn default() -> Self {
        Self {
            router: matchit::Router::new(),
            paths: Vec::new(),
        }
    }
}

impl<T> Routes<T> {
    /// Adds a binding. `origin` names where it came from (`routes[3]`) for messages.
    ///
    /// # Errors
    ///
    /// When the template is invalid, conflicts with another template, or the same method
    /// is already bound for the same template; the message names both bindings.
    pub fn add(
        &mut self,
        method: MethodFilter,
        template: &str,
        target: T,
        origin: &str,
    ) -> Result<(), String> {
        let key = to_matchit(template);
        let existing = self
            .paths
            .iter()
            .position(|p| to_matchit(&p.template) == key);
        let index = match existing {
            Some(index) => index,
            None => {
                self.router
                    .insert(key.as_str(), self.paths.len())
                    .map_err(|e| match &e {
                        matchit::InsertError::Conflict { with } => {
                            let other = self
                                .paths
                                .iter()
                                .find(|p| to_matchit(&p.template) == *with)
                                .and_then(|p| p.bindings.first())
                                .map_or_else(|| with.clone(), |b| b.origin.clone());
                            format!("{origin}: path {template:?} conflicts with {other} ({with:?})")
                        }
                        other => {
                            format!("{origin}: path {template:?} is not a valid route: {other}")
                        }
                    })?;
                self.paths.push(PathEntry {
                    template: Arc::from(template),
                    bindings: Vec::new(),
                });
                self.paths.len() - 1
            }
        };
        let entry = &mut self.paths[index];
        if let Some(dup) = entry.bindings.iter().find(|b| {
            b.method == method || b.method == MethodFilter::Any || method == MethodFilter::Any
        }) {
            return Err(format!(
                "{origin}: {} {template} is already bound by {}",
                match &method {
                    MethodFilter::Any => "ANY".to_owned(),
                    MethodFilter::One(m) => m.to_string(),
                },
                dup.origin
            ));
        }
        entry.bindings.push(Binding {
            method,
            target,
            origin: origin.to_owned(),
        });
        Ok(())
    }

    /// Every binding: its methods, its template and its target, path by path in the
    /// order the paths were first added.
    pub fn iter(&self) -> impl Iterator<Item = (&MethodFilter, &str, &T)> {
        self.paths.iter().flat_map(|path| {
            path.bindings
                .iter()
                .map(move |b| (&b.method, &*path.template, &b.target))
        })
    }

    /// Finds the binding for `method` and `path`. `HEAD` falls back to `GET`.
    ///
    /// # Errors
    ///
    /// [`Miss::NotFound`] or [`Miss::MethodNotAllowed`] with the methods the path allows.
    pub fn at(&self, method: &Method, path: &str) -> Result<Hit<'_, T>, Miss> {
        let matched = self.router.at(path).map_err(|_| Miss::NotFound)?;
        let entry = &self.paths[*matched.value];
        let binding = entry
            .bindings
            .iter()
            .find(|b| b.method.matches(method))
            .or_else(|| {
                (method == Method::HEAD)
                    .then(|| {
                        entry
                            .bindings
                            .iter()
                            .find(|b| b.method.matches(&Method::GET))
                    })
                    .flatten()
            });
        let Some(binding) = binding else {
            return Err(Miss::MethodNotAllowed {
                allow: Self::allowed(entry),
            });
        };
        let params = matched
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), crate::event::decode_param(v)))
            .collect();
        Ok(Hit {
            target: &binding.target,
            template: &entry.template,
            params,
        })
    }

    /// The first binding's target for `path`, whatever its method: host policies for a
    /// `405` come from the path's own routes.
    #[must_use]
    pub fn first(&self, path: &str) -> Option<&T> {
        let matched = self.router.at(path).ok()?;
        self.paths[*matched.value]
            .bindings
            .first()
            .map(|b| &b.target)
    }

    /// The methods `path` answers, or `None` when no template matches it. `ANY` lists the
    /// common methods.
    #[must_use]
    pub fn methods(&self, path: &str) -> Option<Vec<Method>> {
        let matched = self.router.at(path).ok()?;
        let entry = &self.paths[*matched.value];
        if entry.bindings.iter().any(|b| b.method == MethodFilter::Any) {
            return Some(vec![
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ]);
        }
        Some(Self::allowed(entry))
    }

    fn allowed(entry: &PathEntry<T>) -> Vec<Method> {
        let mut allow: Vec<Method> = entry
            .bindings
            .iter()
            .filter_map(|b| match &b.method {
                MethodFilter::One(m) => Some(m.clone()),
                MethodFilter::Any => None,
            })
            .collect();
        if allow.contains(&Method::GET) && !allow.contains(&Method::HEAD) {
            allow.push(Method::HEAD);
        }
        allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Routes<&'static str> {
        let mut routes = Routes::default();
        let bindings = [
            ("GET", "/todos", "list"),
            ("POST", "/todos", "create"),
            ("GET", "/todos/{id}", "get"),
            ("ANY", "/files/{*rest}", "files"),
            ("GET", "/{proxy+}", "proxy"),
        ];
        for (i, (method, path, target)) in bindings.into_iter().enumerate() {
            routes
                .add(
                    MethodFilter::parse(method).unwrap(),
                    path,
                    target,
                    &format!("routes[{i}]"),
                )
                .unwrap();
        }
        routes
    }

    #[test]
    fn matches_methods_params_and_catch_alls() {
        let routes = table();
        type Case = (
            Method,
            &'static str,
            &'static str,
            &'static [(&'static str, &'static str)],
        );
        let cases: &[Case] = &[
            (Method::GET, "/todos", "list", &[]),
            (Method::POST, "/todos", "create", &[]),
            (Method::HEAD, "/todos", "list", &[]),
            (Method::GET, "/todos/7", "get", &[("id", "7")]),
            (Method::GET, "/todos/a b", "get", &[("id", "a b")]),
            (
                Method::DELETE,
                "/files/a/b.txt",
                "files",
                &[("rest", "a/b.txt")],
            ),
            (
                Method::GET,
                "/other/thing",
                "proxy",
                &[("proxy", "other/thing")],
            ),
        ];
        for (method, path, target, params) in cases {
            let hit = routes.at(method, path).unwrap();
            assert_eq!(*hit.target, *target, "{method} {path}");
            let got: Vec<(&str, &str)> = hit
                .params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(got, *params, "{method} {path}");
        }
    }

    #[test]
    fn wrong_method_lists_allowed_methods() {
        let routes = table();
        assert_eq!(
            routes.at(&Method::DELETE, "/todos").unwrap_err(),
            Miss::MethodNotAllowed {
                allow: vec![Method::GET, Method::POST, Method::HEAD]
            }
        );
    }

    #[test]
    fn conflicts_and_duplicates_name_both_routes() {
        let mut routes = table();
        let error = routes
            .add(
                MethodFilter::One(Method::GET),
                "/todos",
                "again",
                "routes[9]",
            )
            .unwrap_err();
        assert_eq!(error, "routes[9]: GET /todos is already bound by routes[0]");
        let error = routes
            .add(MethodFilter::Any, "/todos/{id}", "any", "routes[10]")
            .unwrap_err();
        assert!(error.contains("already bound by routes[2]"), "{error}");
        let error = routes
            .add(
                MethodFilter::One(Method::GET),
                "/todos/{name}",
                "x",
                "routes[11]",
            )
            .unwrap_err();
        assert!(
            error.starts_with("routes[11]: path \"/todos/{name}\" conflicts with routes[2]"),
            "{error}"
        );
    }

    #[test]
    fn api_gateway_proxy_spelling_is_a_catch_all() {
        assert_eq!(to_matchit("/{proxy+}"), "/{*proxy}");
        assert_eq!(to_matchit("/a/{id}/{rest+}"), "/a/{id}/{*rest}");
    }
}
