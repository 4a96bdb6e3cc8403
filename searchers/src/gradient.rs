//! Gradient searchers: ask the current point, tell the loss and its gradient there.
//!
//! The sibling of the ask/tell [`crate::Searcher`] for objectives with gradients (AdaMerging's
//! merge coefficients): there are no trial tickets, one tell is one update step, and the point
//! is always kept inside the box. The driver owns evaluation, persistence and scheduling; a
//! gradient searcher owns only its update rule and state, which serializes so a study resumes
//! bit for bit.
//!
//! [`Adam`] is projected Adam: the update of Kingma & Ba followed by a clamp into the box, as
//! AdaMerging clamps its coefficients to `[0, 1]` after every optimizer step.
//!
//! ## References
//! - D. P. Kingma, J. Ba, "Adam: A method for stochastic optimization", ICLR 2015,
//!   <https://arxiv.org/abs/1412.6980>, Algorithm 1 (the update and its bias corrections).
//! - PyTorch, `torch.optim.Adam` (`amsgrad=False`, `weight_decay=0`, `maximize=False`):
//!   the defaults of [`AdamOptions`] and the arrangement `√v / √(1 − β₂ᵗ) + ε` of the
//!   denominator.
//! - E. Yang, Z. Wang, L. Shen, S. Liu, G. Guo, X. Wang, D. Tao, "AdaMerging: Adaptive Model
//!   Merging for Multi-Task Learning", ICLR 2024, <https://arxiv.org/abs/2310.02575>: Adam with
//!   lr 1e-3 on the merge coefficients, clamped to `[0, 1]` after each step.

use serde::{Deserialize, Serialize};

use crate::{Bounds, SearchError};

/// A searcher driven by gradients of the objective: ask the current point, tell the loss and
/// its gradient there; one tell = one update step.
pub trait GradientSearcher {
    /// The box the point is kept in (every step ends with a projection onto it).
    fn bounds(&self) -> &Bounds;

    /// Updates applied so far (successful tells).
    fn steps_taken(&self) -> usize;

    /// The current point, always inside [`GradientSearcher::bounds`].
    fn ask(&self) -> Vec<f64>;

    /// One update from `loss` and `grad` (the gradient of the loss at [`GradientSearcher::ask`]'s
    /// point, same length). Errors without changing any state when the length is wrong or the
    /// loss or any gradient entry is not finite.
    fn tell(&mut self, loss: f64, grad: &[f64]) -> Result<(), SearchError>;
}

/// Adam's hyperparameters; the defaults are `torch.optim.Adam`'s (and AdaMerging's lr).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamOptions {
    /// Step size `α` (default 1e-3): the first step moves each coordinate by about `α`.
    pub lr: f64,
    /// Decay `β₁` of the first-moment estimate `m` (default 0.9).
    pub beta1: f64,
    /// Decay `β₂` of the second-moment estimate `v` (default 0.999).
    pub beta2: f64,
    /// `ε` added to `√v̂` in the denominator (default 1e-8).
    pub eps: f64,
}

impl Default for AdamOptions {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl AdamOptions {
    /// Checks `lr > 0`, `0 ≤ β₁, β₂ < 1` and `ε > 0`, all finite; errors name the field.
    pub fn check(&self) -> Result<(), SearchError> {
        let bad = |field: &str, v: f64, want: &str| {
            Err(SearchError::Config(format!("{field}: {v} must be {want}")))
        };
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", self.lr, "a positive number");
        }
        for (field, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(field, b, "in [0, 1)");
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad("eps", self.eps, "a positive number");
        }
        Ok(())
    }
}

/// Projected Adam over a box (Kingma & Ba 2015, Algorithm 1, as `torch.optim.Adam` with
/// default flags), with the point clamped into the box after every step (AdaMerging).
///
/// With gradient `g` at step `t` (1-based):
///
/// ```text
/// m ← β₁ m + (1 − β₁) g          v ← β₂ v + (1 − β₂) g²
/// m̂ = m / (1 − β₁ᵗ)              v̂ = v / (1 − β₂ᵗ)
/// x ← clamp(x − α m̂ / (√v̂ + ε), lo, hi)
/// ```
///
/// The loss is only recorded ([`Adam::last_loss`]); Adam uses the gradient alone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Adam {
    bounds: Bounds,
    options: AdamOptions,
    /// The current point.
    x: Vec<f64>,
    /// First-moment estimate `m`.
    m: Vec<f64>,
    /// Second-moment estimate `v`.
    v: Vec<f64>,
    /// Steps taken, `t`.
    t: usize,
    /// The loss of the last tell.
    last_loss: Option<f64>,
}

impl Adam {
    /// Adam starting at `x0` (which must lie in `bounds`), with `m = v = 0`, `t = 0`.
    pub fn new(bounds: Bounds, x0: Vec<f64>, options: AdamOptions) -> Result<Self, SearchError> {
        options.check()?;
        if !bounds.contains(&x0) {
            return Err(SearchError::Config(format!(
                "x0 must lie inside the {}-dimensional search box, got {x0:?}",
                bounds.dim()
            )));
        }
        let d = x0.len();
        Ok(Self {
            bounds,
            options,
            x: x0,
            m: vec![0.0; d],
            v: vec![0.0; d],
            t: 0,
            last_loss: None,
        })
    }

    /// The hyperparameters.
    pub fn options(&self) -> &AdamOptions {
        &self.options
    }

    /// The loss of the last successful tell (`None` before the first).
    pub fn last_loss(&self) -> Option<f64> {
        self.last_loss
    }
}

impl GradientSearcher for Adam {
    fn bounds(&self) -> &Bounds {
        &self.bounds
    }

    fn steps_taken(&self) -> usize {
        self.t
    }

    fn ask(&self) -> Vec<f64> {
        self.x.clone()
    }

    fn tell(&mut self, loss: f64, grad: &[f64]) -> Result<(), SearchError> {
        if grad.len() != self.x.len() {
            return Err(SearchError::Gradient(format!(
                "expected {} gradient entries, got {}",
                self.x.len(),
                grad.len()
            )));
        }
        if !loss.is_finite() {
            return Err(SearchError::Gradient(format!("loss {loss} is not finite")));
        }
        if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
            return Err(SearchError::Gradient(format!(
                "gradient entry {i} is {}, not finite",
                grad[i]
            )));
        }
        let AdamOptions {
            lr,
            beta1,
            beta2,
            eps,
        } = self.options;
        self.t += 1;
        // Bias corrections of Algorithm 1; torch divides √v by √(1 − β₂ᵗ) and adds ε after,
        // and scales the step by α / (1 − β₁ᵗ).
        let t = i32::try_from(self.t).unwrap_or(i32::MAX);
        let bc1 = 1.0 - beta1.powi(t);
        let bc2_sqrt = (1.0 - beta2.powi(t)).sqrt();
        let step_size = lr / bc1;
        let (lo, hi) = (&self.bounds.lo, &self.bounds.hi);
        for (i, &g) in grad.iter().enumerate() {
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            let denom = v.sqrt() / bc2_sqrt + eps;
            // The projection (AdaMerging's clamp after each step).
            self.x[i] = (self.x[i] - step_size * *m / denom).clamp(lo[i], hi[i]);
        }
        self.last_loss = Some(loss);
        Ok(())
    }
}
