//! The set of values a merge parameter may take: an interval with closed, open or absent
//! ends. Each [`ParamDef`](super::registry::ParamDef) carries one, and config validation,
//! `mergesearch methods` and the search space's bounds all check against it.

use std::fmt;

/// One end of an interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// No limit on this side (−∞ or +∞).
    Unbounded,
    /// The end value belongs to the domain (`[` or `]`).
    Closed(f64),
    /// The end value does not belong to the domain (`(` or `)`).
    Open(f64),
}

/// An interval of the real line; integer-ness and booleans are the parameter's
/// [`Kind`](super::registry::Kind).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Domain {
    /// Lower end.
    pub lo: Bound,
    /// Upper end.
    pub hi: Bound,
}

impl Domain {
    /// Every real number (weights, `lambda`, `scale`).
    pub const REAL: Domain = Domain::new(Bound::Unbounded, Bound::Unbounded);
    /// `[0, 1]`: fractions and probabilities (`density`, `gamma`, `select_topk`), and the
    /// 0/1 of boolean parameters.
    pub const UNIT: Domain = Domain::new(Bound::Closed(0.0), Bound::Closed(1.0));
    /// `[0, ∞)`.
    pub const NON_NEGATIVE: Domain = Domain::new(Bound::Closed(0.0), Bound::Unbounded);
    /// `(0, ∞)`: tolerances and stabilizing epsilons.
    pub const POSITIVE: Domain = Domain::new(Bound::Open(0.0), Bound::Unbounded);
    /// `[1, ∞)`: iteration counts.
    pub const AT_LEAST_ONE: Domain = Domain::new(Bound::Closed(1.0), Bound::Unbounded);

    /// The interval between `lo` and `hi`.
    pub const fn new(lo: Bound, hi: Bound) -> Domain {
        Domain { lo, hi }
    }

    /// Whether `x` lies in the domain (NaN never does).
    pub fn contains(&self, x: f64) -> bool {
        if x.is_nan() {
            return false;
        }
        let above = match self.lo {
            Bound::Unbounded => true,
            Bound::Closed(a) => x >= a,
            Bound::Open(a) => x > a,
        };
        let below = match self.hi {
            Bound::Unbounded => true,
            Bound::Closed(b) => x <= b,
            Bound::Open(b) => x < b,
        };
        above && below
    }

    /// Whether every value of `[lo, hi]` lies in the domain (an interval is convex, so
    /// its two ends decide).
    pub fn contains_interval(&self, lo: f64, hi: f64) -> bool {
        self.contains(lo) && self.contains(hi)
    }

    /// Whether the domain is the whole real line (no constraint worth printing).
    pub fn is_real_line(&self) -> bool {
        *self == Domain::REAL
    }
}

impl fmt::Display for Domain {
    /// Interval notation: `[0, 1]`, `(0, ∞)`, `[1, ∞)`, `(−∞, ∞)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.lo {
            Bound::Unbounded => write!(f, "(−∞")?,
            Bound::Closed(a) => write!(f, "[{a}")?,
            Bound::Open(a) => write!(f, "({a}")?,
        }
        match self.hi {
            Bound::Unbounded => write!(f, ", ∞)"),
            Bound::Closed(b) => write!(f, ", {b}]"),
            Bound::Open(b) => write!(f, ", {b})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_are_closed_or_open_as_declared() {
        assert!(Domain::UNIT.contains(0.0) && Domain::UNIT.contains(1.0));
        assert!(!Domain::UNIT.contains(1.5) && !Domain::UNIT.contains(-1e-9));
        assert!(!Domain::POSITIVE.contains(0.0) && Domain::POSITIVE.contains(1e-300));
        assert!(Domain::REAL.contains(-1e300) && !Domain::REAL.contains(f64::NAN));
        assert!(!Domain::UNIT.contains_interval(0.5, 2.0));
        assert_eq!(Domain::UNIT.to_string(), "[0, 1]");
        assert_eq!(Domain::POSITIVE.to_string(), "(0, ∞)");
        assert_eq!(Domain::AT_LEAST_ONE.to_string(), "[1, ∞)");
    }
}
