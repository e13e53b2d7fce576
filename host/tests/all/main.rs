//! Integration tests: real components built from source, the real `lamina` binary, a
//! Runtime API server and an HTTP client on loopback. Run through `cargo xtask test`, which
//! builds the guests first.

mod aws;
mod bundle;
mod cli;
mod contract;
mod deploy;
mod direct;
mod event_limits;
mod guest_output;
mod guests;
mod http;
mod kv;
mod lambda_events;
mod lambda_loop;
mod loading;
mod middleware;
mod moto;
mod observe;
mod openapi;
mod outbound;
mod polyglot;
mod proxy;
mod publish;
mod readme;
mod reuse;
mod rie;
mod s3;
mod scaffold;
mod semantics;
mod serve;
mod serve_limits;
mod sources;
mod support;
mod todos_dynamodb;
