//! Any bytes as a Lambda payload: decode must return a request or an error, never panic,
//! and a response must encode for whatever origin was recognized.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((origin, _request)) = lamina::event::decode(data, "fuzz") {
        let response = lamina::Response::new(http::StatusCode::OK);
        let _ = lamina::event::encode(origin, &response);
    }
});
