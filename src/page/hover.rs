//! `prefetchOnHover(selector, opts)`. Work in progress.
