//! One entity's embeddings by slot, for the vector source of recall: `f32` for exact cosine
//! scores, and an `int8` copy (one scale per vector) that large indexes scan first, a quarter
//! of the memory traffic, before the best candidates are scored exactly.
//!
//! Small indexes are scanned exactly. Above [`EXACT_UP_TO`] vectors the `int8` pass keeps
//! [`OVERSCAN`] times the candidates asked for and rescores them with `f32`, so the scores
//! returned are always exact; only the membership of the last few places could differ from a
//! full exact scan, when quantisation error exceeds the gap between the candidates (measured
//! in BENCHMARKS.md).

use super::rank;

/// Up to this many vectors, every kept vector is scored exactly.
pub(crate) const EXACT_UP_TO: usize = 4_096;

/// How many times the requested candidates the coarse pass keeps for exact rescoring.
pub(crate) const OVERSCAN: usize = 4;

/// Embeddings by slot.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vectors {
    dim: usize,
    exact: Vec<f32>,
    coarse: Vec<i8>,
    scales: Vec<f32>,
    present: Vec<bool>,
    count: usize,
}

/// `v` as int8 with its scale (`v ≈ q × scale`).
fn quantize(v: &[f32], out: &mut [i8]) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        out.fill(0);
        return 0.0;
    }
    let scale = max / 127.0;
    for (o, x) in out.iter_mut().zip(v) {
        *o = (x / scale).round().clamp(-127.0, 127.0) as i8;
    }
    scale
}

fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum()
}

impl Vectors {
    /// Vectors of this length (0: none yet; the first vector set decides).
    pub(crate) fn with_dim(dim: usize) -> Self {
        Self { dim, ..Self::default() }
    }

    /// Vector length.
    #[cfg(test)]
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }

    /// Vectors present.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Set or clear the vector of `slot`. A vector of another length than the others is
    /// treated as absent (it comes from another model).
    pub(crate) fn set(&mut self, slot: usize, v: Option<&[f32]>) {
        if self.dim == 0
            && let Some(v) = v
        {
            self.dim = v.len();
        }
        let dim = self.dim;
        if self.present.len() <= slot {
            self.present.resize(slot + 1, false);
            self.scales.resize(slot + 1, 0.0);
        }
        // Also when the length was learned only now, after slots without vectors.
        let need = self.present.len() * dim;
        if self.exact.len() < need {
            self.exact.resize(need, 0.0);
            self.coarse.resize(need, 0);
        }
        let was = self.present[slot];
        match v.filter(|v| v.len() == dim && dim > 0) {
            Some(v) => {
                self.exact[slot * dim..(slot + 1) * dim].copy_from_slice(v);
                self.scales[slot] = quantize(v, &mut self.coarse[slot * dim..(slot + 1) * dim]);
                self.present[slot] = true;
            }
            None => self.present[slot] = false,
        }
        self.count = self.count + usize::from(self.present[slot]) - usize::from(was);
    }

    /// The vector of `slot`, if it has one.
    pub(crate) fn get(&self, slot: usize) -> Option<&[f32]> {
        self.present.get(slot).copied().unwrap_or(false).then(|| &self.exact[slot * self.dim..(slot + 1) * self.dim])
    }

    /// The `k` best slots for `query` among those `keep` accepts, with exact cosine scores,
    /// best first; ties go to the smaller `order(slot)`.
    pub(crate) fn top(
        &self,
        query: &[f32],
        keep: impl Fn(usize) -> bool,
        order: impl Fn(usize) -> i64,
        k: usize,
    ) -> Vec<(usize, f64)> {
        if query.len() != self.dim || self.dim == 0 || k == 0 {
            return Vec::new();
        }
        let dim = self.dim;
        let candidates: Vec<usize> = if self.count <= EXACT_UP_TO {
            (0..self.present.len()).filter(|&i| self.present[i] && keep(i)).collect()
        } else {
            let mut q8 = vec![0i8; dim];
            let q_scale = quantize(query, &mut q8);
            let mut coarse: Vec<(f32, u32)> = (0..self.present.len())
                .filter(|&i| self.present[i] && keep(i))
                .map(|i| {
                    let d = dot_i8(&q8, &self.coarse[i * dim..(i + 1) * dim]);
                    (d as f32 * q_scale * self.scales[i], i as u32)
                })
                .collect();
            let keep_n = (k * OVERSCAN).max(k + 64);
            if coarse.len() > keep_n {
                coarse.select_nth_unstable_by(keep_n, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                coarse.truncate(keep_n);
            }
            coarse.into_iter().map(|(_, i)| i as usize).collect()
        };
        let scored: Vec<(usize, f64)> = candidates
            .into_iter()
            .map(|i| (i, f64::from(rank::dot(query, &self.exact[i * dim..(i + 1) * dim]))))
            .collect();
        best(scored, k, order)
    }

    /// Approximate heap size.
    pub(crate) fn bytes(&self) -> usize {
        self.exact.capacity() * 4 + self.coarse.capacity() + self.scales.capacity() * 4 + self.present.capacity()
    }
}

/// The best `k` of `(slot, score)`, best first; ties go to the smaller `order(slot)` (the
/// memory id), so the result does not depend on where a memory sits in the index.
pub(crate) fn best(mut scored: Vec<(usize, f64)>, k: usize, order: impl Fn(usize) -> i64) -> Vec<(usize, f64)> {
    let cmp = |a: &(usize, f64), b: &(usize, f64)| b.1.total_cmp(&a.1).then(order(a.0).cmp(&order(b.0)));
    if scored.len() > k {
        scored.select_nth_unstable_by(k, cmp);
        scored.truncate(k);
    }
    scored.sort_unstable_by(cmp);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        crate::embed::normalize(&mut v);
        v
    }

    #[test]
    fn the_coarse_pass_finds_the_exact_top_and_scores_exactly() {
        let dim = 64;
        let mut exact = Vectors::with_dim(dim);
        let n = EXACT_UP_TO + 4_000;
        for i in 0..n {
            exact.set(i, Some(&unit(i as u64, dim)));
        }
        assert_eq!(exact.len(), n);
        let q = unit(999_999, dim);
        let got = exact.top(&q, |i| i % 3 != 0, |i| i as i64, 50);
        // The reference: every kept vector scored exactly.
        let all: Vec<(usize, f64)> =
            (0..n).filter(|i| i % 3 != 0).map(|i| (i, f64::from(rank::dot(&q, exact.get(i).unwrap())))).collect();
        let want = best(all, 50, |i| i as i64);
        assert_eq!(got, want);
    }

    #[test]
    fn the_length_can_be_learned_after_slots_without_vectors() {
        let mut v = Vectors::default();
        for slot in 0..4 {
            v.set(slot, None);
        }
        v.set(2, Some(&[0.6, 0.8]));
        v.set(5, Some(&[1.0, 0.0]));
        assert_eq!(v.top(&[1.0, 0.0], |_| true, |i| i as i64, 5).iter().map(|t| t.0).collect::<Vec<_>>(), [5, 2]);
    }

    #[test]
    fn slots_can_be_cleared_and_vectors_of_another_length_are_absent() {
        let mut v = Vectors::default();
        v.set(2, Some(&[0.6, 0.8]));
        v.set(0, Some(&[1.0, 0.0, 0.0]));
        assert_eq!((v.dim(), v.len()), (2, 1));
        assert!(v.get(0).is_none() && v.get(1).is_none());
        let top = v.top(&[1.0, 0.0], |_| true, |i| i as i64, 5);
        assert_eq!(top.len(), 1);
        assert!((top[0].1 - 0.6).abs() < 1e-6);
        v.set(2, None);
        assert_eq!(v.len(), 0);
        assert!(v.top(&[1.0, 0.0], |_| true, |i| i as i64, 5).is_empty());
    }
}
