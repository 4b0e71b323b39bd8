//! A small in-place heapsort: the standard library's sorts add several KB of code to the
//! worker's wasm for lists (invalidation URLs) where O(n log n) is all that matters.

/// Sorts `v` so that no element is `less` than the one before it (not stable).
pub fn heapsort_by<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    heap_pop(v, v.len(), &less);
}

/// Moves the `n` least elements of `v` to its front, sorted (the others after them in no
/// order): O(len + n log len), for eviction plans that pick a few victims among many keys.
pub fn least_first_by<T>(v: &mut [T], n: usize, less: impl Fn(&T, &T) -> bool) {
    let n = n.min(v.len());
    heap_pop(v, n, &|a: &T, b: &T| less(b, a));
    v.reverse();
}

/// Heapifies `v` by `less` (greatest at the root), then moves the `n` greatest to its end.
fn heap_pop<T>(v: &mut [T], n: usize, less: &impl Fn(&T, &T) -> bool) {
    let sift_down = |v: &mut [T], mut node: usize, end: usize| loop {
        let mut child = 2 * node + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[node], &v[child]) {
            break;
        }
        v.swap(node, child);
        node = child;
    };
    for i in (0..v.len() / 2).rev() {
        sift_down(v, i, v.len());
    }
    for end in (v.len().saturating_sub(n).max(1)..v.len()).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `len` values below 50 from a xorshift generator (`seed` carried from call to call).
    fn random(seed: &mut u64, len: usize) -> Vec<u32> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                (*seed % 50) as u32
            })
            .collect()
    }

    #[test]
    fn sorts_like_the_standard_library() {
        let mut seed = 0x2545_f491_u64;
        for len in [0usize, 1, 2, 3, 7, 64, 501] {
            let mut v = random(&mut seed, len);
            let mut expected = v.clone();
            expected.sort();
            heapsort_by(&mut v, |a, b| a < b);
            assert_eq!(v, expected, "len {len}");
        }
    }

    #[test]
    fn least_first_puts_the_n_least_in_front_in_order() {
        let mut seed = 0x2545_f491_u64;
        for len in [0usize, 1, 2, 3, 7, 64, 501] {
            for n in [0, 1, 2, len / 2, len, len + 3] {
                let mut v = random(&mut seed, len);
                let mut expected = v.clone();
                expected.sort();
                least_first_by(&mut v, n, |a, b| a < b);
                let k = n.min(len);
                assert_eq!(v[..k], expected[..k], "len {len} n {n}");
                let mut rest = v[k..].to_vec();
                rest.sort();
                assert_eq!(rest, expected[k..], "len {len} n {n}: the others are kept");
            }
        }
    }
}
