//! Integration tests: real components built from source, the real `lamina` binary, a
//! Runtime API server and an HTTP client on loopback. Run through `cargo xtask test`, which
//! builds the guests first.

mod cli;
mod guests;
mod http;
mod lambda_loop;
mod loading;
mod middleware;
mod s3;
mod serve;
mod sources;
mod support;
