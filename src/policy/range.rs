//! `Range` requests answered from a complete cached copy: one byte range
//! (`bytes=a-b`, `bytes=a-`, `bytes=-n`), as RFC 9110 §14 reads them.

use super::text::parse_u64;

/// What a `Range` header asks of a body of `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ranged {
    /// `206`: bytes `start..=end` of `size`.
    Part { start: u64, end: u64 },
    /// `416`: no byte of the body is asked for.
    Unsatisfiable,
    /// The header is not one range this engine serves (another unit, several ranges,
    /// bad syntax): the whole body, `200`, which a server may always answer.
    Whole,
}

/// Resolves `header` against a body of `size` bytes.
pub fn resolve(header: &str, size: u64) -> Ranged {
    let h = header.trim();
    // `split_at_checked`, not `&h[6..]`: a str slice that can fail links core::fmt's
    // boundary-error message into the worker.
    let unit = h.split_at_checked(6).filter(|(u, _)| u.eq_ignore_ascii_case("bytes="));
    let Some(spec) = unit.map(|(_, s)| s.trim()) else {
        return Ranged::Whole;
    };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else { return Ranged::Whole };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // Suffix: the last n bytes.
        let Some(n) = parse_u64(b) else { return Ranged::Whole };
        if n == 0 || size == 0 {
            return Ranged::Unsatisfiable;
        }
        return Ranged::Part { start: size.saturating_sub(n), end: size - 1 };
    }
    let Some(start) = parse_u64(a) else { return Ranged::Whole };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match parse_u64(b) {
            Some(e) if e >= start => e,
            _ => return Ranged::Whole,
        }
    };
    if start >= size {
        return Ranged::Unsatisfiable;
    }
    Ranged::Part { start, end: end.min(size - 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms() {
        assert_eq!(resolve("bytes=0-99", 1000), Ranged::Part { start: 0, end: 99 });
        assert_eq!(resolve("bytes=500-", 1000), Ranged::Part { start: 500, end: 999 });
        assert_eq!(resolve("bytes=-100", 1000), Ranged::Part { start: 900, end: 999 });
        assert_eq!(resolve("bytes=-5000", 1000), Ranged::Part { start: 0, end: 999 });
        assert_eq!(resolve("bytes=900-5000", 1000), Ranged::Part { start: 900, end: 999 });
        assert_eq!(resolve("Bytes= 0-0 ", 1), Ranged::Part { start: 0, end: 0 });
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(resolve("bytes=1000-", 1000), Ranged::Unsatisfiable);
        assert_eq!(resolve("bytes=1000-2000", 1000), Ranged::Unsatisfiable);
        assert_eq!(resolve("bytes=-0", 1000), Ranged::Unsatisfiable);
        assert_eq!(resolve("bytes=0-", 0), Ranged::Unsatisfiable);
        for h in [
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=",
            "",
            "bytes=1",
            "bytes=--1",
            "bytes=+1-2",
        ] {
            assert_eq!(resolve(h, 1000), Ranged::Whole, "{h}");
        }
    }

    /// Property: for random sizes and headers, a `Part` is always inside the body and
    /// is exactly the bytes the header names; `Unsatisfiable` only when no byte is.
    #[test]
    fn property_parts_are_exact() {
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % n
        };
        for _ in 0..20_000 {
            let size = next(3000);
            let (a, b) = (next(3500), next(3500));
            let form = next(3);
            let header = match form {
                0 => cat!("bytes=", a, "-", b),
                1 => cat!("bytes=", a, "-"),
                _ => cat!("bytes=-", b),
            };
            let got = resolve(&header, size);
            // The reference, byte by byte.
            let wanted: Vec<u64> = (0..size)
                .filter(|&i| match form {
                    0 => i >= a && i <= b,
                    1 => i >= a,
                    _ => b > 0 && i >= size.saturating_sub(b),
                })
                .collect();
            match got {
                Ranged::Part { start, end } => {
                    assert!(start <= end && end < size, "{header} on {size}: {got:?}");
                    assert_eq!(wanted, (start..=end).collect::<Vec<_>>(), "{header} on {size}");
                }
                Ranged::Unsatisfiable => assert!(wanted.is_empty(), "{header} on {size}"),
                Ranged::Whole => assert!(form == 0 && b < a, "{header} on {size}: only a backwards range is ignored"),
            }
        }
    }
}
