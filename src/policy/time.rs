//! ISO 8601 timestamps ↔ milliseconds since the Unix epoch, without allocation-heavy
//! formatting. Stamps are written as `YYYY-MM-DDTHH:MM:SS.mmmZ` (what
//! `Date.prototype.toISOString` writes); parsing also accepts a missing fraction or
//! seconds, up to 9 fraction digits, and `±HH:MM` offsets.

use super::prelude::*;

/// Length of a stamp written by [`format_iso`].
pub const ISO_LEN: usize = 24;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Writes `ms` (epoch milliseconds, years 0000–9999) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_iso(ms: f64) -> [u8; ISO_LEN] {
    let t = ms as i64;
    let ms = if (t as f64) > ms { t - 1 } else { t };
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    let y = y.clamp(0, 9999);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, mo);
    put(8, 2, d);
    put(11, 2, rem / 3_600_000);
    put(14, 2, rem / 60_000 % 60);
    put(17, 2, rem / 1000 % 60);
    put(20, 3, rem % 1000);
    out
}

/// `format_iso` as a `String` (for places that need one, e.g. a header value).
pub fn iso_string(ms: f64) -> String {
    // Only ASCII digits and separators are ever written: each byte is its char (no UTF-8
    // validation linked into the worker).
    format_iso(ms).iter().map(|&b| char::from(b)).collect()
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let s = self.b.get(self.at..self.at + n)?;
        let mut v = 0i64;
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        self.at += n;
        Some(v)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }
}

/// Parses an ISO 8601 date-time with a zone (`Z` or `±HH:MM`) into epoch milliseconds.
/// Returns `None` for anything else, including impossible dates.
pub fn parse_iso(s: &str) -> Option<f64> {
    let mut c = Cursor { b: s.as_bytes(), at: 0 };
    let y = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let mo = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    if !(c.eat(b'T') || c.eat(b't')) {
        return None;
    }
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    let mut sec = 0;
    let mut frac_ms = 0i64;
    if c.eat(b':') {
        sec = c.digits(2)?;
        if c.eat(b'.') {
            let start = c.at;
            let mut scale = 100;
            while let Some(ch) = c.peek().filter(u8::is_ascii_digit) {
                frac_ms += i64::from(ch - b'0') * scale;
                scale /= 10;
                c.at += 1;
            }
            let n = c.at - start;
            if n == 0 || n > 9 {
                return None;
            }
        }
    }
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let offset_min = if c.eat(b'Z') || c.eat(b'z') {
        0
    } else {
        let sign = match c.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return None,
        };
        c.at += 1;
        let oh = c.digits(2)?;
        if !c.eat(b':') {
            return None;
        }
        let om = c.digits(2)?;
        if oh > 23 || om > 59 {
            return None;
        }
        sign * (oh * 60 + om)
    };
    if c.at != c.b.len() {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let ms = ((days * 24 + h) * 60 + mi - offset_min) * 60_000 + sec * 1000 + frac_ms;
    Some(ms as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(ms: f64) -> String {
        iso_string(ms)
    }

    #[test]
    fn formats_like_to_iso_string() {
        assert_eq!(fmt(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(fmt(1_795_000_000_123.0), "2026-11-18T11:06:40.123Z");
        assert_eq!(fmt(951_782_400_000.0), "2000-02-29T00:00:00.000Z");
        assert_eq!(fmt(-1.0), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_formats_over_a_wide_range() {
        let mut ms = -2_000_000_000_000.0;
        while ms < 4_000_000_000_000.0 {
            assert_eq!(parse_iso(&fmt(ms)), Some(ms), "{}", fmt(ms));
            ms += 7_777_777_777.0 + 1.0;
        }
    }

    #[test]
    fn parses_variants() {
        assert_eq!(parse_iso("1970-01-01T00:00Z"), Some(0.0));
        assert_eq!(parse_iso("1970-01-01T00:00:01Z"), Some(1000.0));
        assert_eq!(parse_iso("1970-01-01T00:00:00.5Z"), Some(500.0));
        assert_eq!(parse_iso("1970-01-01T00:00:00.123456789Z"), Some(123.0));
        assert_eq!(parse_iso("1970-01-01T01:00:00+01:00"), Some(0.0));
        assert_eq!(parse_iso("1969-12-31T23:00:00-01:00"), Some(0.0));
    }

    #[test]
    fn rejects_garbage_and_impossible_dates() {
        for bad in [
            "",
            "yesterday",
            "2026-11-24",
            "2026-11-24T10:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T10:60:00Z",
            "2026-11-24T10:00:00.Z",
            "2026-11-24T10:00:00.1234567891Z",
            "2026-11-24T10:00:00Zjunk",
            "2026-11-24T10:00:00+0100",
            "+02026-11-24T10:00:00Z",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
        assert!(parse_iso("2024-02-29T00:00:00Z").is_some());
    }
}
