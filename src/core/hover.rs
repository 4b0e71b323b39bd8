//! Hover prefetch intent: a link is prefetched once the pointer has rested on it for
//! the intent delay, or at once on touch/focus; each URL once, same-origin only.

use std::collections::HashSet;

use super::url;

/// Default intent delay: long enough to skip links the pointer only crosses.
pub const DEFAULT_DELAY_MS: u32 = 65;

#[derive(Debug)]
pub struct HoverIntent {
    origin: String,
    delay_ms: u32,
    seen: HashSet<String>,
    /// The link the pointer rests on, waiting for the delay.
    pending: Option<String>,
}

impl HoverIntent {
    pub fn new(origin: &str, delay_ms: u32) -> HoverIntent {
        HoverIntent { origin: origin.to_string(), delay_ms, seen: HashSet::new(), pending: None }
    }

    fn wanted(&self, href: &str) -> bool {
        url::same_origin_path(href, &self.origin).is_some() && !self.seen.contains(strip_fragment(href))
    }

    /// The pointer entered a link: `Some(delay)` means arm a timer and call [`fire`].
    pub fn enter(&mut self, href: &str) -> Option<u32> {
        if !self.wanted(href) {
            return None;
        }
        self.pending = Some(strip_fragment(href).to_string());
        Some(self.delay_ms)
    }

    /// The pointer left `href` before the delay: `true` means cancel the timer.
    pub fn leave(&mut self, href: &str) -> bool {
        if self.pending.as_deref() == Some(strip_fragment(href)) {
            self.pending = None;
            true
        } else {
            false
        }
    }

    /// The timer fired: the URL to prefetch, if the pointer is still there.
    pub fn fire(&mut self) -> Option<String> {
        let href = self.pending.take()?;
        self.seen.insert(href.clone()).then_some(href)
    }

    /// Touch or keyboard focus: prefetch at once.
    pub fn now(&mut self, href: &str) -> Option<String> {
        if !self.wanted(href) {
            return None;
        }
        let href = strip_fragment(href).to_string();
        if self.pending.as_deref() == Some(href.as_str()) {
            self.pending = None;
        }
        self.seen.insert(href.clone());
        Some(href)
    }
}

fn strip_fragment(href: &str) -> &str {
    href.split('#').next().unwrap_or(href)
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: &str = "http://localhost:8080";

    #[test]
    fn rest_then_fire_once() {
        let mut h = HoverIntent::new(O, 65);
        assert_eq!(h.enter("http://localhost:8080/promo/a"), Some(65));
        assert_eq!(h.fire().as_deref(), Some("http://localhost:8080/promo/a"));
        assert_eq!(h.fire(), None, "timer fires once");
        assert_eq!(h.enter("http://localhost:8080/promo/a#top"), None, "each URL once (fragment ignored)");
        assert_eq!(h.now("http://localhost:8080/promo/a"), None);
    }

    #[test]
    fn leaving_early_cancels() {
        let mut h = HoverIntent::new(O, 65);
        h.enter("http://localhost:8080/promo/a");
        assert!(h.leave("http://localhost:8080/promo/a"));
        assert_eq!(h.fire(), None);
        assert!(!h.leave("http://localhost:8080/promo/a"));
        // Not seen yet: a later, longer hover still prefetches it.
        assert!(h.enter("http://localhost:8080/promo/a").is_some());
        assert!(h.fire().is_some());
    }

    #[test]
    fn moving_to_another_link_replaces_the_pending_one() {
        let mut h = HoverIntent::new(O, 65);
        h.enter("http://localhost:8080/a");
        h.enter("http://localhost:8080/b");
        assert!(!h.leave("http://localhost:8080/a"), "the old link's leave doesn't cancel b");
        assert_eq!(h.fire().as_deref(), Some("http://localhost:8080/b"));
    }

    #[test]
    fn touch_is_immediate_and_cross_origin_ignored() {
        let mut h = HoverIntent::new(O, 65);
        assert_eq!(h.now("http://localhost:8080/t").as_deref(), Some("http://localhost:8080/t"));
        assert_eq!(h.now("http://localhost:8080/t"), None);
        assert_eq!(h.enter("https://other.example.com/x"), None);
        assert_eq!(h.now("https://other.example.com/x"), None);
        assert_eq!(h.now("mailto:someone@example.com"), None);
    }
}
