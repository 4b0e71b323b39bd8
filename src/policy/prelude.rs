//! The allocation types every core module uses, from `alloc` so the worker build can be
//! `no_std` (no formatting or panic machinery in its wasm).

pub use alloc::borrow::ToOwned;
pub use alloc::boxed::Box;
pub use alloc::rc::Rc;
pub use alloc::string::String;
pub use alloc::vec;
pub use alloc::vec::Vec;
