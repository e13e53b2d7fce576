//! Capturing a guest's stdout and stderr for one request without letting it fail or grow.
//!
//! Writes always succeed: past the capacity the middle of the output is dropped, so a
//! chatty `println!` never turns a working handler into a 500. The first half of the
//! capacity keeps the start of the output and the second half the most recent bytes — a
//! panic message, written last, is always there.

use bytes::Bytes;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes of stdout/stderr kept per component per request unless `max-output` says
/// otherwise.
pub const DEFAULT_MAX_OUTPUT: usize = 64 << 10;

/// A guest's stdout and stderr (one stream, as a terminal would show them).
#[derive(Clone)]
pub(crate) struct GuestOutput(Arc<Mutex<Captured>>);

struct Captured {
    /// Bytes kept from the start, up to half the capacity.
    head: Vec<u8>,
    /// The most recent bytes after the head, up to the other half.
    tail: VecDeque<u8>,
    half: usize,
    /// Bytes between head and tail that were not kept.
    dropped: usize,
}

impl Captured {
    fn push(&mut self, mut bytes: &[u8]) {
        let room = self.half.saturating_sub(self.head.len()).min(bytes.len());
        self.head.extend_from_slice(&bytes[..room]);
        bytes = &bytes[room..];
        if bytes.is_empty() {
            return;
        }
        if bytes.len() >= self.half {
            self.dropped += self.tail.len() + bytes.len() - self.half;
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.half..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.half);
        self.tail.drain(..overflow);
        self.dropped += overflow;
        self.tail.extend(bytes);
    }
}

impl GuestOutput {
    /// A capture that keeps at most `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        Self(Arc::new(Mutex::new(Captured {
            head: Vec::new(),
            tail: VecDeque::new(),
            half: (capacity / 2).max(1),
            dropped: 0,
        })))
    }

    /// Whether more was written than `max-output` keeps.
    pub(crate) fn overflowed(&self) -> bool {
        self.with(|c| c.dropped > 0)
    }

    /// Forgets what was kept: a reused instance's next request starts with none.
    pub(crate) fn clear(&self) {
        self.with(|c| {
            c.head.clear();
            c.tail.clear();
            c.dropped = 0;
        });
    }

    fn with<R>(&self, f: impl FnOnce(&mut Captured) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// What was kept, as text (invalid UTF-8 replaced), with a marker where bytes were
    /// dropped.
    pub(crate) fn contents(&self) -> String {
        self.with(|c| {
            let mut out = String::from_utf8_lossy(&c.head).into_owned();
            if c.dropped > 0 {
                out.push_str(&format!("\n…[{} bytes dropped]…\n", c.dropped));
            }
            let (a, b) = c.tail.as_slices();
            out.push_str(&String::from_utf8_lossy(&[a, b].concat()));
            out
        })
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.with(|c| c.push(&bytes));
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always room: what does not fit is dropped, never refused.
        Ok(1 << 20)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.with(|c| c.push(buf));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_the_start_and_the_end_and_never_grows() {
        let out = GuestOutput::new(30);
        out.with(|c| c.push(b"0123456789"));
        assert_eq!(out.contents(), "0123456789");
        out.with(|c| c.push(b"abcdefghij"));
        assert_eq!(out.contents(), "0123456789abcdefghij");
        for _ in 0..1000 {
            out.with(|c| c.push(b"noise noise "));
        }
        out.with(|c| c.push(b"PANIC: boom"));
        let text = out.contents();
        assert!(
            text.starts_with("0123456789abcde\n…[12001 bytes dropped]…\n"),
            "{text}"
        );
        assert!(text.ends_with("ise PANIC: boom"), "{text}");
        out.with(|c| assert!(c.head.len() <= 15 && c.tail.len() <= 15));
        let big = GuestOutput::new(20);
        big.with(|c| c.push(&[b'x'; 1000]));
        big.with(|c| assert_eq!((c.head.len(), c.tail.len(), c.dropped), (10, 10, 980)));
    }
}
