//! What both wasm builds (`sw`, `page`) share: the allocator, a trapping panic handler
//! (the executor sees a `WebAssembly.RuntimeError`; the worker then fails open), and the
//! single-threaded global holding a build's state with the two text buffers its executor
//! writes into and reads from.

use ::core::cell::UnsafeCell;

use crate::core::prelude::*;

#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[panic_handler]
fn panic(_: &::core::panic::PanicInfo<'_>) -> ! {
    ::core::arch::wasm32::unreachable()
}

/// A build's state. Wasm here is single-threaded, and an executor never calls in again
/// while a call runs (no import calls back), so one `&mut` at a time is guaranteed.
pub(crate) struct Global<T>(UnsafeCell<T>);

#[allow(unsafe_code, reason = "a `static` needs `Sync`; wasm32 here has one thread")]
// SAFETY: see above; there is no second thread.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    pub(crate) const fn new(v: T) -> Self {
        Global(UnsafeCell::new(v))
    }

    #[allow(unsafe_code, clippy::mut_from_ref, reason = "the one `&mut` into the global (see the type's doc)")]
    pub(crate) fn get(&self) -> &mut T {
        // SAFETY: single-threaded and not re-entered (see the type's doc).
        unsafe { &mut *self.0.get() }
    }
}

/// The text the executor hands in (`input`) and the text it reads back (`out`).
pub(crate) struct Io {
    pub(crate) input: Vec<u8>,
    pub(crate) out: String,
}

impl Io {
    pub(crate) const fn new() -> Self {
        Io { input: Vec::new(), out: String::new() }
    }

    /// A buffer of at least `len` bytes for the next call's text.
    pub(crate) fn buf(&mut self, len: u32) -> *mut u8 {
        if self.input.len() < len as usize {
            self.input.resize(len as usize, 0);
        }
        self.input.as_mut_ptr()
    }

    /// The first `len` bytes the executor wrote, as text ("" if not UTF-8).
    pub(crate) fn text(&self, len: u32) -> &str {
        ::core::str::from_utf8(self.input.get(..len as usize).unwrap_or(&[])).unwrap_or("")
    }
}
