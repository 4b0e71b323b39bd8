//! Hydration scheduler state machine (see PRODUCT.md, Page module → hydrate). Work in progress.
